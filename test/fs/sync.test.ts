import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { OvermergeError } from '../../src/errors';
import { fsyncDir, fsyncFile, SyncBatch } from '../../src/fs/sync';
import { parseTempName, tempSibling } from '../../src/fs/tempname';
import { planMoveAside } from '../../src/fs/move-aside';
import { withTempDir } from '../helpers/temp';
import { hostPathOf } from '../../src/fs/host-path';

test('SyncBatch flushes by fsync below its threshold and by syncfs above it, then keeping folders only; vanished paths are skipped', async () => {
  await withTempDir('sync', async (dir) => {
    for (const [threshold, size] of [
      [1000, 7],
      [2, 1], // past the threshold a file is kept as its folder: one folder for all
    ]) {
      const batch = new SyncBatch({ syncfsThreshold: threshold });
      for (let i = 0; i < 5; i++) {
        await fsp.writeFile(path.join(dir, `f${i}`), 'x');
        batch.addFile(hostPathOf(path.join(dir, `f${i}`)));
      }
      batch.addFile(hostPathOf(path.join(dir, 'gone')));
      batch.addDir(hostPathOf(dir));
      assert.equal(batch.size, size);
      await batch.flush();
      assert.equal(batch.size, 0);
    }
  });
});

test('SyncBatch.addFilesystem makes its flush a syncfs of that filesystem, whatever the batch holds', async () => {
  await withTempDir('sync', async (dir) => {
    await fsp.writeFile(path.join(dir, 'f'), 'x');
    const batch = new SyncBatch();
    batch.addFile(hostPathOf(path.join(dir, 'f')));
    assert.equal((await batch.flush()).size, 0, 'an fsync, no filesystem synced whole');
    batch.addFile(hostPathOf(path.join(dir, 'f')));
    batch.addFilesystem(hostPathOf(dir));
    const whole = await batch.flush();
    assert.deepEqual([...whole], [(await fsp.stat(dir, { bigint: true })).dev]);
    assert.equal(batch.size, 0);
  });
});

test('fsyncFile refuses to follow a symlink and reports a typed error', async () => {
  await withTempDir('sync', async (dir) => {
    await fsp.writeFile(path.join(dir, 'f'), '');
    await fsp.symlink('f', path.join(dir, 'l'));
    await fsyncFile(hostPathOf(path.join(dir, 'f')));
    await fsyncDir(hostPathOf(dir));
    await assert.rejects(fsyncFile(hostPathOf(path.join(dir, 'l'))), (err: unknown) => err instanceof OvermergeError && err.errno === 'ELOOP');
  });
});

test('temporary names are siblings, recognisable, and refuse paths that are not absolute and normalised', () => {
  const h = planMoveAside(hostPathOf('/root/usr/share/bug/apt'), { id: '0123456789ab' });
  assert.equal(h.backup, '/root/usr/share/bug/.overmerge-aside-0123456789ab');
  assert.equal(h.incomplete, '/root/usr/share/bug/.overmerge-incomplete-0123456789ab');
  assert.deepEqual(parseTempName('.overmerge-pending-0123456789ab'), { kind: 'pending', id: '0123456789ab' });
  assert.equal(parseTempName('.overmerge-pending-xyz'), undefined);
  assert.equal(parseTempName('apt'), undefined);
  assert.throws(() => tempSibling(hostPathOf('/a/b'), 'new', '../../etc'), { code: 'E_INTERNAL' });
  for (const bad of ['relative/path', '/a/../b', '/a/b/', '/']) assert.throws(() => planMoveAside(hostPathOf(bad)), { code: 'E_INTERNAL' }, bad);
});
