import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { PLACE_RUN_MIN } from '../../src/engine/plan';
import { openDatabase } from '../../src/db/open';
import { assertConsistent, assertMonotonic, captureSide, countPoints, forEachPoint, pendingTransactions, recoverIn, spawnOm, sweepWidth, type Side, type SideState } from '../helpers/crash-harness';
import { makeScratch, plainFresh, type Scratch } from '../helpers/crash-scenarios';
import { buildAdHocDeb } from '../helpers/fixtures';
import { gate } from '../helpers/gate';
import { ADMIN_REL } from '../helpers/root-state';
import { withTempDir } from '../helpers/temp';
import { promises as fsp } from 'node:fs';

/**
 * A fresh install of a folder of more files than PLACE_RUN_MIN, which the plan lists as one run of fresh
 * files (plan-model.ts PlaceFilesRun): killed at crash points spread over the run, the journal holds a
 * place-file step per member placed or about to be, in archive order, as a plan of a step per member
 * gave it, and `recover` brings the root to exactly the old or the new state.
 */

const FILES = PLACE_RUN_MIN + 300;
let scratch: Scratch | undefined;
let deb = '';
let template = '';

before(async () => {
  scratch = await makeScratch('run-crash');
  const entries = Array.from({ length: FILES }, (_, i) => ({ path: `usr/share/many/${String(i).padStart(6, '0')}`, type: 'file' as const, content: '' }));
  deb = await buildAdHocDeb(scratch.dir, { name: 'many', version: '1', entries });
  template = path.join(scratch.dir, 'empty');
  let dir = template;
  for (const part of ['', 'var', 'lib', 'overmerge']) {
    dir = path.join(dir, part);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.chmod(dir, 0o755);
  }
});

after(async () => {
  await scratch?.dispose();
});

/** The host paths the pending transaction's place-file intents target, in journal order. */
function journaledTargets(root: string): string[] {
  const db = openDatabase(path.join(root, ADMIN_REL, 'db.sqlite'), { readonly: true });
  try {
    const [txn] = [...db.txns.open(), ...db.txns.unfinished()];
    if (txn === undefined) return [];
    const targets: string[] = [];
    for (const s of db.journal.steps(txn.id)) {
      assert.ok(['staging', 'mkdir', 'place-file'].includes(s.kind), `journal step of kind ${s.kind}`);
      if (s.kind === 'place-file') targets.push((s.data as { target: string }).target);
    }
    return targets;
  } finally {
    db.close();
  }
}

for (const batch of [undefined, '1']) {
  test(`crash points inside a run of fresh files, journal batch ${batch ?? 'default'}`, async (t) => {
    if (gate(t, { root: 'file owners' })) return;
    await withTempDir({ prefix: 'run', parent: scratch!.dir }, async (dir) => {
      const fresh = plainFresh(template, dir);
      const env: Record<string, string> = batch === undefined ? {} : { OVERMERGE_DEBUG_JOURNAL_BATCH: batch };
      const argv = ['install', deb];
      const old = await fresh((root) => captureSide(root));
      let points = 0;
      const neu = await fresh(async (root) => {
        points = await countPoints(root, argv, path.join(dir, 'count'), { env });
        return captureSide(root);
      });
      const refs: Record<Side, SideState> = { old, new: neu };
      // Spread over the whole command: most of its points are the run's members.
      const picks = [...new Set(Array.from({ length: 12 }, (_, i) => 1 + Math.floor((i * (points - 1)) / 11)))];
      const sides = await forEachPoint(picks.length, sweepWidth(), async (i) => {
        const n = picks[i - 1];
        const what = `crash point ${n}/${points}, batch ${batch ?? 'default'}`;
        return fresh(async (root) => {
          const killed = await spawnOm(root, argv, { quiet: true, env: { ...env, OVERMERGE_DEBUG_CRASH_AT: String(n) } });
          assert.equal(killed.signal, 'SIGKILL', `${what}: ${killed.stderr}`);
          const pending = pendingTransactions(root);
          if (pending > 0) {
            const targets = journaledTargets(root);
            const expected = targets.map((_, k) => path.join(root, 'usr/share/many', String(k).padStart(6, '0')));
            assert.deepEqual(targets, expected, `${what}: the journal's place-file steps are the members in order`);
          }
          const recovered = await recoverIn(root);
          assert.equal(recovered.length > 0, pending > 0, what);
          const side = await assertConsistent(root, refs, what);
          if (recovered.length > 0) assert.equal(recovered[0].outcome, side, what);
          return side;
        });
      });
      assertMonotonic(sides, `batch ${batch ?? 'default'}`);
      t.diagnostic(`${points} crash points, ${picks.length} taken: ${sides.join(' ')}`);
    });
  });
}
