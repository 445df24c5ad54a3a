import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { backupState, discardBackup, moveAside, planMoveAside, restoreBackup } from '../../src/fs/move-aside';
import { parseTempName } from '../../src/fs/tempname';
import { buildRichTree, diffSnapshots, snapshotTree } from '../helpers/tree';
import { withOverlay } from '../helpers/mounts';
import { withTempDir } from '../helpers/temp';
import { gate } from '../helpers/gate';
import { hostPathOf } from '../../src/fs/host-path';

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

async function leftovers(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((n) => parseTempName(n) !== undefined);
}

test('overlay: a lower-layer directory tree is moved aside by the copy fallback, restored identical, or discarded without trace', async (t) => {
  if (gate(t, { mount: 'overlay' })) return;
  for (const ending of ['restore', 'discard'] as const) {
    await withOverlay(
      async ({ merged }) => {
        const original = path.join(merged, 'tree');
        const before = await snapshotTree(original);
        assert.ok(before.linkGroups.length > 0, 'the fixture has hard links');
        const handle = planMoveAside(hostPathOf(original));
        assert.deepEqual(JSON.parse(JSON.stringify(handle)), handle, 'the handle is plain JSON');
        const steps: string[] = [];
        const moved = await moveAside(handle, { hooks: { step: (name) => void steps.push(name) } });
        assert.equal(moved.method, 'copy', 'overlayfs refuses to rename a lower directory: EXDEV fallback');
        assert.ok(steps.includes('aside:rename') && steps.includes('copy:start') && steps.includes('remove:done'));
        assert.equal(await exists(original), false);
        assert.equal(await backupState(handle), 'aside');
        assert.deepEqual(diffSnapshots(await snapshotTree(handle.backup), before), [], 'the backup is the original');
        if (ending === 'restore') {
          assert.equal(await restoreBackup(handle), 'aside');
          assert.deepEqual(diffSnapshots(await snapshotTree(original), before), []);
          assert.equal(await restoreBackup(handle), 'none', 'restore is idempotent');
        } else {
          assert.equal(await discardBackup(handle), 'aside');
          assert.equal(await exists(original), false);
          assert.equal(await discardBackup(handle), 'none', 'discard is idempotent');
        }
        assert.deepEqual(await leftovers(merged), []);
      },
      { buildLower: (lower) => buildRichTree(path.join(lower, 'tree'), { bigBytes: 256 << 10 }) },
    );
  }
});

test('overlay: a lower-layer file is moved aside by rename (overlayfs copies it up)', async (t) => {
  if (gate(t, { mount: 'overlay' })) return;
  await withOverlay(
    async ({ merged, lower }) => {
      for (const name of ['file', 'cap-bin', 'sym']) {
        const original = path.join(merged, name);
        const before = await snapshotTree(original);
        const handle = await moveAside(planMoveAside(hostPathOf(original)));
        assert.equal(handle.method, 'rename', name);
        assert.deepEqual(diffSnapshots(await snapshotTree(handle.backup), before), [], name);
        await restoreBackup(handle);
        assert.deepEqual(diffSnapshots(await snapshotTree(original), before), [], name);
        const again = await moveAside(planMoveAside(hostPathOf(original)));
        await discardBackup(again);
        assert.equal(await exists(original), false);
        assert.ok(await exists(path.join(lower, name)), 'the lower layer itself is never written');
      }
      assert.deepEqual(await leftovers(merged), []);
    },
    {
      buildLower: async (lower) => {
        await fsp.writeFile(path.join(lower, 'file'), 'lower file');
        await fsp.copyFile('/bin/true', path.join(lower, 'cap-bin'));
        await fsp.symlink('file', path.join(lower, 'sym'));
      },
    },
  );
});

test('overlay: an upper-only directory takes the rename fast path', async (t) => {
  if (gate(t, { mount: 'overlay' })) return;
  await withOverlay(async ({ merged }) => {
    const original = path.join(merged, 'fresh');
    await buildRichTree(original, { bigBytes: 1 });
    const before = await snapshotTree(original);
    const handle = await moveAside(planMoveAside(hostPathOf(original)));
    assert.equal(handle.method, 'rename');
    await restoreBackup(handle);
    assert.deepEqual(diffSnapshots(await snapshotTree(original), before), []);
  });
});

test('plain directory: rename fast path; forceCopy takes the copy fallback and still restores identically', async () => {
  await withTempDir('aside', async (dir) => {
    const original = path.join(dir, 'tree');
    await buildRichTree(original, { bigBytes: 1 });
    const before = await snapshotTree(original);
    const renamed = await moveAside(planMoveAside(hostPathOf(original)));
    assert.equal(renamed.method, 'rename');
    await restoreBackup(renamed);
    const copied = await moveAside(planMoveAside(hostPathOf(original)), { forceCopy: true });
    assert.equal(copied.method, 'copy');
    assert.deepEqual(diffSnapshots(await snapshotTree(copied.backup), before), []);
    await restoreBackup(copied);
    assert.deepEqual(diffSnapshots(await snapshotTree(original), before), []);
    assert.deepEqual(await leftovers(dir), []);
  });
});

test('keepOriginal backs a file up by hard link; restore after a replacement puts the old inode back', async () => {
  await withTempDir('aside', async (dir) => {
    const original = path.join(dir, 'lib.so');
    await fsp.writeFile(original, 'old');
    const ino = (await fsp.stat(original)).ino;
    const handle = await moveAside(planMoveAside(hostPathOf(original), { keepOriginal: true }));
    assert.equal(handle.method, 'link');
    assert.equal(await fsp.readFile(original, 'utf8'), 'old', 'the original never left its path');
    // Not replaced: restore only drops the link.
    await restoreBackup(handle);
    assert.deepEqual(await leftovers(dir), []);
    const h2 = await moveAside(planMoveAside(hostPathOf(original), { keepOriginal: true }));
    await fsp.writeFile(path.join(dir, 'new'), 'new');
    await fsp.rename(path.join(dir, 'new'), original);
    await restoreBackup(h2);
    assert.equal(await fsp.readFile(original, 'utf8'), 'old');
    assert.equal((await fsp.stat(original)).ino, ino);
    assert.deepEqual(await leftovers(dir), []);
  });
});

test('restore refuses to clobber a non-empty directory placed since, and refuses after discard began', async () => {
  await withTempDir('aside', async (dir) => {
    const original = path.join(dir, 'x');
    await fsp.writeFile(original, 'file');
    const handle = await moveAside(planMoveAside(hostPathOf(original)));
    await fsp.mkdir(original);
    await fsp.writeFile(path.join(original, 'child'), '');
    await assert.rejects(restoreBackup(handle), /occupied/);
    await fsp.rm(original, { recursive: true });
    await fsp.rename(handle.backup, handle.trash);
    await assert.rejects(restoreBackup(handle), /being discarded/);
    await discardBackup(handle);
    assert.deepEqual(await leftovers(dir), []);
  });
});
