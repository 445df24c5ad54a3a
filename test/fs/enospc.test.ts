import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { OvermergeError } from '../../src/errors';
import { moveAside, planMoveAside } from '../../src/fs/move-aside';
import { place, planPlace } from '../../src/fs/place';
import { parseTempName } from '../../src/fs/tempname';
import { withOverlay, withTmpfs } from '../helpers/mounts';
import { diffSnapshots, snapshotTree } from '../helpers/tree';
import { gate } from '../helpers/gate';
import { hostPathOf } from '../../src/fs/host-path';

async function leftovers(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((n) => parseTempName(n) !== undefined);
}

async function usedBytes(dir: string): Promise<number> {
  const s = await fsp.statfs(dir);
  return (s.blocks - s.bfree) * s.bsize;
}

test('ENOSPC in the copy fallback: partial copy removed, original untouched, E_NO_SPACE', async (t) => {
  if (gate(t, { mount: 'overlay' })) return;
  await withOverlay(
    async ({ merged, upper }) => {
      const original = path.join(merged, 'big-tree');
      const before = await snapshotTree(original);
      const usedBefore = await usedBytes(upper);
      const handle = planMoveAside(hostPathOf(original));
      await assert.rejects(moveAside(handle), (err: unknown) => {
        assert.ok(err instanceof OvermergeError);
        assert.equal(err.code, 'E_NO_SPACE');
        assert.equal(err.path, original);
        assert.match(err.message, /partial copy removed, original untouched/);
        t.diagnostic(err.message);
        return true;
      });
      assert.deepEqual(diffSnapshots(await snapshotTree(original), before), []);
      assert.deepEqual(await leftovers(merged), []);
      assert.ok((await usedBytes(upper)) <= usedBefore + 64 * 1024, 'the space taken by the partial copy is given back');
    },
    {
      upperSizeBytes: 1 << 20,
      buildLower: async (lower) => {
        await fsp.mkdir(path.join(lower, 'big-tree', 'sub'), { recursive: true });
        for (let i = 0; i < 8; i++) await fsp.writeFile(path.join(lower, 'big-tree', 'sub', `chunk-${i}`), Buffer.alloc(512 << 10, i));
      },
    },
  );
});

test('ENOSPC while placing a copy: no temporary left, the old target untouched', async (t) => {
  if (gate(t, { mount: 'tmpfs' })) return;
  await withTmpfs(4 << 20, async (staging) => {
    await withTmpfs(512 << 10, async (root) => {
      const target = path.join(root, 'f');
      await fsp.writeFile(target, 'old');
      const staged = path.join(staging, 'big');
      await fsp.writeFile(staged, Buffer.alloc(2 << 20, 1));
      for (const mode of ['copy', 'rename', 'hardlink'] as const) {
        await assert.rejects(place(planPlace(hostPathOf(staged), hostPathOf(target), mode)), { code: 'E_NO_SPACE' });
        assert.equal(await fsp.readFile(target, 'utf8'), 'old');
        assert.deepEqual(await leftovers(root), []);
        assert.ok((await fsp.stat(staged)).size === 2 << 20, 'the staged file is still there for a retry');
      }
    });
  });
});
