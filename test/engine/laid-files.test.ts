import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { extractArchives } from '../../src/bootstrap/extract';
import { openForWriting } from '../../src/engine/context';
import { installArchives } from '../../src/engine/install';
import { LaidFiles } from '../../src/engine/laid-files';
import { cannotRunDpkg, makeDpkgRoot } from '../dpkg/dpkg-root';
import { buildAdHocDeb } from '../helpers/fixtures';
import { gate } from '../helpers/gate';
import { tempDir, withTempDir } from '../helpers/temp';
import { testTxnOptions } from '../helpers/txn-options';

/**
 * The bootstrap's reuse of its extraction (engine/laid-files.ts), on a real root with dpkg's database and
 * chrootless maintainer scripts: the install of the archives the extraction laid claims the files still
 * as laid (the same inode stays, recorded as the package's; a symlink still as shipped is left alone, one
 * pointed elsewhere since is made again), and an archive whose file was changed since — before the
 * install, or by its own preinst — is staged from the archive after all, so the root ends with the
 * archive's content either way. dpkg --verify is the oracle for what the database records.
 */

const work = tempDir('laid-files', { after });

function options(laid: LaidFiles | undefined) {
  return testTxnOptions({ scripts: { mode: 'chrootless', notice: () => undefined }, laid });
}

test('the install claims what the extraction laid, and stages again what changed since', async (t) => {
  const why = cannotRunDpkg();
  if (gate(t, why === undefined ? {} : { skip: why })) return;
  const debs = {
    kept: await buildAdHocDeb(work, {
      name: 'kept',
      version: '1',
      entries: [
        { path: 'usr/share/kept/a', type: 'file', content: 'as shipped a\n' },
        { path: 'etc/kept.conf', type: 'file', content: 'setting = 1\n' },
        { path: 'usr/share/kept/link', type: 'symlink', target: 'a' },
        { path: 'usr/share/kept/retargeted', type: 'symlink', target: 'a' },
      ],
      conffiles: ['/etc/kept.conf'],
    }),
    touched: await buildAdHocDeb(work, { name: 'touched', version: '1', entries: [{ path: 'usr/share/touched/b', type: 'file', content: 'as shipped b\n' }] }),
    scripted: await buildAdHocDeb(work, {
      name: 'scripted',
      version: '1',
      entries: [{ path: 'usr/share/scripted/c', type: 'file', content: 'as shipped c\n' }],
      // Changes its own laid file before the files are unpacked: the claim made at staging no longer holds.
      controlMembers: { preinst: '#!/bin/sh\nset -e\necho "changed by the preinst" > "$DPKG_ROOT/usr/share/scripted/c"\n' },
    }),
  };
  await withTempDir('root', async (root) => {
    await fsp.chmod(root, 0o755);
    makeDpkgRoot(root);
    const laid = new LaidFiles();
    const all = [debs.kept, debs.touched, debs.scripted];
    const w = await openForWriting({ root, lockWait: 0 });
    try {
      await extractArchives(w, all, options(undefined), laid);
      const inode = async (p: string): Promise<bigint> => (await fsp.lstat(path.join(root, p), { bigint: true })).ino;
      const laidA = await inode('usr/share/kept/a');
      const laidConf = await inode('etc/kept.conf');
      const laidLink = await inode('usr/share/kept/link');
      // Changed after the extraction, before the install: same size and times would not hide it (new inode).
      await fsp.writeFile(path.join(root, 'usr/share/touched/b'), 'changed by someone\n');
      // A claimed package's symlink pointed elsewhere since: its files still hold the claim, the link is made again.
      await fsp.rm(path.join(root, 'usr/share/kept/retargeted'));
      await fsp.symlink('elsewhere', path.join(root, 'usr/share/kept/retargeted'));
      const outcome = await installArchives(w, all, 'installed', options(laid));
      assert.deepEqual(outcome.failures, []);
      assert.equal(await inode('usr/share/kept/a'), laidA, 'the untouched file is claimed where it lies, not replaced');
      assert.equal(await inode('etc/kept.conf'), laidConf, 'the untouched conffile too');
      assert.equal(await inode('usr/share/kept/link'), laidLink, 'the untouched symlink is left where it lies, not made again');
      assert.equal(await fsp.readlink(path.join(root, 'usr/share/kept/retargeted')), 'a', 'a symlink changed since is made again as shipped');
      const placed = outcome.plan.steps.filter((s) => s.kind === 'place-file').map((s) => String(s.path));
      assert.ok(!placed.includes('usr/share/kept/a'), `no step places the claimed file: ${placed.join(' ')}`);
      const read = (p: string): Promise<string> => fsp.readFile(path.join(root, p), 'utf8');
      assert.equal(await read('usr/share/touched/b'), 'as shipped b\n', 'a file changed before the install gets the archive content');
      assert.equal(await read('usr/share/scripted/c'), 'as shipped c\n', "a file the preinst changed gets the archive content");
    } finally {
      w.close();
    }
    const verify = spawnSync('dpkg', ['--root', root, '--verify'], { encoding: 'utf8' });
    assert.equal(verify.status, 0, `dpkg --verify: ${verify.stdout}${verify.stderr}`);
    assert.equal(verify.stdout, '', 'dpkg finds every file as its database records it');
    const status = spawnSync('dpkg-query', ['--admindir', path.join(root, 'var/lib/dpkg'), '-W', '-f', '${Package} ${Status}\n'], { encoding: 'utf8' });
    assert.equal(status.stdout, 'kept install ok installed\nscripted install ok installed\ntouched install ok installed\n');
  });
});

test('without scripts to run first (no dpkg database), the claim is checked as staging makes it: a changed file is staged again', async () => {
  const kept = await buildAdHocDeb(work, { name: 'kept2', version: '1', entries: [{ path: 'usr/share/kept2/a', type: 'file', content: 'as shipped a\n' }] });
  const touched = await buildAdHocDeb(work, { name: 'touched2', version: '1', entries: [{ path: 'usr/share/touched2/b', type: 'file', content: 'as shipped b\n' }] });
  await withTempDir('root', async (root) => {
    await fsp.chmod(root, 0o755);
    const laid = new LaidFiles();
    const w = await openForWriting({ root, lockWait: 0 });
    try {
      assert.equal(w.dpkg, undefined, 'no dpkg database: no scripts run before the files');
      await extractArchives(w, [kept, touched], testTxnOptions(), laid);
      const inode = async (p: string): Promise<bigint> => (await fsp.lstat(path.join(root, p), { bigint: true })).ino;
      const laidA = await inode('usr/share/kept2/a');
      await fsp.writeFile(path.join(root, 'usr/share/touched2/b'), 'changed by someone\n');
      const outcome = await installArchives(w, [kept, touched], 'installed', testTxnOptions({ laid }));
      assert.deepEqual(outcome.failures, []);
      assert.equal(await inode('usr/share/kept2/a'), laidA, 'the untouched file is claimed where it lies');
      assert.equal(await fsp.readFile(path.join(root, 'usr/share/touched2/b'), 'utf8'), 'as shipped b\n', 'the changed file gets the archive content');
    } finally {
      w.close();
    }
  });
});
