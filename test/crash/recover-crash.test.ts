import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import {
  assertConsistent,
  captureSide,
  copyFallbackTemporaries,
  copyRoot,
  countPoints,
  forEachPoint,
  leftoverTemporaries,
  pendingTransactions,
  spawnOm,
  sweepWidth,
  type Side,
  type SideState,
} from '../helpers/crash-harness';
import { buildCrashFixtures, makeScratch, overlayFresh, plainFresh, type CrashFixtures, type Scratch } from '../helpers/crash-scenarios';
import { mount, unmount } from '../helpers/mounts';
import { om } from '../helpers/run-cli';
import { makeTempDir, withTempDir } from '../helpers/temp';
import { gate } from '../helpers/gate';

/**
 * A crash during `recover`: an upgrade is killed at a crash point, then `recover` itself is killed at
 * each of its own crash points (OVERMERGE_DEBUG_CRASH_AT applies to it too), then `recover` runs again:
 * the root must be exactly what an uninterrupted recover gives (old before the commit, new after), with
 * everything assertConsistent checks. The journal holds host paths, so the crashed root is saved once
 * and put back at the same path before each recover crash.
 */

let scratch: Scratch | undefined;
let workDir = '';
let fx: CrashFixtures;

before(async () => {
  scratch = await makeScratch('recover-crash');
  workDir = scratch.dir;
  fx = await buildCrashFixtures(workDir);
});

after(async () => {
  await scratch?.dispose();
});

/** A root at a fixed path whose crashed state can be saved once and put back before each attempt. */
interface CrashedRoot {
  root: string;
  save(): Promise<void>;
  restore(): Promise<void>;
  dispose(): Promise<void>;
}

async function plainCrashedRoot(template: string, dir: string): Promise<CrashedRoot> {
  const root = path.join(dir, 'root');
  const saved = path.join(dir, 'saved');
  await copyRoot(template, root);
  return {
    root,
    save: () => copyRoot(root, saved),
    async restore() {
      await fsp.rm(root, { recursive: true, force: true });
      await copyRoot(saved, root);
    },
    dispose: () => fsp.rm(dir, { recursive: true, force: true }),
  };
}

/** An overlay over `lower` mounted at DIR/merged; saving copies the upper layer (whiteouts and xattrs kept). */
async function overlayCrashedRoot(lower: string, dir: string): Promise<CrashedRoot> {
  const root = path.join(dir, 'merged');
  const upper = path.join(dir, 'upper');
  const work = path.join(dir, 'work');
  const saved = path.join(dir, 'saved-upper');
  let mounted = false;
  const up = async () => {
    await mount(['-t', 'overlay', 'overmerge-overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, root]);
    mounted = true;
  };
  const down = async () => {
    if (mounted) await unmount(root);
    mounted = false;
  };
  await Promise.all([root, upper, work].map((d) => fsp.mkdir(d)));
  await up();
  return {
    root,
    async save() {
      await down();
      await copyRoot(upper, saved);
      await up();
    },
    async restore() {
      await down();
      await fsp.rm(upper, { recursive: true, force: true });
      await fsp.rm(work, { recursive: true, force: true });
      await copyRoot(saved, upper);
      await fsp.mkdir(work);
      await up();
    },
    async dispose() {
      await down(); // throws if it cannot unmount: never remove a tree through a live mount
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

interface Case {
  name: string;
  template: () => string;
  argv: () => string[];
  overlay: boolean;
  /** Picks the upgrade's crash points to start from, given its point count and a way to try one. */
  pick: (points: number, crashesInCopyFallback: (n: number) => Promise<string[]>) => Promise<number[]>;
}

const cases: Case[] = [
  {
    name: 'upgrade hello 1.0 -> 2.0 on a plain root',
    template: () => fx.templates.modified,
    argv: () => ['install', fx.debs['hello-2.0']],
    overlay: false,
    // Early in the steps, just before the commit (everything to undo), and in the clean-up after it.
    pick: async (points) => [Math.floor(points * 0.3), Math.floor(points * 0.6), points - 6],
  },
  {
    name: 'upgrade hello 1.0 -> 2.0 on an overlay root (copy fallback)',
    template: () => fx.templates.modified,
    argv: () => ['install', fx.debs['hello-2.0']],
    overlay: true,
    // A crash while the copy is incomplete, and one while the original is being removed (copy pending).
    pick: async (points, tryPoint) => {
      const found = new Map<string, number>();
      for (let n = 1; n <= points && found.size < 2; n++) {
        for (const t of await tryPoint(n)) {
          const kind = /\.overmerge-(incomplete|pending)-/.exec(t)?.[1];
          if (kind && !found.has(kind)) found.set(kind, n);
        }
      }
      assert.equal(found.size, 2, `crash points in both halves of the copy fallback (found ${[...found.keys()].join(', ')})`);
      return [...found.values()];
    },
  },
];

for (const c of cases) {
  test(`crash during recover: ${c.name}`, async (t) => {
    if (gate(t, { root: 'file owners', mount: c.overlay ? 'overlay' : [] })) return;
    await withTempDir({ prefix: 'case', parent: workDir }, async (scratch) => {
      const fresh = c.overlay ? overlayFresh(c.template()) : plainFresh(c.template(), scratch);
      const old = await fresh((root) => captureSide(root));
      let points = 0;
      const neu = await fresh(async (root) => {
        points = await countPoints(root, c.argv(), path.join(scratch, 'count'));
        return captureSide(root);
      });
      const refs: Record<Side, SideState> = { old, new: neu };
      const crashAt = (root: string, n: number) => spawnOm(root, c.argv(), { quiet: true, env: { OVERMERGE_DEBUG_CRASH_AT: String(n) } });
      const starts = await c.pick(points, (n) =>
        fresh(async (root) => {
          assert.equal((await crashAt(root, n)).signal, 'SIGKILL');
          return copyFallbackTemporaries(await leftoverTemporaries(root));
        }),
      );
      const summary = await forEachPoint(starts.length, sweepWidth(), async (i) => {
        const n = starts[i - 1];
        const dir = await makeTempDir({ prefix: `from-${n}`, parent: scratch });
        const crashed = c.overlay ? await overlayCrashedRoot(c.template(), dir) : await plainCrashedRoot(c.template(), dir);
        try {
          const killed = await crashAt(crashed.root, n);
          assert.equal(killed.signal, 'SIGKILL', `upgrade crash at ${n}: ${killed.stderr}`);
          await crashed.save();
          const recoverPoints = await countPoints(crashed.root, ['recover'], path.join(dir, 'count'));
          const expected = await assertConsistent(crashed.root, refs, `uninterrupted recover after upgrade crash ${n}`);
          for (let m = 1; m <= recoverPoints; m++) {
            const what = `upgrade crash ${n}/${points}, recover crash ${m}/${recoverPoints}`;
            await crashed.restore();
            const r = await spawnOm(crashed.root, ['recover'], { quiet: true, env: { OVERMERGE_DEBUG_CRASH_AT: String(m) } });
            assert.equal(r.signal, 'SIGKILL', `${what}: recover was not killed (status ${r.status}): ${r.stderr}`);
            if (pendingTransactions(crashed.root) > 0) {
              const writer = await om(crashed.root, ['remove', 'greet'], { quiet: true });
              assert.equal(writer.status, 1, `${what}: a writer was not refused after recover crashed`);
              assert.match(writer.stderr, /recover/, what);
            }
            const again = await om(crashed.root, ['recover'], { quiet: true });
            assert.equal(again.status, 0, `${what}: ${again.stderr}`);
            const side = await assertConsistent(crashed.root, refs, what, { probeDeb: fx.probeDeb });
            assert.equal(side, expected, `${what}: recovered to ${side}, an uninterrupted recover gives ${expected}`);
          }
          return `${n}: ${recoverPoints} recover points -> ${expected}`;
        } finally {
          await crashed.dispose();
        }
      });
      t.diagnostic(`upgrade crash points (${points} in all) and the recover points swept from each: ${summary.join('; ')}`);
      if (!c.overlay) assert.ok(summary.some((s) => s.endsWith('old')) && summary.some((s) => s.endsWith('new')), summary.join('; '));
    });
  });
}
