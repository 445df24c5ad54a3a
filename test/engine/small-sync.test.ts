import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { buildDeb } from '../../src/archive/build';
import { makeDpkgRoot } from '../dpkg/dpkg-root';
import { gate } from '../helpers/gate';
import { BIN } from '../helpers/run-cli';
import { withTempDir } from '../helpers/temp';

/**
 * How a transaction is made durable before its commit record (engine/transaction.ts), seen in the
 * system calls of the real bin (strace): a one-file install and its removal fsync the file and every
 * folder whose entries they changed, and make no syncfs, which would wait for every dirty page of the
 * filesystem; a transaction touching more paths than the sync batch's threshold syncs the filesystem.
 */
const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' });
const noStrace = strace.status === 0 ? undefined : 'strace is not installed (apt-get install strace)';

/** The paths given to fsync and the number of syncfs calls of `argv`, run on `root`. */
function syncsOf(dir: string, root: string, argv: string[]): { fsynced: Set<string>; syncfs: number } {
  const log = path.join(dir, 'strace.log');
  const r = spawnSync('strace', ['-f', '-y', '-qq', '-e', 'trace=fsync,fdatasync,syncfs', '-o', log, BIN, '--root', root, '--quiet', ...argv], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = fs.readFileSync(log, 'utf8').split('\n');
  const fsynced = new Set(lines.flatMap((l) => /f(?:data)?sync\(\d+<([^>]*)>\)/.exec(l)?.[1] ?? []));
  return { fsynced, syncfs: lines.filter((l) => /\bsyncfs\(/.test(l)).length };
}

async function packageOf(dir: string, name: string, files: number, scripts: Record<string, string> = {}): Promise<string> {
  const tree = path.join(dir, `${name}-tree`);
  fs.mkdirSync(path.join(tree, 'DEBIAN'), { recursive: true });
  fs.mkdirSync(path.join(tree, 'usr', 'share', name), { recursive: true });
  fs.writeFileSync(path.join(tree, 'DEBIAN', 'control'), `Package: ${name}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@localhost>\nDescription: ${files} files\n`);
  for (const [script, body] of Object.entries(scripts)) fs.writeFileSync(path.join(tree, 'DEBIAN', script), body, { mode: 0o755 });
  for (let i = 0; i < files; i++) fs.writeFileSync(path.join(tree, 'usr', 'share', name, `f${i}`), `${i}\n`);
  return (await buildDeb(tree, path.join(dir, `${name}.deb`), { compression: 'gzip', sourceDateEpoch: 0 })).path;
}

describe('syncs before the commit record', () => {
  it('a one-file install and remove fsync what they touched and make no syncfs', async (t: TestContext) => {
    if (gate(t, { skip: noStrace })) return;
    await withTempDir('small-sync', async (dir) => {
      const deb = await packageOf(dir, 'tiny', 1);
      const root = path.join(dir, 'root');
      fs.mkdirSync(root);
      const install = syncsOf(dir, root, ['install', deb]);
      assert.equal(install.syncfs, 0);
      for (const p of ['usr/share/tiny/f0', 'usr/share/tiny', 'usr/share', 'usr', '', 'var/lib/overmerge', 'var/lib', 'var']) {
        assert.ok(install.fsynced.has(path.join(root, p)), `${p || 'the root'} fsynced (${[...install.fsynced].join(', ')})`);
      }
      const remove = syncsOf(dir, root, ['remove', 'tiny']);
      assert.equal(remove.syncfs, 0);
      // The file moved aside in its folder before the commit; the emptied folders go at finish.
      assert.ok(remove.fsynced.has(path.join(root, 'usr/share/tiny')), `usr/share/tiny fsynced (${[...remove.fsynced].join(', ')})`);
      assert.ok(!fs.existsSync(path.join(root, 'usr/share/tiny')));
    });
  });

  it('with dpkg\'s database, its update entries and info files are fsynced too (their syncs joined the transaction\'s)', async (t: TestContext) => {
    if (gate(t, { skip: noStrace })) return;
    await withTempDir('small-sync', async (dir) => {
      const deb = await packageOf(dir, 'tiny', 1);
      const { root, admin } = makeDpkgRoot(path.join(dir, 'root'));
      const install = syncsOf(dir, root, ['install', deb]);
      const seen = [...install.fsynced].join(', ');
      for (const p of [path.join(admin, 'info', 'tiny.list'), path.join(admin, 'info', 'tiny.md5sums'), path.join(admin, 'info'), path.join(admin, 'updates')]) {
        assert.ok(install.fsynced.has(p), `${path.relative(root, p)} fsynced (${seen})`);
      }
      for (const p of ['usr/share/tiny/f0', 'usr/share/tiny', 'usr/share', 'usr', '']) {
        assert.ok(install.fsynced.has(path.join(root, p)), `${p || 'the root'} fsynced (${seen})`);
      }
      // Each state the install wrote was an update entry, fsynced under its final name before it was folded into status.
      assert.ok([...install.fsynced].some((p) => /\/updates\/\d+$/.test(p)), `an update entry fsynced (${seen})`);
      // The preinst and postrm calls found no script: nothing written that the batch does not know of.
      assert.equal(install.syncfs, 0);
      assert.match(fs.readFileSync(path.join(admin, 'status'), 'utf8'), /^Package: tiny\nStatus: install ok installed$/m);
      const remove = syncsOf(dir, root, ['remove', 'tiny']);
      assert.equal(remove.syncfs, 0);
      assert.ok(remove.fsynced.has(path.join(root, 'usr/share/tiny')), `usr/share/tiny fsynced (${[...remove.fsynced].join(', ')})`);
    });
  });

  it('a maintainer script that ran before the commit makes the batch sync the root\'s filesystem', async (t: TestContext) => {
    if (gate(t, { skip: noStrace })) return;
    await withTempDir('small-sync', async (dir) => {
      // It writes a file no step knows of: only a syncfs makes that durable before the commit record.
      const deb = await packageOf(dir, 'scripted', 1, { preinst: '#!/bin/sh\necho x > "$DPKG_ROOT/var/lib/preinst-ran"\n' });
      const { root } = makeDpkgRoot(path.join(dir, 'root'));
      const install = syncsOf(dir, root, ['--scripts', 'chrootless', 'install', deb]);
      assert.ok(fs.existsSync(path.join(root, 'var/lib/preinst-ran')), 'the preinst ran');
      assert.equal(install.syncfs, 1);
    });
  });

  it('a transaction past the sync batch threshold syncs the filesystem', async (t: TestContext) => {
    if (gate(t, { skip: noStrace })) return;
    await withTempDir('small-sync', async (dir) => {
      const deb = await packageOf(dir, 'many', 200);
      const root = path.join(dir, 'root');
      fs.mkdirSync(root);
      const install = syncsOf(dir, root, ['install', deb]);
      assert.ok(install.syncfs >= 1, 'a syncfs');
      assert.ok(!install.fsynced.has(path.join(root, 'usr/share/many/f0')), 'no fsync per file');
    });
  });
});
