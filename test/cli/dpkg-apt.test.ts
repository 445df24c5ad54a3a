import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { aptConfig, aptGet, baseChroot, cannotDriveApt, OVERMERGE, OVERMERGE_DPKG, run, unpackChroot, writeCapturingDpkg, writeRepo, type Ran } from '../helpers/apt-chroot';
import { buildAdHocDeb, type AdHocPackage } from '../helpers/fixtures';
import { gate } from '../helpers/gate';
import { withTempDir } from '../helpers/temp';

/**
 * Real apt drives overmerge through overmerge-dpkg (Dir::Bin::dpkg), and drives real dpkg on a twin root
 * through the same steps: install, upgrade, dist-upgrade, remove, purge, autoremove, with fixture packages
 * in two versions that have maintainer scripts, a conffile changed locally, a trigger, dependencies, a
 * conflict. After every step both roots must pass `dpkg --audit` and `apt-get check` (and `overmerge
 * verify` the overmerge one), and agree on: the arguments apt passed to dpkg, the --status-fd lines about
 * the fixture packages, the maintainer-script calls, the packages' states, and the files of etc/ and usr/.
 */

const SCRIPT_LOG = 'var/log/om-scripts.log';

function logging(name: string, version: string): Record<string, string> {
  const script = (which: string): string => `#!/bin/sh\necho "${name} ${version} ${which} $*" >> "$DPKG_ROOT/${SCRIPT_LOG}"\n`;
  return { preinst: script('preinst'), postinst: script('postinst'), prerm: script('prerm'), postrm: script('postrm') };
}

function pkg(name: string, version: string, more: Partial<AdHocPackage> = {}): AdHocPackage {
  return {
    name,
    version,
    entries: [{ path: `usr/share/${name}/data`, type: 'file', content: `${name} ${version}\n` }, ...(more.entries ?? [])],
    conffiles: more.conffiles,
    fields: more.fields,
    controlMembers: { ...logging(name, version), ...more.controlMembers },
  };
}

const V1: AdHocPackage[] = [
  pkg('om-lib', '1.0', { entries: [{ path: 'etc/om-lib.conf', type: 'file', content: 'lib=1\n' }], conffiles: ['/etc/om-lib.conf'] }),
  pkg('om-app', '1.0', { fields: { Depends: 'om-lib' } }),
  pkg('om-trig', '1.0', { entries: [{ path: 'usr/share/om-trig/README', type: 'file', content: 'trig 1\n' }], controlMembers: { triggers: 'interest /usr/share/om-trig\n' } }),
  pkg('om-extra', '1.0', { entries: [{ path: 'usr/share/om-trig/extra.txt', type: 'file', content: 'extra 1\n' }] }),
  pkg('om-old', '1.0'),
];

const V2: AdHocPackage[] = [
  pkg('om-lib', '2.0', { entries: [{ path: 'etc/om-lib.conf', type: 'file', content: 'lib=2\n' }], conffiles: ['/etc/om-lib.conf'] }),
  pkg('om-app', '2.0', { fields: { Depends: 'om-lib (>= 2.0), om-new' } }),
  pkg('om-new', '2.0', { fields: { Conflicts: 'om-old' } }),
  pkg('om-trig', '2.0', { entries: [{ path: 'usr/share/om-trig/README', type: 'file', content: 'trig 2\n' }], controlMembers: { triggers: 'interest /usr/share/om-trig\n' } }),
  pkg('om-extra', '2.0', { entries: [{ path: 'usr/share/om-trig/extra.txt', type: 'file', content: 'extra 2\n' }] }),
];

/** One root apt works on, with its dpkg (real or overmerge's) behind a capturing wrapper. */
interface Side {
  readonly name: 'dpkg' | 'overmerge';
  readonly root: string;
  readonly conf: string;
  readonly capture: string;
  readonly argv: string;
}

async function makeSide(work: string, name: Side['name'], tarball: string, repo: string): Promise<Side> {
  const root = path.join(work, `${name}-root`);
  await fsp.mkdir(root);
  await unpackChroot(tarball, root, repo);
  const capture = path.join(work, `${name}.status`);
  const argv = path.join(work, `${name}.argv`);
  const wrapper = path.join(work, `${name}-dpkg`);
  await writeCapturingDpkg(wrapper, name === 'dpkg' ? '/usr/bin/dpkg' : OVERMERGE_DPKG, capture, argv);
  const conf = path.join(work, `${name}.apt.conf`);
  // dpkg would prompt about the changed conffile (on no terminal it fails): apt's usual answer, given to both.
  const parts = path.join(work, `${name}.apt.conf.d`);
  await fsp.mkdir(parts);
  await fsp.writeFile(conf, aptConfig(root, wrapper, parts, ['--force-confdef', '--force-confold']));
  await fsp.writeFile(capture, '');
  await fsp.writeFile(argv, '');
  return { name, root, conf, capture, argv };
}

function ok(r: Ran, what: string): void {
  assert.equal(r.status, 0, `${what} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}

/** What must be the same on both sides after a step, the root's own path written as ROOT. */
async function observe(side: Side): Promise<Record<string, unknown>> {
  const rel = (s: string): string => s.split(side.root).join('ROOT');
  const states = await run('dpkg-query', [`--admindir=${side.root}/var/lib/dpkg`, '-W', '-f=${Package} ${Version} ${db:Status-Abbrev} ${Status}\n${Conffiles}\n', 'om-*']);
  const statusLines = (await fsp.readFile(side.capture, 'utf8')).split('\n').filter((l) => / om-[a-z]+/.test(l));
  const argv = (await fsp.readFile(side.argv, 'utf8')).split('\n').filter((l) => l !== '' && !/--print-|--assert-/.test(l));
  const scripts = await fsp.readFile(path.join(side.root, SCRIPT_LOG), 'utf8').catch(() => '');
  const marks = await run('apt-mark', ['showauto'], { APT_CONFIG: side.conf });
  return {
    states: states.stdout,
    statusFd: statusLines,
    argv: argv.map(rel),
    scripts: scripts.split('\n'),
    auto: marks.stdout,
    tree: await treeDigest(side.root, ['etc', 'usr']),
    info: await infoFiles(side.root),
  };
}

/** Path → type and content digest of every entry under `dirs` (apt's and debconf's caches left out). */
async function treeDigest(root: string, dirs: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    const abs = path.join(root, rel);
    const st = await fsp.lstat(abs);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) {
      out[rel] = `dir ${mode}`;
      for (const n of (await fsp.readdir(abs)).sort()) await walk(path.join(rel, n));
    } else if (st.isSymbolicLink()) out[rel] = `link ${await fsp.readlink(abs)}`;
    else if (st.isFile()) out[rel] = `file ${mode} ${createHash('sha256').update(await fsp.readFile(abs)).digest('hex')}`;
    else out[rel] = `special ${mode}`;
  };
  for (const d of dirs) await walk(d);
  return out;
}

/** The fixture packages' files in dpkg's info/ folder, by name; `.list` as a set. */
async function infoFiles(root: string): Promise<Record<string, string>> {
  const info = path.join(root, 'var/lib/dpkg/info');
  const out: Record<string, string> = {};
  for (const n of (await fsp.readdir(info)).filter((n) => n.startsWith('om-')).sort()) {
    const text = await fsp.readFile(path.join(info, n), 'utf8');
    out[n] = n.endsWith('.list') ? text.split('\n').sort().join('\n') : text;
  }
  return out;
}

/** dpkg --audit, apt-get check (and overmerge verify): all clean. */
async function assertClean(side: Side, step: string): Promise<void> {
  const audit = await run('dpkg', [`--root=${side.root}`, '--audit']);
  assert.deepEqual([audit.status, audit.stdout, audit.stderr], [0, '', ''], `${side.name}: dpkg --audit after ${step}`);
  ok(await aptGet(side.conf, ['check']), `${side.name}: apt-get check after ${step}`);
  if (side.name === 'overmerge') ok(await run(OVERMERGE, ['--root', side.root, 'verify']), `overmerge verify after ${step}`);
}

describe('apt drives overmerge-dpkg', { concurrency: false }, () => {
  it('install, upgrade, dist-upgrade, remove, purge, autoremove: same states, files, scripts and status lines as real dpkg', { timeout: 20 * 60_000 }, async (t) => {
    if (gate(t, { skip: cannotDriveApt() })) return;
    const tarball = await baseChroot();
    await withTempDir('apt', async (work) => {
      const repo = path.join(work, 'repo');
      const debs = path.join(work, 'debs');
      await fsp.mkdir(repo);
      await fsp.mkdir(debs);
      const v1 = await Promise.all(V1.map((p) => buildAdHocDeb(debs, p)));
      const v2 = await Promise.all(V2.map((p) => buildAdHocDeb(debs, p)));
      await writeRepo(repo, v1);
      const sides = [await makeSide(work, 'dpkg', tarball, repo), await makeSide(work, 'overmerge', tarball, repo)];
      const step = async (name: string, args: string[], before?: (s: Side) => Promise<void>): Promise<void> => {
        const seen: Array<Record<string, unknown>> = [];
        for (const s of sides) {
          await before?.(s);
          ok(await aptGet(s.conf, args), `${s.name}: apt-get ${args.join(' ')}`);
          await assertClean(s, name);
          seen.push(await observe(s));
        }
        for (const key of Object.keys(seen[0])) assert.deepEqual(seen[1][key], seen[0][key], `after ${name}: ${key} differs between overmerge-dpkg (actual) and dpkg (expected)`);
      };
      await step('update', ['update']);
      await step('install', ['install', 'om-app', 'om-trig', 'om-extra', 'om-old']);
      await writeRepo(repo, [...v1, ...v2]);
      await step('update to the second versions', ['update'], async (s) => fsp.writeFile(path.join(s.root, 'etc/om-lib.conf'), 'lib=local\n'));
      await step('upgrade', ['upgrade']);
      await step('dist-upgrade', ['dist-upgrade']);
      await step('remove', ['remove', 'om-extra']);
      await step('purge', ['purge', 'om-trig']);
      await step('remove what pulled in dependencies', ['remove', 'om-app']);
      await step('autoremove', ['autoremove']);
      await step('purge what autoremove left', ['purge', 'om-lib', 'om-new']);
      // Every option apt passed to dpkg was one overmerge-dpkg took (the argv lists are equal per step).
      const argv = await fsp.readFile(sides[1].argv, 'utf8');
      for (const opt of ['--status-fd', '--no-triggers', '--unpack', '--auto-deconfigure', '--configure', '--pending', '--remove', '--purge', '--force-confdef', '--force-confold', '--root=']) {
        assert.ok(argv.includes(opt), `apt passed ${opt} to overmerge-dpkg at some step`);
      }
    });
  });
});
