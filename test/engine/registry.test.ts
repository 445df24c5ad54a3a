import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { openDatabase } from '../../src/db/open';
import { CrashPoints } from '../../src/engine/crash';
import { Executor, finishJournal, undoJournal } from '../../src/engine/phases/execute';
import { BUILTIN_STEPS, StepRegistry } from '../../src/engine/steps/registry';
import type { StepKind } from '../../src/engine/steps/step-kind';
import { openRoot } from '../../src/fs/rootpath';
import { withTempDir } from '../helpers/temp';

/**
 * A kind of step that exists only in this test: registering it is all it takes for the executor, undo
 * and finish to run it — no switch elsewhere knows the kinds. It notes what happened to it in a log file
 * named by its payload, so the test sees which of its functions ran, in which order, with which payload.
 */
interface NoopStep {
  kind: 'noop';
  label: string;
  log: string;
}

interface NoopPayload {
  label: string;
  log: string;
}

const noopStep: StepKind<'noop', NoopStep, NoopPayload> = {
  kind: 'noop',
  concretize: (s) => ({ label: s.label, log: s.log }),
  run: (p) => fsp.appendFile(p.log, `run ${p.label}\n`),
  undo: (p) => fsp.appendFile(p.log, `undo ${p.label}\n`),
  // A label ending in `~` stands for a step that kept nothing (a placement with no backup).
  keptNothing: (p) => p.label.endsWith('~'),
  finish: (p) => fsp.appendFile(p.log, `finish ${p.label}\n`),
};

async function engine(dir: string, failAt?: number) {
  const db = openDatabase(path.join(dir, 'db.sqlite'));
  const root = await openRoot(dir);
  const registry = new StepRegistry([...BUILTIN_STEPS, noopStep]);
  const crash = new CrashPoints(undefined, undefined, failAt);
  const txnId = db.txns.begin('install', []);
  const exec = new Executor(db, txnId, registry, { root, mode: 'rename', asRoot: false, crash, batchSize: 2 });
  return { db, registry, crash, txnId, exec };
}

const log = (dir: string) => path.join(dir, 'log');
const planned = (dir: string, n: number): NoopStep[] => Array.from({ length: n }, (_, i) => ({ kind: 'noop', label: `#${i + 1}`, log: log(dir) }));
const read = async (dir: string) => (await fsp.readFile(log(dir), 'utf8')).trim().split('\n');

describe('the step registry: a new kind is a file and a registration', () => {
  it('runs, journals and finishes steps of a kind registered by a test', async () => {
    await withTempDir('registry', async (dir) => {
      const { db, registry, crash, txnId, exec } = await engine(dir);
      try {
        await exec.run(planned(dir, 3));
        const journal = [...db.journal.steps(txnId)];
        assert.deepEqual(
          journal.map((j) => [j.kind, j.state, j.data]),
          [1, 2, 3].map((i) => ['noop', 'done', { label: `#${i}`, log: log(dir) }]),
        );
        db.txns.commit(txnId);
        await finishJournal(db, txnId, registry, crash);
        assert.deepEqual(await read(dir), ['run #1', 'run #2', 'run #3', 'finish #1', 'finish #2', 'finish #3']);
        assert.equal(db.journal.count(txnId), 0, 'the journal is forgotten once finished');
      } finally {
        db.close();
      }
    });
  });

  it('finishes only the steps that kept something, and still forgets them all', async () => {
    await withTempDir('registry', async (dir) => {
      const { db, registry, crash, txnId, exec } = await engine(dir);
      try {
        await exec.run(['#1', '#2~', '#3~', '#4'].map((label): NoopStep => ({ kind: 'noop', label, log: log(dir) })));
        db.txns.commit(txnId);
        await finishJournal(db, txnId, registry, crash);
        assert.deepEqual(await read(dir), ['run #1', 'run #2~', 'run #3~', 'run #4', 'finish #1', 'finish #4']);
        assert.equal(db.journal.count(txnId), 0);
      } finally {
        db.close();
      }
    });
  });

  it('undoes its steps newest first when a later point fails, the ones that never ran included', async () => {
    await withTempDir('registry', async (dir) => {
      // Points: intents of #1 and #2 (1), run #1 (2), run #2 (3), done (4), intents of #3 (5), run #3 fails at 6.
      const { db, registry, crash, txnId, exec } = await engine(dir, 6);
      try {
        await assert.rejects(exec.run(planned(dir, 3)), { code: 'E_CRASH_INJECTED' });
        await undoJournal(db, txnId, registry, crash);
        assert.deepEqual(await read(dir), ['run #1', 'run #2', 'run #3', 'undo #3', 'undo #2', 'undo #1']);
        assert.deepEqual([...db.journal.steps(txnId)].map((j) => j.state), ['undone', 'undone', 'undone']);
      } finally {
        db.close();
      }
    });
  });

  it('refuses a journal record of a kind it does not know, naming it, and a kind registered twice', async () => {
    await withTempDir('registry', async (dir) => {
      const { db, txnId, exec, crash } = await engine(dir);
      try {
        await exec.run(planned(dir, 1));
        await assert.rejects(undoJournal(db, txnId, new StepRegistry(), crash), {
          code: 'E_UNFINISHED',
          message: "the journal holds a step of kind 'noop', which this overmerge does not know",
        });
        assert.throws(() => new StepRegistry([...BUILTIN_STEPS, noopStep, noopStep]), /step kind 'noop' is registered twice/);
      } finally {
        db.close();
      }
    });
  });
});
