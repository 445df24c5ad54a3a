import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { aptConfig, aptGet, baseChroot, cannotDriveApt, OVERMERGE, OVERMERGE_DPKG, run, unpackChroot, writeCapturingDpkg, writeRepo, type Ran } from '../helpers/apt-chroot';
import { buildAdHocDeb, type AdHocPackage } from '../helpers/fixtures';
import { gate } from '../helpers/gate';
import { withOverlay } from '../helpers/mounts';
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
  // apt follows each package's own sequence; the archives of one overmerge-dpkg call are unpacked as one
  // transaction, so their lines interleave where dpkg's come one package after the other.
  const perPackage: Record<string, string[]> = {};
  for (const l of statusLines) (perPackage[/ (om-[a-z]+)/.exec(l)![1]] ??= []).push(l);
  // For the same reason dpkg can record a trigger activated by an archive unpacked earlier in the call on
  // an installed package it is about to upgrade (triggers-pending, then processing: upgrade); overmerge
  // records the activations with its commit, when that package is upgraded already. apt skips that line.
  for (const lines of Object.values(perPackage)) {
    for (let i = lines.length - 2; i >= 0; i--) if (/: triggers-(pending|awaited)$/.test(lines[i]) && lines[i + 1].startsWith('processing: upgrade: ')) lines.splice(i, 1);
  }
  const argv = (await fsp.readFile(side.argv, 'utf8')).split('\n').filter((l) => l !== '' && !/--print-|--assert-/.test(l));
  const scripts = await fsp.readFile(path.join(side.root, SCRIPT_LOG), 'utf8').catch(() => '');
  const marks = await run('apt-mark', ['showauto'], { APT_CONFIG: side.conf });
  return {
    states: states.stdout,
    processing: statusLines.filter((l) => l.startsWith('processing: ')),
    statusFd: perPackage,
    argv: argv.map(rel),
    // Each package's scripts in dpkg's order, and the postinst calls (configure, triggered) in dpkg's
    // order across packages; the unpack-time scripts of one call interleave, as the status lines do.
    scripts: byPackage(scripts.split('\n').filter((l) => l !== '')),
    postinst: scripts.split('\n').filter((l) => / postinst (configure|triggered)/.test(l)),
    auto: marks.stdout,
    tree: await treeDigest(side.root, ['etc', 'usr']),
    info: await infoFiles(side.root),
  };
}

function byPackage(lines: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const l of lines) (out[l.split(' ')[0]] ??= []).push(l);
  return out;
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

/**
 * dpkg --audit, apt-get check (and overmerge verify: of the fixture packages after each step, of every
 * package at the end): all clean.
 */
async function assertClean(side: Side, step: string, whole = false): Promise<void> {
  const audit = await run('dpkg', [`--root=${side.root}`, '--audit']);
  assert.deepEqual([audit.status, audit.stdout, audit.stderr], [0, '', ''], `${side.name}: dpkg --audit after ${step}`);
  ok(await aptGet(side.conf, ['check']), `${side.name}: apt-get check after ${step}`);
  if (side.name === 'overmerge') {
    // The conffile the test changed on purpose is reported, as dpkg --verify reports it; nothing else.
    const installed = await run('dpkg-query', [`--admindir=${side.root}/var/lib/dpkg`, '-W', '-f=${db:Status-Abbrev} ${Package}\n', 'om-*']);
    const names = whole ? [] : installed.stdout.split('\n').filter((l) => /^ii /.test(l)).map((l) => l.slice(4));
    if (!whole && names.length === 0) return;
    const v = await run(OVERMERGE, ['--root', side.root, 'verify', ...names]);
    const problems = v.stdout.split('\n').filter((l) => l !== '' && !/ c \/etc\/om-lib\.conf$/.test(l));
    assert.deepEqual([problems, v.stderr], [[], ''], `overmerge verify after ${step}`);
  }
}

describe('apt drives overmerge-dpkg', { concurrency: false }, () => {
  it('install, upgrade, dist-upgrade, remove, purge, autoremove: same states, files, scripts and status lines as real dpkg', { timeout: 20 * 60_000 }, async (t) => {
    if (gate(t, { skip: cannotDriveApt() })) return;
    const tarball = await baseChroot((line) => t.diagnostic(line));
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
      await assertClean(sides[1], 'the last step', true);
      // Every option apt passed to dpkg was one overmerge-dpkg took (the argv lists are equal per step).
      const argv = await fsp.readFile(sides[1].argv, 'utf8');
      for (const opt of ['--status-fd', '--no-triggers', '--unpack', '--auto-deconfigure', '--configure', '--pending', '--remove', '--purge', '--force-confdef', '--force-confold', '--root=']) {
        assert.ok(argv.includes(opt), `apt passed ${opt} to overmerge-dpkg at some step`);
      }
    });
  });
});

describe('apt drives overmerge-dpkg on an overlay root', { concurrency: false }, () => {
  it("upgrades a package whose directory in the lower layer becomes a file, where dpkg fails with EXDEV", { timeout: 10 * 60_000 }, async (t) => {
    if (gate(t, { skip: cannotDriveApt() })) return;
    if (gate(t, { mount: 'overlay' })) return;
    const tarball = await baseChroot((line) => t.diagnostic(line));
    await withTempDir('apt-overlay', async (work) => {
      const repo = path.join(work, 'repo');
      const debs = path.join(work, 'debs');
      const lower = path.join(work, 'lower');
      for (const d of [repo, debs, lower]) await fsp.mkdir(d);
      const v1 = await buildAdHocDeb(debs, pkg('om-dir', '1.0', { entries: [{ path: 'usr/share/om-dir/x/inner', type: 'file', content: 'inner 1\n' }] }));
      const v2 = await buildAdHocDeb(debs, pkg('om-dir', '2.0', { entries: [{ path: 'usr/share/om-dir/x', type: 'file', content: 'x is a file in 2.0\n' }] }));
      // The lower layer: the chroot with version 1 installed by real apt and dpkg.
      await writeRepo(repo, [v1]);
      await unpackChroot(tarball, lower, repo);
      const lowerConf = path.join(work, 'lower.apt.conf');
      const parts = path.join(work, 'apt.conf.d');
      await fsp.mkdir(parts);
      await fsp.writeFile(lowerConf, aptConfig(lower, '/usr/bin/dpkg', parts));
      ok(await aptGet(lowerConf, ['update']), 'apt-get update (lower)');
      ok(await aptGet(lowerConf, ['install', 'om-dir']), 'apt-get install om-dir (lower)');
      await writeRepo(repo, [v1, v2]);
      for (const who of ['dpkg', 'overmerge'] as const) {
        await withOverlay(
          async ({ merged }) => {
            const conf = path.join(work, `${who}.apt.conf`);
            await fsp.writeFile(conf, aptConfig(merged, who === 'dpkg' ? '/usr/bin/dpkg' : OVERMERGE_DPKG, parts, ['--force-confdef', '--force-confold']));
            ok(await aptGet(conf, ['update']), `${who}: apt-get update`);
            const up = await aptGet(conf, ['upgrade']);
            if (who === 'dpkg') {
              assert.notEqual(up.status, 0, 'real dpkg cannot rename a lower-layer directory aside');
              assert.match(up.stdout + up.stderr, /Invalid cross-device link/);
              return;
            }
            ok(up, 'overmerge-dpkg: apt-get upgrade');
            assert.equal(await fsp.readFile(path.join(merged, 'usr/share/om-dir/x'), 'utf8'), 'x is a file in 2.0\n');
            const side: Side = { name: 'overmerge', root: merged, conf, capture: '', argv: '' };
            await assertClean(side, 'the upgrade on the overlay');
            const state = await run('dpkg-query', [`--admindir=${merged}/var/lib/dpkg`, '-W', '-f=${Version} ${db:Status-Abbrev}', 'om-dir']);
            assert.equal(state.stdout, '2.0 ii ');
          },
          { lowerDir: lower },
        );
      }
    });
  });
});

/** apt-get in a process group of its own, killed with SIGKILL (the whole group) after `ms`. */
function aptGetKilledAfter(conf: string, args: readonly string[], ms: number): Promise<{ killed: boolean; status: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('apt-get', ['-y', '-q', ...args], {
      stdio: 'ignore',
      detached: true,
      env: { ...process.env, APT_CONFIG: conf, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' },
    });
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        killed = false; // it had finished
      }
    }, ms);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      // apt-get can be gone while the rest of its group (overmerge-dpkg, a script) is still being torn
      // down and holds dpkg's lock: recovery starts once the whole group is gone, as after a real crash.
      const until = Date.now() + 30_000;
      const gone = (): void => {
        try {
          process.kill(-child.pid!, 0);
        } catch {
          resolve({ killed, status: code ?? 137 });
          return;
        }
        // Whatever is left after 30 s is the test's to report (the recovery then finds it).
        if (Date.now() > until) resolve({ killed, status: code ?? 137 });
        else setTimeout(gone, 20);
      };
      gone();
    });
  });
}

/** How many times the kill test kills apt: 10 on CI, 3 elsewhere (OVERMERGE_APT_KILLS overrides). */
function killCount(): number {
  const n = Number(process.env.OVERMERGE_APT_KILLS ?? (process.env.CI ? 10 : 3));
  return Number.isInteger(n) && n > 0 ? n : 3;
}

describe('apt killed while it drives overmerge-dpkg', { concurrency: false }, () => {
  it('after kill -9 of the whole apt process group during an upgrade: overmerge recover and apt-get -f install leave dpkg --audit and apt-get check clean', { timeout: 20 * 60_000 }, async (t) => {
    if (gate(t, { skip: cannotDriveApt() })) return;
    if (gate(t, { mount: 'overlay' })) return;
    const tarball = await baseChroot((line) => t.diagnostic(line));
    await withTempDir('apt-kill', async (work) => {
      const repo = path.join(work, 'repo');
      const debs = path.join(work, 'debs');
      const lower = path.join(work, 'lower');
      const parts = path.join(work, 'apt.conf.d');
      for (const d of [repo, debs, lower, parts]) await fsp.mkdir(d);
      const v1 = await Promise.all(V1.map((p) => buildAdHocDeb(debs, p)));
      const v2 = await Promise.all(V2.map((p) => buildAdHocDeb(debs, p)));
      // Each kill starts from the same root: the chroot with the first versions installed through
      // overmerge-dpkg, as the lower layer of a fresh overlay.
      await writeRepo(repo, v1);
      await unpackChroot(tarball, lower, repo);
      const lowerConf = path.join(work, 'lower.apt.conf');
      await fsp.writeFile(lowerConf, aptConfig(lower, OVERMERGE_DPKG, parts, ['--force-confdef', '--force-confold']));
      ok(await aptGet(lowerConf, ['update']), 'apt-get update (lower)');
      ok(await aptGet(lowerConf, ['install', 'om-app', 'om-trig', 'om-extra', 'om-old']), 'apt-get install (lower)');
      await writeRepo(repo, [...v1, ...v2]);
      ok(await aptGet(lowerConf, ['update']), 'apt-get update to the second versions (lower)');
      // How long a whole upgrade takes here: the kills fall anywhere inside it.
      let whole = 0;
      let expected = '';
      const statesOf = async (root: string): Promise<string> => (await run('dpkg-query', [`--admindir=${root}/var/lib/dpkg`, '-W', '-f=${Package} ${Version} ${db:Status-Abbrev}\n', 'om-*'])).stdout;
      await withOverlay(
        async ({ merged }) => {
          const conf = path.join(work, 'timing.apt.conf');
          await fsp.writeFile(conf, aptConfig(merged, OVERMERGE_DPKG, parts, ['--force-confdef', '--force-confold']));
          const started = Date.now();
          ok(await aptGet(conf, ['dist-upgrade']), 'an uninterrupted dist-upgrade');
          whole = Date.now() - started;
          expected = await statesOf(merged);
        },
        { lowerDir: lower },
      );
      let killedInside = 0;
      for (let i = 0; i < killCount(); i++) {
        // Spread over the run, with a random part so that CI runs fall in different places.
        const at = Math.round(((i + Math.random()) / killCount()) * whole);
        await withOverlay(
          async ({ merged }) => {
            const conf = path.join(work, `kill-${i}.apt.conf`);
            const side: Side = { name: 'overmerge', root: merged, conf, capture: '', argv: '' };
            await fsp.writeFile(conf, aptConfig(merged, OVERMERGE_DPKG, parts, ['--force-confdef', '--force-confold']));
            const r = await aptGetKilledAfter(conf, ['dist-upgrade'], at);
            if (r.killed) killedInside++;
            ok(await run(OVERMERGE, ['--root', merged, 'recover']), `overmerge recover after a kill at ${at} ms`);
            ok(await aptGet(conf, ['-f', 'install']), `apt-get -f install after a kill at ${at} ms`);
            ok(await aptGet(conf, ['dist-upgrade']), `apt-get dist-upgrade after a kill at ${at} ms`);
            await assertClean(side, `a kill at ${at} ms, recover and apt-get -f install`);
            assert.equal(await statesOf(merged), expected, `the packages' states after a kill at ${at} ms, recovery and the upgrade, as without the kill`);
          },
          { lowerDir: lower },
        );
      }
      assert.ok(killedInside > 0, 'at least one kill fell inside an upgrade');
    });
  });
});
