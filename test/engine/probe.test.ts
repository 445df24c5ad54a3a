import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Paragraph } from '../../src/control/paragraph';
import { openDatabase } from '../../src/db/open';
import { NO_CONFFILE_FORCES } from '../../src/engine/plan-model';
import { gatherPlanInput } from '../../src/engine/phases/probe';
import { Probe } from '../../src/engine/probe';
import { openRoot, type RootPath } from '../../src/fs/rootpath';
import type { ManifestEntry } from '../../src/model/entry';
import type { StagedPackage } from '../../src/model/staged-package';
import { Manifest } from '../../src/model/manifest';
import { withTempDir } from '../helpers/temp';

const rp = (s: string) => s as RootPath;

function staged(entries: Array<[string, ManifestEntry['type']]>): StagedPackage {
  return {
    archive: 'x.deb',
    name: 'x',
    version: '1',
    architecture: 'all',
    control: new Paragraph(),
    controlText: '',
    controlFiles: new Map(),
    conffiles: [],
    bytes: 0,
    entries: Manifest.of(entries.map(([p, type]) => ({ path: rp(p), type, mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 0, conffile: false }))),
  };
}

async function withRoot(fn: (root: string, probe: Probe) => Promise<void>): Promise<void> {
  await withTempDir('probe', async (dir) => {
    const db = openDatabase(path.join(dir, 'db.sqlite'));
    try {
      await fsp.mkdir(path.join(dir, 'root'));
      const root = path.join(dir, 'root');
      await fn(root, new Probe(await openRoot(root), db));
    } finally {
      db.close();
    }
  });
}

describe('Probe.resolveAll', () => {
  it('follows a directory symlink the root has, the way dpkg does (merged /usr)', () =>
    withRoot(async (root, probe) => {
      await fsp.mkdir(path.join(root, 'usr/lib'), { recursive: true });
      await fsp.symlink('usr/lib', path.join(root, 'lib'));
      const r = await probe.resolveAll(staged([['lib', 'directory'], ['lib/x', 'file'], ['lib/d', 'directory'], ['lib/d/y', 'file']]));
      assert.equal(r.get(rp('lib')), undefined, 'the symlink itself lands where it is: no entry');
      assert.equal(r.get(rp('lib/x')), 'usr/lib/x');
      assert.equal(r.get(rp('lib/d/y')), 'usr/lib/d/y');
    }));

  it('keeps an absolute symlink inside the root instead of following it to the host', () =>
    withRoot(async (root, probe) => {
      await fsp.mkdir(path.join(root, 'usr/lib'), { recursive: true });
      await fsp.symlink('/usr/lib', path.join(root, 'lib'));
      const r = await probe.resolveAll(staged([['lib/x', 'file']]));
      assert.equal(r.get(rp('lib/x')), 'usr/lib/x');
    }));

  it('places the children of a directory the package ships where a file stands now (file -> directory)', () =>
    withRoot(async (root, probe) => {
      await fsp.mkdir(path.join(root, 'usr/share/bug'), { recursive: true });
      await fsp.writeFile(path.join(root, 'usr/share/bug/hello'), 'was a file');
      const r = await probe.resolveAll(staged([['usr/share/bug/hello', 'directory'], ['usr/share/bug/hello/control', 'file']]));
      assert.equal(r.get(rp('usr/share/bug/hello/control')), undefined, 'lands where it is shipped: no entry');
      assert.equal(r.size, 0);
    }));

  it('refuses a member beneath a file the package does not turn into a directory', () =>
    withRoot(async (root, probe) => {
      await fsp.writeFile(path.join(root, 'etc'), 'a file');
      await assert.rejects(probe.resolveAll(staged([['etc/x', 'file']])), /not a directory/);
    }));
});

describe('Probe.look', () => {
  it('reads a path beneath a folder found absent as absent, keeping no entry for it (a fresh install of a huge folder)', () =>
    withRoot(async (root, probe) => {
      await fsp.mkdir(path.join(root, 'usr'));
      assert.equal((await probe.look(rp('usr'))).type, 'directory');
      assert.equal((await probe.look(rp('usr/share'))).type, 'absent');
      for (const p of ['usr/share/many', 'usr/share/many/000001', 'usr/share/many/sub/000002']) {
        assert.equal((await probe.look(rp(p))).type, 'absent', p);
        assert.equal(probe.disk.has(rp(p)), false, `${p}: no entry`);
      }
      assert.equal(probe.disk.get(rp('usr'))?.type, 'directory');
      // A folder that exists is looked at as before, and what is in it too.
      await fsp.writeFile(path.join(root, 'usr/x'), '');
      assert.equal((await probe.look(rp('usr/x'))).type, 'file');
      assert.equal(probe.disk.get(rp('usr/x'))?.type, 'file');
    }));

  it('reads a recorded path as absent once a folder on its way became a symlink (never acts through it)', () =>
    withRoot(async (root, probe) => {
      await withTempDir('canary', async (outside) => {
        await fsp.writeFile(path.join(outside, 'copyright'), 'precious');
        await fsp.mkdir(path.join(root, 'usr/share/doc'), { recursive: true });
        await fsp.symlink(outside, path.join(root, 'usr/share/doc/hello'));
        assert.equal((await probe.look(rp('usr/share/doc/hello/copyright'))).type, 'absent');
        assert.equal((await probe.look(rp('usr/share/doc/hello'))).type, 'symlink');
      });
    }));

  it('judges each folder on the way once, from the one above it: a link anywhere above, a file in the way, folders not there yet', () =>
    withRoot(async (root, probe) => {
      await withTempDir('canary', async (outside) => {
        await fsp.mkdir(path.join(outside, 'deep/er'), { recursive: true });
        await fsp.writeFile(path.join(outside, 'deep/er/f'), 'precious');
        await fsp.mkdir(path.join(root, 'usr/lib'), { recursive: true });
        await fsp.writeFile(path.join(root, 'usr/lib/real'), 'x');
        await fsp.writeFile(path.join(root, 'usr/lib/file'), 'x');
        await fsp.symlink(outside, path.join(root, 'usr/link'));
        // Looked at first through the real folders, so those are known real before the link's path is asked.
        assert.equal((await probe.look(rp('usr/lib/real'))).type, 'file');
        assert.equal((await probe.look(rp('usr/link/deep/er/f'))).type, 'absent', 'a link two folders up');
        assert.equal((await probe.look(rp('usr/link/deep/er'))).type, 'absent');
        assert.equal((await probe.look(rp('usr/lib/file/x/y'))).type, 'absent', 'a file in the way');
        assert.equal((await probe.look(rp('usr/new/a/b'))).type, 'absent', 'folders not there yet');
        assert.equal((await probe.look(rp('usr/lib'))).type, 'directory');
        // A fresh probe (after scripts ran) sees the folder that replaced the link as real.
        await fsp.unlink(path.join(root, 'usr/link'));
        await fsp.mkdir(path.join(root, 'usr/link/deep/er'), { recursive: true });
        await fsp.writeFile(path.join(root, 'usr/link/deep/er/f'), 'ours');
        probe.forget();
        assert.equal((await probe.look(rp('usr/link/deep/er/f'))).type, 'file');
      });
    }));
});

describe('gatherPlanInput', () => {
  it("lists an installed directory only where it may go, and keeps no owners of the transaction's own package", () =>
    withTempDir('probe-gather', async (dir) => {
      const db = openDatabase(path.join(dir, 'db.sqlite'));
      try {
        const root = path.join(dir, 'root');
        for (const p of ['usr/share/keep', 'usr/share/gone']) await fsp.mkdir(path.join(root, p), { recursive: true });
        for (const p of ['usr/share/keep/f1', 'usr/share/keep/f2', 'usr/share/gone/g1']) await fsp.writeFile(path.join(root, p), '');
        const row = (p: string, type: 'file' | 'directory') => ({ path: p, type, mode: type === 'file' ? 0o644 : 0o755, uid: 0, gid: 0 });
        const x = db.packages.upsert({ name: 'x', architecture: 'all', version: '1', status: 'installed', control: 'Package: x\n' }, null);
        db.files.insertFiles(x, [
          row('usr', 'directory'),
          row('usr/share', 'directory'),
          row('usr/share/keep', 'directory'),
          row('usr/share/keep/f1', 'file'),
          row('usr/share/keep/f2', 'file'),
          row('usr/share/gone', 'directory'),
          row('usr/share/gone/g1', 'file'),
        ]);
        const y = db.packages.upsert({ name: 'y', architecture: 'all', version: '1', status: 'installed', control: 'Package: y\n' }, null);
        db.files.insertFiles(y, [row('usr', 'directory'), row('usr/share', 'directory')]);
        const probe = new Probe(await openRoot(root), db);
        const old = probe.installed('x', 'all')!;
        const next = staged([['usr', 'directory'], ['usr/share', 'directory'], ['usr/share/keep', 'directory'], ['usr/share/keep/f1', 'file']]);
        const input = await gatherPlanInput(probe, db, { installs: [{ staged: next, resolved: new Map(), old, status: 'installed' }], removals: [] }, {
          forceOverwrite: false,
          conffiles: { forces: NO_CONFFILE_FORCES },
        });
        // The version being installed ships usr/share/keep again: what is in it does not matter.
        assert.equal(input.disk.get(rp('usr/share/keep'))?.children, undefined);
        assert.deepEqual(input.disk.get(rp('usr/share/gone'))?.children, [rp('usr/share/gone/g1')]);
        assert.equal(input.owners.get(rp('usr/share/keep/f1')), undefined, "x is the transaction's own");
        assert.deepEqual(input.owners.get(rp('usr/share'))?.map((o) => o.name), ['y']);
      } finally {
        db.close();
      }
    }));
});
