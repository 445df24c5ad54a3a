import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { assertMonotonic, countPoints, forEachPoint, leftoverTemporaries, pendingTransactions, recoverIn, spawnOm, sweepWidth, type Side } from '../helpers/crash-harness';
import { needs } from '../helpers/gate';
import { layerState, type LayerState } from '../helpers/layer-state';
import { mount, unmount } from '../helpers/mounts';
import { cannotSquashfs } from '../helpers/overlay-stack';
import { withReconcileWorld, type ReconcileWorld } from '../helpers/reconcile-world';
import { om } from '../helpers/run-cli';
import { makeTempDir } from '../helpers/temp';

const execFileP = promisify(execFile);

/**
 * `overlay reconcile --apply` killed (SIGKILL, OVERMERGE_DEBUG_CRASH_AT=N) at every one of its crash
 * points, each time on a fresh copy of the upper layer of helpers/reconcile-world.ts: the journal is in
 * the upper layer's database, so `overmerge recover --root UPPER` finds it, and afterwards the upper layer
 * is exactly the old one or exactly the new one — every entry, overlay attributes included — with the
 * database's packages to match, no temporary left and nothing left to recover. Sides go old…old new…new.
 * At one point the kill is also met the wrong ways: another reconcile refuses until recover, and recover
 * run on the merged root of a mounted overlay refuses (it would change a layer under a live mount).
 */

const DB_FILES = ['var/lib/overmerge/db.sqlite', 'var/lib/overmerge/db.sqlite-wal', 'var/lib/overmerge/db.sqlite-shm'];

interface Layers {
  layer: LayerState;
  db: { list: string; files: Record<string, string> };
}

async function capture(upper: string): Promise<Layers> {
  const list = await om(upper, ['--json', 'list'], { quiet: true });
  assert.equal(list.status, 0, list.stderr);
  const files: Record<string, string> = {};
  for (const p of JSON.parse(list.stdout) as Array<{ name: string }>) files[p.name] = (await om(upper, ['files', p.name], { quiet: true })).stdout;
  return { layer: await layerState(upper, DB_FILES), db: { list: list.stdout, files } };
}

function sideOf(got: Layers, refs: Record<Side, Layers>, what: string): Side {
  for (const side of ['old', 'new'] as const) {
    if (JSON.stringify(got.layer) === JSON.stringify(refs[side].layer)) {
      assert.deepEqual(got.db, refs[side].db, `${what}: the layer is the ${side} one, the database is not`);
      return side;
    }
  }
  const diff = (side: Side): string[] => {
    const [a, b] = [refs[side].layer, got.layer];
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).slice(0, 8).map((k) => `${k}: ${a[k] ?? '(none)'} => ${b[k] ?? '(none)'}`);
  };
  assert.fail(`${what}: the upper layer is neither the old nor the new one\n  vs old: ${diff('old').join('\n    ')}\n  vs new: ${diff('new').join('\n    ')}`);
}

function argv(w: ReconcileWorld, upper: string): string[] {
  return ['overlay', 'reconcile', '--upper', upper, '--lower', w.lower, '--apply', '--strip-origin'];
}

test('kill -9 at every crash point of overlay reconcile --apply: recover --root UPPER gives the old or the new layers exactly', { skip: needs({ mount: ['overlay', 'tmpfs'] }) || cannotSquashfs() }, async (t) => {
  await withReconcileWorld(async (w) => {
    const scratch = path.dirname(w.upper);
    const fresh = async <T>(fn: (upper: string, dir: string) => Promise<T>): Promise<T> => {
      const dir = await makeTempDir({ prefix: 'sweep', parent: scratch });
      try {
        await execFileP('cp', ['-a', '--', w.upper, path.join(dir, 'upper')]);
        return await fn(path.join(dir, 'upper'), dir);
      } finally {
        await fsp.rm(dir, { recursive: true, force: true });
      }
    };
    const old = await fresh((upper) => capture(upper));
    let points = 0;
    const neu = await fresh(async (upper, dir) => {
      points = await countPoints(upper, argv(w, upper), path.join(dir, 'count'));
      return capture(upper);
    });
    assert.notDeepEqual(old.layer, neu.layer);
    const refs = { old, new: neu };
    const middle = Math.floor(points / 2);
    const sides = await forEachPoint(points, sweepWidth(), (n) =>
      fresh(async (upper) => {
        const what = `crash point ${n}/${points}`;
        const killed = await spawnOm(upper, argv(w, upper), { quiet: true, env: { OVERMERGE_DEBUG_CRASH_AT: String(n) } });
        assert.equal(killed.signal, 'SIGKILL', `${what}: expected SIGKILL, got status ${killed.status}: ${killed.stderr}`);
        const pending = pendingTransactions(upper);
        const recovered = await recoverIn(upper);
        assert.equal(recovered.length > 0, pending > 0, `${what}: recover found ${recovered.length}, ${pending} pending`);
        const side = sideOf(await capture(upper), refs, what);
        if (recovered.length > 0) assert.deepEqual(recovered.map((r) => [r.kind, r.outcome]), [['reconcile', side]], what);
        else assert.equal(side, 'new', `${what}: nothing to recover, yet the layer is old`);
        assert.deepEqual(await leftoverTemporaries(upper), [], `${what}: temporaries left`);
        assert.deepEqual(await recoverIn(upper), [], `${what}: a second recover found work`);
        return side;
      }),
    );
    // After the sweep, not during it: while this overlay is mounted, its lower layer is in use, and the
    // sweep's concurrent reconciles (rightly) refuse to work on it. On a copy of its own: mounting the
    // overlay changes the upper layer (the kernel records origins on merged folders that have none at
    // lookup), so this copy is not compared with anything.
    await fresh(async (other, otherDir) => {
      await spawnOm(other, argv(w, other), { quiet: true, env: { OVERMERGE_DEBUG_CRASH_AT: String(middle) } });
      await wrongWays(w, other, otherDir, `crash point ${middle}/${points}`);
    });
    assertMonotonic(sides, 'reconcile --apply');
    assert.ok(sides.includes('old') && sides.includes('new'), `both sides reached: ${sides.join(',')}`);
    t.diagnostic(`${points} crash points: ${sides.filter((s) => s === 'old').length} recovered to old, ${sides.filter((s) => s === 'new').length} to new`);
  });
});

/** After a kill: another reconcile refuses; recover through a mounted overlay of the same upper refuses. */
async function wrongWays(w: ReconcileWorld, upper: string, dir: string, what: string): Promise<void> {
  if (pendingTransactions(upper) === 0) return;
  const again = await om(upper, argv(w, upper), { quiet: true });
  assert.equal(again.status, 1, what);
  assert.match(again.stderr, /unfinished reconcile transaction .*recover --root/, what);
  const merged = path.join(dir, 'merged');
  const work = path.join(dir, 'work');
  await fsp.mkdir(merged);
  await fsp.mkdir(work);
  await mount(['-t', 'overlay', 'overmerge-sweep', '-o', `lowerdir=${w.lower},upperdir=${upper},workdir=${work}`, merged]);
  try {
    const r = await om(merged, ['recover'], { quiet: true });
    assert.equal(r.status, 1, `${what}: recover on the merged root: ${r.stdout}`);
    assert.match(r.stderr, /is an overlay reconcile of the upper layer .*unmount the overlay and run `overmerge recover --root /, what);
    const inUse = await om(upper, ['recover'], { quiet: true });
    assert.equal(inUse.status, 1, `${what}: recover on an upper layer in use`);
    assert.match(inUse.stderr, /is a layer of the overlay mounted at/, what);
  } finally {
    await unmount(merged);
  }
}
