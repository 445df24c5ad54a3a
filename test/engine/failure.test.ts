import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test, type TestContext } from 'node:test';
import { openDatabase } from '../../src/db/open';
import { buildFixtureDebs, type FixtureName } from '../helpers/fixtures';
import { withOverlay, withTmpfs } from '../helpers/mounts';
import { assertSameTree, dbState, rootState, type DbState } from '../helpers/root-state';
import { om } from '../helpers/run-cli';
import { tempDir, withTempDir } from '../helpers/temp';
import type { TreeSnapshot } from '../helpers/tree';
import { gate, missing } from '../helpers/gate';

const execFileP = promisify(execFile);

/**
 * In-process failure at every crash point (OVERMERGE_DEBUG_FAIL_AT=N throws E_CRASH_INJECTED at point N,
 * so the engine's own rollback runs, not `recover`). The sweep raises N until the command succeeds:
 * - before the commit the command must exit 1 and leave the root (rootState) and the database (list,
 *   files, history) exactly as before, and the staging folder empty;
 * - after the commit (only clean-up is left) it exits 1 saying so, the database already shows the new
 *   state, and `recover` brings the root to exactly what an uninterrupted run leaves.
 * Each intent is its own SQLite commit (OVERMERGE_DEBUG_JOURNAL_BATCH=1), which gives the most points;
 * one sweep keeps the default batch, where a failure leaves intents journaled whose steps never ran.
 * The same root is reused across pre-commit failures, so damage that accumulates is caught too.
 */

const workDir = tempDir('failure', { after });
let debs: Record<FixtureName, string>;

before(async () => {
  debs = await buildFixtureDebs(workDir);
});

/** A root in the scenario's starting state for the duration of `fn`. */
type Fresh = (fn: (root: string) => Promise<void>) => Promise<void>;

interface Scenario {
  fresh: Fresh;
  /** The command under test, without --root. */
  argv: string[];
  /** Global options every command on this root needs (e.g. --staging). */
  globals?: string[];
  /** Where staging folders of this scenario live, to check none is left behind. */
  stagingBase: (root: string) => string;
  /**
   * A fresh root for every point. Needed on overlay: undoing a copy fallback leaves the directory whole in
   * the upper layer, so a reused root would take the fast rename path and never again reach the copy's points.
   */
  freshEachPoint?: boolean;
  /** Journal intents per SQLite commit; default 1. */
  journalBatch?: number;
}

interface SweepResult {
  preCommit: number;
  postCommit: number;
}

/** What an uninterrupted run leaves: the root and the database without history (its times differ). */
async function referenceAfter(s: Scenario): Promise<{ root: TreeSnapshot; db: Omit<DbState, 'history'> }> {
  let out: { root: TreeSnapshot; db: Omit<DbState, 'history'> } | undefined;
  await s.fresh(async (root) => {
    const r = await om(root, s.argv, { quiet: true, globals: s.globals });
    assert.equal(r.status, 0, r.stderr);
    const { history: _h, ...db } = await dbState(root);
    out = { root: await rootState(root), db };
  });
  return out as { root: TreeSnapshot; db: Omit<DbState, 'history'> };
}

async function stagingLeftovers(base: string): Promise<string[]> {
  return fsp.readdir(base).catch(() => []);
}

async function sweep(s: Scenario): Promise<SweepResult> {
  const globals = s.globals ?? [];
  const reference = await referenceAfter(s);
  const result: SweepResult = { preCommit: 0, postCommit: 0 };
  let n = 1;
  let finished = false;
  let checkedRefusal = false;
  while (!finished) {
    await s.fresh(async (root) => {
      const rootBefore = await rootState(root);
      const dbBefore = await dbState(root);
      for (; ; n++) {
        const env = { OVERMERGE_DEBUG_FAIL_AT: String(n), OVERMERGE_DEBUG_JOURNAL_BATCH: String(s.journalBatch ?? 1) };
        const r = await om(root, s.argv, { quiet: true, globals, env });
        if (r.status === 0) {
          // Past the last point: an uninterrupted run, which must agree with the reference.
          assertSameTree(await rootState(root), reference.root, `root after the run that passed all ${n - 1} points`);
          finished = true;
          return;
        }
        assert.equal(r.status, 1, `point ${n}: exit status (stderr: ${r.stderr})`);
        assert.match(r.stderr, new RegExp(`^overmerge: [^\\n]*injected failure at crash point ${n}\\b[^\\n]*\\n$`), `point ${n}: one line`);
        const db = await dbState(root);
        if (isDeepEqual(db, dbBefore)) {
          assert.equal(result.postCommit, 0, `point ${n}: failed before the commit, but point ${n - 1} was after it`);
          assertSameTree(await rootState(root), rootBefore, `root after a failure at point ${n} (before the commit): ${r.stderr}`);
          assert.deepEqual(await stagingLeftovers(s.stagingBase(root)), [], `point ${n}: staging left behind`);
          result.preCommit++;
          if (s.freshEachPoint) {
            n++;
            return;
          }
          continue;
        }
        // After the commit: the new state is recorded; only the clean-up was cut short, and says so.
        const newest = (db.history as Array<{ state: string }>)[0];
        assert.equal(newest?.state, 'committed', `point ${n}: the database changed, yet nothing was committed (${r.stderr})`);
        assert.match(r.stderr, /committed/, `point ${n}: a failure after the commit must say the change is in`);
        assert.match(r.stderr, /overmerge recover/, `point ${n}: and how to finish it`);
        const { history: _h, ...dbNow } = db;
        assert.deepEqual(dbNow, reference.db, `point ${n}: database after a failure after the commit`);
        const unfinished = unfinishedTxns(root);
        if (unfinished > 0 && !checkedRefusal) {
          // Once is enough: every writer goes through the same check.
          const blocked = await om(root, ['install', debs['greet-1.0']], { quiet: true, globals });
          assert.equal(blocked.status, 1, `point ${n}: a writer must refuse to start before recover`);
          assert.match(blocked.stderr, /was interrupted.*overmerge recover/);
          checkedRefusal = true;
        }
        const rec = await om(root, ['recover', '--json'], { quiet: true, globals });
        assert.equal(rec.status, 0, `point ${n}: recover: ${rec.stderr}`);
        // The very last point comes after the journal is cleared: nothing is left to finish there.
        const outcomes = (JSON.parse(rec.stdout) as Array<{ outcome: string }>).map((o) => o.outcome);
        assert.deepEqual(outcomes, unfinished > 0 ? ['new'] : [], `point ${n}: what recover did`);
        assertSameTree(await rootState(root), reference.root, `root after a failure at point ${n} (after the commit) and recover`);
        assert.deepEqual(await stagingLeftovers(s.stagingBase(root)), [], `point ${n}: staging left behind after recover`);
        result.postCommit++;
        n++;
        return; // the root is in its new state: the next point needs a fresh one
      }
    });
  }
  assert.ok(checkedRefusal, 'no failure after the commit left clean-up for recover');
  assert.ok(result.preCommit > 5, `only ${result.preCommit} points before the commit: is OVERMERGE_DEBUG_FAIL_AT read?`);
  return result;
}

/** Committed transactions whose clean-up is not finished (the database module, read-only). */
function unfinishedTxns(root: string): number {
  const db = openDatabase(path.join(root, 'var/lib/overmerge/db.sqlite'), { readonly: true });
  try {
    return db.txns.unfinished().length;
  } finally {
    db.close();
  }
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

function defaultStaging(root: string): string {
  return path.join(root, 'var/lib/overmerge/staging');
}

/**
 * Plain-directory roots prepared by `setup` (installs through the CLI), made under `base`. `setup` runs
 * once, into a template; every root after that is a `cp -a` of it (modes, owners, times and the database
 * as they were), far cheaper than installing again for each of a hundred points. The sweeps put `base` on
 * a tmpfs when they can: a point costs a few fsyncs per journal intent.
 */
function plainRoots(base: string, setup: (root: string) => Promise<void>): Fresh {
  let template: string | undefined;
  return async (fn) => {
    if (template === undefined) {
      const made = path.join(base, 'template');
      await fsp.mkdir(made, { mode: 0o755 });
      await setup(made);
      template = made;
    }
    await withTempDir({ prefix: 'root', parent: base }, async (root) => {
      await execFileP('cp', ['-a', `${template}/.`, root]);
      await fn(root);
    });
  };
}

/** A base folder for roots: a tmpfs when mounting works, else a temporary folder on the disk. */
async function withRootsBase(t: TestContext, fn: (base: string) => Promise<void>): Promise<void> {
  const why = missing({ mount: 'tmpfs' });
  if (why === undefined) return withTmpfs(64 << 20, fn);
  t.diagnostic(`roots on the disk (slower): ${why}`);
  return withTempDir('failure-roots', fn);
}

/** A local change to /etc/hello.conf, with a fixed mtime so that every fresh root has the same one. */
async function editConffile(root: string): Promise<void> {
  const conf = path.join(root, 'etc/hello.conf');
  await fsp.writeFile(conf, 'greeting=mine\n');
  await fsp.utimes(conf, 1_600_000_000, 1_600_000_000);
}

/** A root with nothing installed yet, but the /var/lib every system has (overmerge's admin folder goes there). */
async function emptyRoot(root: string): Promise<void> {
  await fsp.mkdir(path.join(root, 'var/lib'), { recursive: true });
}

async function installed(root: string, ...names: FixtureName[]): Promise<void> {
  for (const n of names) {
    const r = await om(root, ['install', debs[n]], { quiet: true });
    assert.equal(r.status, 0, r.stderr);
  }
}

function report(t: TestContext, r: SweepResult): void {
  t.diagnostic(`${r.preCommit} points before the commit, ${r.postCommit} after it`);
}

test('a failure at any point of an install leaves root and database as before', async (t) => {
  await withRootsBase(t, async (base) => {
    const r = await sweep({ fresh: plainRoots(base, emptyRoot), argv: ['install', debs['hello-1.0']], stagingBase: defaultStaging });
    report(t, r);
  });
});

test('a failure at any point of an upgrade that turns a directory into a file leaves everything as before', async (t) => {
  await withRootsBase(t, async (base) => {
    const r = await sweep({
      fresh: plainRoots(base, (root) => installed(root, 'hello-1.0')),
      argv: ['install', debs['hello-2.0']],
      stagingBase: defaultStaging,
    });
    report(t, r);
  });
});

test('the same upgrade with the default journal batch (intents journaled ahead of their steps)', async (t) => {
  await withRootsBase(t, async (base) => {
    const r = await sweep({
      fresh: plainRoots(base, (root) => installed(root, 'hello-1.0')),
      argv: ['install', debs['hello-2.0']],
      stagingBase: defaultStaging,
      journalBatch: 256,
    });
    report(t, r);
  });
});

test('the same upgrade on an overlay root (old version in the lower layer), staging on tmpfs', async (t) => {
  if (gate(t, { mount: ['overlay', 'tmpfs'] })) return;
  await withTempDir('failure-lower', async (lower) => {
    await installed(lower, 'hello-1.0');
    await withTmpfs(16 << 20, async (tmpfs) => {
      const staging = path.join(tmpfs, 'staging');
      const r = await sweep({
        fresh: (fn) => withOverlay(({ merged }) => fn(merged), { lowerDir: lower, upperSizeBytes: 32 << 20 }),
        argv: ['install', debs['hello-2.0']],
        globals: ['--staging', staging],
        stagingBase: () => staging,
        freshEachPoint: true,
      });
      report(t, r);
    });
  });
});

test('a failure at any point of a remove leaves root and database as before', async (t) => {
  await withRootsBase(t, async (base) => {
    const r = await sweep({
      fresh: plainRoots(base, async (root) => {
        await installed(root, 'hello-1.0', 'hello-2.0', 'greet-1.0');
        await editConffile(root); // remove keeps it
      }),
      argv: ['remove', 'hello', 'greet'],
      stagingBase: defaultStaging,
    });
    report(t, r);
  });
});

test('a failure at any point of a purge leaves root and database as before', async (t) => {
  await withRootsBase(t, async (base) => {
    const r = await sweep({
      fresh: plainRoots(base, async (root) => {
        await installed(root, 'hello-1.0');
        await editConffile(root);
        await installed(root, 'hello-2.0'); // keeps the modified conffile, adds /etc/hello.conf.dpkg-dist
      }),
      argv: ['purge', 'hello'],
      stagingBase: defaultStaging,
    });
    report(t, r);
  });
});

test('the real binary reports an injected failure on one line and exits 1', async () => {
  await withTempDir('failure-bin', async (root) => {
    await emptyRoot(root);
    const before = await rootState(root);
    const r = await om(root, ['install', debs['hello-1.0']], { spawn: true, env: { OVERMERGE_DEBUG_FAIL_AT: '3' } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^overmerge: injected failure at crash point 3[^\n]*\n$/);
    assertSameTree(await rootState(root), before, 'root after the failed install');
  });
});
