import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { seededRandom } from '../../fixtures/random';
import { buildBigPair, type BigPair } from '../helpers/big-packages';
import {
  assertConsistent,
  captureSide,
  copyRoot,
  forEachPoint,
  hashState,
  pendingTransactions,
  recoverIn,
  startOm,
  sweepWidth,
  type Side,
  type SideState,
} from '../helpers/crash-harness';
import { makeScratch, mustRun, overlayFresh, plainFresh, type FreshRoot, type Scratch } from '../helpers/crash-scenarios';
import { rootState } from '../helpers/root-state';
import { gate } from '../helpers/gate';
import { withTempDir } from '../helpers/temp';

/**
 * Real SIGKILLs at random instants (not at crash points): an upgrade of a package with ~2,000 files
 * (half of them changed, directories turned into files and back, files removed and added) is killed
 * after a random delay spread over the run's measured duration, then recovered; the root must be exactly
 * the old or the new tree (content hashes, modes, owners, links), with the database agreeing. The seed is
 * printed; OVERMERGE_TEST_SEED=N repeats a run.
 */

const SEED = Number(process.env.OVERMERGE_TEST_SEED ?? 20261121);
const FILES = 2000;

let scratch: Scratch | undefined;
let workDir = '';
let pair: BigPair;
let v1Root = '';

before(async () => {
  scratch = await makeScratch('random-kill');
  workDir = scratch.dir;
  pair = await buildBigPair(workDir, FILES, SEED);
  // The v1 install, made once: copied for each plain-root kill, the lower layer of each overlay.
  v1Root = path.join(workDir, 'v1-root');
  await fsp.mkdir(v1Root, { mode: 0o755 });
  await fsp.chmod(v1Root, 0o755);
  await mustRun(v1Root, ['install', pair.v1]);
});

after(async () => {
  await scratch?.dispose();
});

interface KillReport {
  kills: number;
  old: number;
  new: number;
  /** Runs that finished before their kill arrived (they count as new). */
  finished: number;
  durationMs: number;
}

async function upgradeWithKill(root: string, delayMs: number | undefined): Promise<{ killed: boolean; ms: number }> {
  const started = process.hrtime.bigint();
  const run = startOm(root, ['install', pair.v2], { quiet: true });
  const timer = delayMs === undefined ? undefined : setTimeout(() => run.kill('SIGKILL'), delayMs);
  const r = await run.done;
  if (timer) clearTimeout(timer);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.signal === 'SIGKILL') return { killed: true, ms };
  assert.equal(r.status, 0, `the upgrade failed on its own: ${r.stderr}`);
  return { killed: false, ms };
}

async function killAndRecover(fresh: FreshRoot, kills: number, label: string, stream: number): Promise<KillReport> {
  const old = await fresh((root) => captureSide(root, { quick: true }));
  // Timed as the kills will run: as many at once as the kills below.
  const width = sweepWidth();
  const timed = await Promise.all(
    Array.from({ length: width }, (_, i) =>
      fresh(async (root) => {
        const { ms } = await upgradeWithKill(root, undefined);
        return { ms, side: i === 0 ? await captureSide(root, { quick: true }) : undefined };
      }),
    ),
  );
  const durationMs = timed.reduce((sum, r) => sum + r.ms, 0) / timed.length;
  const refs: Record<Side, SideState> = { old, new: timed[0].side as SideState };
  const rnd = seededRandom(SEED + stream);
  // Spread over the whole run, startup included, and as long again past its measured end: one kill at a
  // random instant of each of `kills` equal slices (stratified), so the kills cover the run evenly whatever
  // the seed. The commit comes late in a run (only the finish follows it), and runs under kill take longer
  // than the measured one (each beside another worker's recover and checks: CI's Node 26 run measured
  // 1.9 s and had none finish before 2.3 s): the slices past the end make sure some land after the commit
  // (those runs must be exactly new), as the assertions below require.
  const span = durationMs * 2;
  const delays = Array.from({ length: kills }, (_, i) => Math.floor(((i + rnd()) / kills) * span));
  const report: KillReport = { kills, old: 0, new: 0, finished: 0, durationMs: Math.round(durationMs) };
  await forEachPoint(kills, width, async (i) => {
    const what = `${label} kill ${i}/${kills} after ${delays[i - 1]} ms (seed ${SEED})`;
    await fresh(async (root) => {
      const { killed } = await upgradeWithKill(root, delays[i - 1]);
      if (!killed) report.finished++;
      const pending = pendingTransactions(root);
      const recovered = await recoverIn(root);
      assert.equal(recovered.length > 0, pending > 0, what);
      const side = await assertConsistent(root, refs, what, { quick: true });
      if (recovered.length > 0) assert.equal(recovered[0].outcome, side, `${what}: recover said ${recovered[0].outcome}`);
      report[side]++;
    });
  });
  return report;
}

function describe(t: TestContext, r: KillReport): void {
  t.diagnostic(
    `${r.kills} kills over a ${r.durationMs} ms upgrade: ${r.old} recovered to old, ${r.new} to new ` +
      `(${r.finished} of those finished before the kill); seed ${SEED}, ${pair.files.v1} -> ${pair.files.v2} files`,
  );
}

test('random SIGKILL during a 2,000-file upgrade on a plain root: old or new, exactly', async (t) => {
  if (gate(t, { root: 'file owners' })) return;
  await withTempDir({ prefix: 'plain', parent: workDir }, async (scratch) => {
    const r = await killAndRecover(plainFresh(v1Root, scratch), 30, 'plain root', 1);
    describe(t, r);
    assert.ok(r.old > 0 && r.new > 0, 'the kills landed on both sides of the commit');
  });
});

test('random SIGKILL during a 2,000-file upgrade on an overlay root (v1 in the lower layer)', async (t) => {
  if (gate(t, { mount: 'overlay' })) return;
  const r = await killAndRecover(overlayFresh(v1Root), 20, 'overlay root', 2);
  describe(t, r);
  assert.ok(r.old > 0 && r.new > 0, 'the kills landed on both sides of the commit');
});

/** The template copy must be faithful, or every comparison above would be against the wrong tree. */
test('the v1 template copies exactly', async (t) => {
  if (gate(t, { root: 'file owners' })) return;
  const copy = path.join(workDir, 'copy-check');
  await copyRoot(v1Root, copy);
  try {
    // The full view (xattrs included) once; the kills above compare the quick one.
    assert.deepEqual(await rootState(copy), await rootState(v1Root));
    assert.deepEqual(hashState(copy), hashState(v1Root));
  } finally {
    await fsp.rm(copy, { recursive: true, force: true });
  }
});
