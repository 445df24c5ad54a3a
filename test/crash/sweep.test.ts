import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import {
  assertConsistent,
  assertMonotonic,
  captureSide,
  copyFallbackTemporaries,
  countPoints,
  forEachPoint,
  leftoverTemporaries,
  pendingTransactions,
  recoverIn,
  spawnOm,
  sweepWidth,
  type Side,
  type SideState,
} from '../helpers/crash-harness';
import { buildCrashFixtures, makeScratch, overlayFresh, plainFresh, PROBE_NAME, type CrashFixtures, type FreshRoot, type Scratch } from '../helpers/crash-scenarios';
import { gate } from '../helpers/gate';
import { om } from '../helpers/run-cli';
import { withTempDir } from '../helpers/temp';

/**
 * Deterministic crash sweep: for every crash point N of a command (OVERMERGE_DEBUG_CRASH_AT=N, the child
 * SIGKILLs itself there), from a fresh copy of the starting root: the killed root refuses other writers,
 * `recover` brings it to exactly the old or exactly the new state (tree, database, verify), leaves no
 * temporary and an empty staging folder, and it takes a further install. Sides must go old…old new…new.
 * Swept with the default journal batch and with one SQLite commit per intent.
 */

let scratch: Scratch | undefined;
let workDir = '';
let fx: CrashFixtures;

before(async () => {
  scratch = await makeScratch('sweep');
  workDir = scratch.dir;
  fx = await buildCrashFixtures(workDir);
});

after(async () => {
  await scratch?.dispose();
});

interface Scenario {
  name: string;
  template: () => string;
  argv: () => string[];
  overlay?: boolean;
  /** Roots on the disk (under os.tmpdir()) instead of the scratch tmpfs: real fsync and syncfs. */
  onDisk?: boolean;
  /** Staging on another filesystem than the root: every file is placed by the copy fallback. */
  copies?: boolean;
}

const scenarios: Scenario[] = [
  { name: '(a) fresh install of hello 1.0 + greet', template: () => fx.templates.empty, argv: () => ['install', fx.debs['hello-1.0'], fx.debs['greet-1.0']] },
  { name: '(b) upgrade hello 1.0 -> 2.0 (dir -> file), conffile modified', template: () => fx.templates.modified, argv: () => ['install', fx.debs['hello-2.0']] },
  { name: '(c) remove greet', template: () => fx.templates.installed, argv: () => ['remove', 'greet'] },
  { name: '(d) purge hello (modified conffile)', template: () => fx.templates.modified, argv: () => ['purge', '--force-depends', 'hello'] }, // greet depends on hello
  {
    name: '(e) upgrade on an overlay root, old files in the lower layer',
    template: () => fx.templates.modified,
    argv: () => ['install', fx.debs['hello-2.0']],
    overlay: true,
  },
  { name: '(f) rollback of an upgrade made with --keep-backups', template: () => fx.templates.upgradedKept, argv: () => ['rollback'] },
  { name: '(g) configure hello 2.0 after unpack (conffile modified: .dpkg-new -> .dpkg-dist)', template: () => fx.templates.unpacked, argv: () => ['configure', 'hello'] },
];

const onDisk: Scenario = { ...scenarios[1], name: '(b) upgrade hello 1.0 -> 2.0 with the root on the disk', onDisk: true };
/**
 * (b) with the root on the disk and `--staging` on the scratch tmpfs, a fresh folder each run: rename(2)
 * fails with EXDEV, the first file between two folders is copied after it, the next ones at once (the
 * transaction remembers the pair), and recover must undo or finish either kind of placement.
 */
let stagings = 0;
const crossStaging: Scenario = {
  ...scenarios[1],
  name: '(h) upgrade hello 1.0 -> 2.0, root on the disk, staging on a tmpfs',
  argv: () => ['--staging', path.join(workDir, `staging-${stagings++}`), 'install', fx.debs['hello-2.0']],
  onDisk: true,
  copies: true,
};

interface SweepReport {
  points: number;
  sides: Side[];
  /** Points at which the killed root held copy-fallback temporaries. */
  copyFallbackPoints: number;
}

function freshFor(s: Scenario, scratch: string): FreshRoot {
  return s.overlay ? overlayFresh(s.template()) : plainFresh(s.template(), scratch);
}

async function sweep(s: Scenario, batch: string | undefined): Promise<SweepReport> {
  return withTempDir(s.onDisk ? 'sweep' : { prefix: 'sweep', parent: workDir }, async (scratch) => {
    const fresh = freshFor(s, scratch);
    const env: Record<string, string> = batch === undefined ? {} : { OVERMERGE_DEBUG_JOURNAL_BATCH: batch };
    const old = await fresh((root) => captureSide(root));
    let points = 0;
    const neu = await fresh(async (root) => {
      points = await countPoints(root, s.argv(), path.join(scratch, 'count'), { env });
      return captureSide(root);
    });
    const refs: Record<Side, SideState> = { old, new: neu };
    const report: SweepReport = { points, sides: [], copyFallbackPoints: 0 };
    report.sides = await forEachPoint(points, sweepWidth(), async (n) => {
      const what = `${s.name}, batch ${batch ?? 'default'}, crash point ${n}/${points}`;
      return fresh(async (root) => {
        const killed = await spawnOm(root, s.argv(), { quiet: true, env: { ...env, OVERMERGE_DEBUG_CRASH_AT: String(n) } });
        assert.equal(killed.signal, 'SIGKILL', `${what}: expected SIGKILL, got status ${killed.status}: ${killed.stderr}`);
        if (copyFallbackTemporaries(await leftoverTemporaries(root)).length > 0) report.copyFallbackPoints++;
        const pending = pendingTransactions(root);
        if (pending > 0) {
          const refused = await om(root, ['install', fx.probeDeb], { quiet: true });
          assert.equal(refused.status, 1, `${what}: install after the crash was not refused`);
          assert.match(refused.stderr, /recover/, what);
          assert.equal(refused.stderr.trim().split('\n').length, 1, `${what}: refusal is not one line: ${refused.stderr}`);
        }
        const recovered = await recoverIn(root);
        assert.equal(recovered.length > 0, pending > 0, `${what}: recover found ${recovered.length} transactions, ${pending} were pending`);
        const side = await assertConsistent(root, refs, what, { probeDeb: fx.probeDeb });
        if (recovered.length > 0) assert.equal(recovered[0].outcome, side, `${what}: recover said ${recovered[0].outcome}, the root is ${side}`);
        else assert.equal(side, 'new', `${what}: nothing to recover, yet the root is old`);
        return side;
      });
    });
    assertMonotonic(report.sides, s.name);
    assert.ok(report.sides.includes('old') && report.sides.includes('new'), `${s.name}: both sides reached (${report.sides.join(',')})`);
    return report;
  });
}

/**
 * Every scenario with the default journal batch ((b) with its root on the disk), and the upgrades, plain
 * and overlay, with one SQLite commit per intent as well: about 500 crash points, each a child process
 * (~0.3 s of CPU, mostly Node startup) and the checks (~0.2 s). OVERMERGE_TEST_FULL_SWEEP=1 adds the
 * one-commit-per-intent sweep of every other scenario and (b) on the tmpfs too (about 1,100 points).
 */
const FULL = process.env.OVERMERGE_TEST_FULL === '1' || process.env.OVERMERGE_TEST_FULL_SWEEP === '1';
const runs: Array<[Scenario, string | undefined]> = FULL
  ? [...scenarios.flatMap((s): Array<[Scenario, string | undefined]> => [[s, undefined], [s, '1']]), [onDisk, undefined], [crossStaging, undefined]]
  : [
      ...scenarios.flatMap((s): Array<[Scenario, string | undefined]> => {
        const first: [Scenario, string | undefined] = s === scenarios[1] ? [onDisk, undefined] : [s, undefined];
        return s === scenarios[1] || s.overlay ? [first, [s, '1']] : [first];
      }),
      [crossStaging, undefined],
    ];

for (const [s, batch] of runs) {
  test(`crash sweep ${s.name}, journal batch ${batch ?? 'default'}`, async (t: TestContext) => {
    if (gate(t, s.overlay ? { mount: 'overlay' } : s.copies ? { root: 'file owners', mount: 'tmpfs' } : { root: 'file owners' })) return;
    // The scratch folder is a tmpfs of its own where one can be mounted: staging there is another filesystem.
    if (s.copies) assert.notEqual(statSync(workDir).dev, statSync(os.tmpdir()).dev, 'staging and root on one filesystem');
    const r = await sweep(s, batch);
    const olds = r.sides.filter((x) => x === 'old').length;
    t.diagnostic(`${r.points} crash points: ${olds} recovered to old, ${r.points - olds} to new; ${r.copyFallbackPoints} inside the copy fallback`);
    if (s.overlay) assert.ok(r.copyFallbackPoints > 0, 'no crash point fell inside the copy fallback on the overlay root');
    else assert.equal(r.copyFallbackPoints, 0, 'a plain root took the copy fallback');
  });
}

test('after a crash, writers refuse until recover; --auto-recover proceeds', async (t) => {
  if (gate(t, { root: 'file owners' })) return;
  await withTempDir({ prefix: 'auto', parent: workDir }, async (scratch) => {
    const s = scenarios[1];
    const fresh = plainFresh(s.template(), scratch);
    const old = await fresh((root) => captureSide(root));
    let points = 0;
    const neu = await fresh(async (root) => {
      points = await countPoints(root, s.argv(), path.join(scratch, 'count'));
      return captureSide(root);
    });
    const picks = [...new Set([1, 2, Math.floor(points / 2), points - 3, points - 1])].filter((n) => n >= 1 && n < points);
    for (const n of picks) {
      const what = `auto-recover after crash point ${n}/${points}`;
      await fresh(async (root) => {
        const killed = await spawnOm(root, s.argv(), { quiet: true, env: { OVERMERGE_DEBUG_CRASH_AT: String(n) } });
        assert.equal(killed.signal, 'SIGKILL', what);
        for (const argv of [['install', fx.probeDeb], ['remove', 'greet'], ['purge', 'hello'], ['install', fx.debs['hello-1.0']]]) {
          const r = await om(root, argv, { quiet: true });
          assert.equal(r.status, 1, `${what}: ${argv[0]} was not refused`);
          assert.match(r.stderr, /^overmerge: .*recover.*\n$/, `${what}: ${argv[0]}`);
        }
        const r = await om(root, ['install', '--auto-recover', fx.probeDeb], { quiet: true });
        assert.equal(r.status, 0, `${what}: ${r.stderr}`);
        const rm = await om(root, ['purge', PROBE_NAME], { quiet: true });
        assert.equal(rm.status, 0, `${what}: ${rm.stderr}`);
        await assertConsistent(root, { old, new: neu }, what);
      });
    }
  });
});
