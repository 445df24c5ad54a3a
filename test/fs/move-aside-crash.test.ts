import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { OvermergeError } from '../../src/errors';
import { backupState, discardBackup, moveAside, planMoveAside, restoreBackup, type BackupHandle, type BackupState } from '../../src/fs/move-aside';
import type { StepHooks } from '../../src/fs/steps';
import { parseTempName } from '../../src/fs/tempname';
import { buildRichTree, diffSnapshots, snapshotTree, type TreeSnapshot } from '../helpers/tree';
import { withOverlay } from '../helpers/mounts';
import { withTempDir } from '../helpers/temp';
import { gate } from '../helpers/gate';
import { hostPathOf } from '../../src/fs/host-path';

/** A hook that simulates a kill just before step number `at` (0-based) acts. */
function crashAt(at: number, seen: string[] = []): StepHooks {
  return {
    step(name) {
      if (seen.length === at) throw new OvermergeError('E_CRASH_INJECTED', `crash before ${name}`);
      seen.push(name);
    },
  };
}

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

async function leftovers(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((n) => parseTempName(n) !== undefined);
}

/** One lower layer for every mount: only the upper layer differs from run to run. */
function withLowerTree<T>(fn: (lower: string) => Promise<T>): Promise<T> {
  return withTempDir('lower', async (lower) => {
    await buildRichTree(path.join(lower, 'tree'), { bigBytes: 64 << 10 });
    return fn(lower);
  });
}

async function crashThenCheck(
  lowerDir: string,
  at: number,
  ending: 'restore' | 'discard',
): Promise<{ step: string; found: BackupState }> {
  return withOverlay(
    async ({ merged }) => {
      const original = path.join(merged, 'tree');
      const before = await snapshotTree(original);
      const handle: BackupHandle = JSON.parse(JSON.stringify(planMoveAside(hostPathOf(original))));
      const seen: string[] = [];
      await assert.rejects(moveAside(handle, { hooks: crashAt(at, seen) }), { code: 'E_CRASH_INJECTED' });
      const found = await backupState(handle);
      if (ending === 'restore') {
        await restoreBackup(handle);
        assertSame(await snapshotTree(original), before, `restore after crash at step ${at}`);
      } else {
        await discardBackup(handle);
        // Before the copy was whole the move never happened; from then on discard finishes it.
        if (found === 'none' || found === 'copying') assertSame(await snapshotTree(original), before, `discard at ${at}`);
        else assert.equal(await exists(original), false, `discard at ${at} removes the original`);
      }
      assert.deepEqual(await leftovers(merged), [], `no temporaries after ${ending} from step ${at}`);
      return { step: `${at}`, found };
    },
    { lowerDir },
  );
}

function assertSame(a: TreeSnapshot, b: TreeSnapshot, what: string): void {
  assert.deepEqual(diffSnapshots(a, b), [], what);
}

test('crash sweep: the overlay copy fallback interrupted at every step can be restored and discarded', async (t) => {
  if (gate(t, { mount: 'overlay' })) return;
  await withLowerTree(async (lowerDir) => {
    const all: string[] = [];
    await withOverlay(async ({ merged }) => void (await moveAside(planMoveAside(hostPathOf(path.join(merged, 'tree'))), { hooks: { step: (n) => void all.push(n) } })), {
      lowerDir,
    });
    assert.ok(all.length > 40, `${all.length} steps`);
    const states = new Map<BackupState, number>();
    for (let at = 0; at < all.length; at++) {
      for (const ending of ['restore', 'discard'] as const) {
        const { found } = await crashThenCheck(lowerDir, at, ending);
        states.set(found, (states.get(found) ?? 0) + 1);
      }
    }
    t.diagnostic(`${all.length} steps swept; states found: ${JSON.stringify(Object.fromEntries(states))}`);
    for (const s of ['none', 'copying', 'removing', 'aside'] as const) assert.ok(states.has(s), `state ${s} was reached`);
  });
});

test('crash sweep: a restore (or discard) interrupted at any step is finished by running it again', async (t) => {
  if (gate(t, { mount: 'overlay' })) return;
  await withLowerTree(async (lowerDir) => {
    const all: string[] = [];
    await withOverlay(async ({ merged }) => void (await moveAside(planMoveAside(hostPathOf(path.join(merged, 'tree'))), { hooks: { step: (n) => void all.push(n) } })), {
      lowerDir,
    });
    // Crash points with the original half removed, and with the move complete.
    const points = [all.indexOf('remove:entry') + 5, all.length];
    for (const at of points) {
      for (const ending of ['restore', 'discard'] as const) {
        for (let second = 0; ; second++) {
          const finished = await withOverlay(
            async ({ merged }) => {
              const original = path.join(merged, 'tree');
              const before = await snapshotTree(original);
              const handle = planMoveAside(hostPathOf(original));
              if (at < all.length) await assert.rejects(moveAside(handle, { hooks: crashAt(at) }));
              else await moveAside(handle);
              const run = ending === 'restore' ? restoreBackup : discardBackup;
              let interrupted = true;
              try {
                await run(handle, { hooks: crashAt(second) });
                interrupted = false;
              } catch (err) {
                assert.equal((err as OvermergeError).code, 'E_CRASH_INJECTED');
              }
              await run(handle);
              if (ending === 'restore') assertSame(await snapshotTree(original), before, `restore ${at}/${second}`);
              else assert.equal(await exists(original), false);
              assert.deepEqual(await leftovers(merged), []);
              return !interrupted;
            },
            { lowerDir },
          );
          if (finished) break;
        }
      }
    }
  });
});

test('kill -9 mid-fallback: a new process restores from the journaled handle alone', async (t) => {
  if (gate(t, { mount: 'overlay' })) return;
  const moduleUrl = path.resolve(__dirname, '../../src/fs/move-aside.js');
  const child = `
    const { moveAside } = require(${JSON.stringify(moduleUrl)});
    const [handle, at] = [JSON.parse(process.argv[1]), Number(process.argv[2])];
    let n = 0;
    moveAside(handle, { hooks: { step() { if (n++ === at) process.kill(process.pid, 'SIGKILL'); } } });
  `;
  await withLowerTree(async (lowerDir) => {
    for (const at of [10, 30, 45]) {
      await withOverlay(
        async ({ merged }) => {
          const original = path.join(merged, 'tree');
          const before = await snapshotTree(original);
          const handle = planMoveAside(hostPathOf(original));
          const signal = await new Promise<string | null>((resolve) =>
            execFile(process.execPath, ['-e', child, JSON.stringify(handle), String(at)], (err) =>
              resolve((err as { signal?: string } | null)?.signal ?? null),
            ),
          );
          assert.equal(signal, 'SIGKILL', 'the child was killed mid-way');
          t.diagnostic(`killed at step ${at}: state ${await backupState(handle)}`);
          await restoreBackup(handle);
          assertSame(await snapshotTree(original), before, `restore after kill at ${at}`);
          assert.deepEqual(await leftovers(merged), []);
        },
        { lowerDir },
      );
    }
  });
});
