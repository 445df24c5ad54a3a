import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { aptConfig, aptGet, baseChroot, cannotDriveApt, OVERMERGE_DPKG, unpackChroot, writeCapturingDpkg, writeRepo, type Ran } from '../helpers/apt-chroot';
import { buildAdHocDeb, type AdHocPackage } from '../helpers/fixtures';
import { gate } from '../helpers/gate';
import { withTempDir } from '../helpers/temp';

/**
 * Real apt upgrades a package whose conffile the administrator changed, with no conffile force, through
 * real dpkg and through overmerge-dpkg on twin roots; apt's stdin is a pipe holding "y": dpkg reads its
 * answer from there (Dpkg::Use-Pty false: dpkg gets apt's stdin). Both must ask (the --status-fd
 * conffile-prompt line apt reads, the prompt on stderr), take the answer, and leave the same files and
 * states.
 */

const pkg = (version: string, conf: string): AdHocPackage => ({
  name: 'om-cf',
  version,
  entries: [{ path: 'etc/om-cf.conf', type: 'file', content: conf }],
  conffiles: ['/etc/om-cf.conf'],
  fields: { Architecture: 'all' },
});

/** apt-get with `input` on its stdin (aptGet gives it none). */
function aptGetWithInput(conf: string, args: readonly string[], input: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const PATH = `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`;
    const child = spawn('apt-get', ['-y', '-q', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', PATH, APT_CONFIG: conf } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? 128, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('apt and the conffile prompt', { concurrency: false }, () => {
  it('apt-get install of a new version asks about the locally changed conffile through overmerge-dpkg as through dpkg, and takes the answer', { timeout: 15 * 60_000 }, async (t) => {
    if (gate(t, { skip: cannotDriveApt() })) return;
    const tarball = await baseChroot((line) => t.diagnostic(line));
    await withTempDir('apt-conffile', async (work) => {
      const repo = path.join(work, 'repo');
      const debs = path.join(work, 'debs');
      await fsp.mkdir(repo);
      await fsp.mkdir(debs);
      const v1 = await buildAdHocDeb(debs, pkg('1.0', 'cf=1\n'));
      const v2 = await buildAdHocDeb(debs, pkg('2.0', 'cf=2\n'));
      const seen: Record<string, unknown>[] = [];
      for (const who of ['dpkg', 'overmerge'] as const) {
        await writeRepo(repo, [v1]);
        const root = path.join(work, `${who}-root`);
        await fsp.mkdir(root);
        await unpackChroot(tarball, root, repo);
        const capture = path.join(work, `${who}.status`);
        const wrapper = path.join(work, `${who}-dpkg`);
        await writeCapturingDpkg(wrapper, who === 'dpkg' ? '/usr/bin/dpkg' : OVERMERGE_DPKG, capture, path.join(work, `${who}.argv`));
        const parts = path.join(work, `${who}.apt.conf.d`);
        await fsp.mkdir(parts);
        const conf = path.join(work, `${who}.apt.conf`);
        await fsp.writeFile(conf, aptConfig(root, wrapper, parts));
        for (const args of [['update'], ['install', 'om-cf']]) {
          const r = await aptGet(conf, args);
          assert.equal(r.status, 0, `${who}: apt-get ${args.join(' ')}\n${r.stdout}${r.stderr}`);
        }
        await fsp.writeFile(path.join(root, 'etc/om-cf.conf'), 'cf=local\n');
        await writeRepo(repo, [v1, v2]);
        assert.equal((await aptGet(conf, ['update'])).status, 0);
        await fsp.writeFile(capture, '');
        const r = await aptGetWithInput(conf, ['install', 'om-cf'], 'y\n');
        assert.equal(r.status, 0, `${who}: apt-get install om-cf (upgrade)\n${r.stdout}${r.stderr}`);
        const rel = (s: string): string => s.split(root).join('ROOT');
        const prompt = r.stderr.match(/\nConfiguration file [^\n]*\n(?:[^\n]*\n)*?[^\n]*\[default=N\] \? /)?.[0] ?? '';
        const lines = (await fsp.readFile(capture, 'utf8')).split('\n').filter((l) => l.includes(': conffile-prompt :')).map(rel);
        const etc = Object.fromEntries(
          (await fsp.readdir(path.join(root, 'etc'))).filter((n) => n.startsWith('om-cf.conf')).sort().map((n) => [n, '']),
        );
        for (const n of Object.keys(etc)) etc[n] = await fsp.readFile(path.join(root, 'etc', n), 'utf8');
        seen.push({ prompt: rel(prompt), lines, etc, state: await packageState(root) });
      }
      assert.deepEqual(seen[1], seen[0]);
      assert.deepEqual(seen[1].lines, ["status: /etc/om-cf.conf : conffile-prompt : 'ROOT/etc/om-cf.conf' 'ROOT/etc/om-cf.conf.dpkg-new' 1 1 "]);
      assert.deepEqual(seen[1].etc, { 'om-cf.conf': 'cf=2\n', 'om-cf.conf.dpkg-old': 'cf=local\n' });
      assert.match(String(seen[1].prompt), /^\nConfiguration file '\/etc\/om-cf\.conf' \(actually 'ROOT\/etc\/om-cf\.conf'\)\n/);
    });
  });
});

/** dpkg's record of the package: version, status, conffiles and their hashes. */
function packageState(root: string): Promise<string> {
  return new Promise((resolve) =>
    execFile('dpkg-query', [`--admindir=${root}/var/lib/dpkg`, '-W', '-f=${Package} ${Version} ${Status}\n${Conffiles}\n', 'om-cf'], (_e, stdout) => resolve(stdout)),
  );
}
