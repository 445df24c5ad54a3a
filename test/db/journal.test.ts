import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Db } from '../../src/db/db';
import { openDatabase } from '../../src/db/open';
import { OvermergeError } from '../../src/errors';
import { withTempDirSync } from '../helpers/temp';

function withDb(fn: (db: Db) => void): void {
  withTempDirSync('db-journal', (dir) => {
    const db = openDatabase(path.join(dir, 'db.sqlite'));
    try {
      fn(db);
    } finally {
      db.close();
    }
  });
}

const internal = (e: unknown): boolean => e instanceof OvermergeError && e.code === 'E_INTERNAL';

test('journal: intent, done (merging data), undone; steps in order and reversed', () => {
  withDb((db) => {
    const t = db.txns.begin('install', ['a.deb']);
    const other = db.txns.begin('install', ['b.deb']);
    const s1 = db.journal.intend(t, 'move-aside', { path: 'usr/bin/a', aside: 'usr/bin/.a.om-1' });
    const o1 = db.journal.intend(other, 'mkdir', { path: 'opt' });
    const s2 = db.journal.intend(t, 'place', { path: 'usr/bin/a', from: 'stage/1' });
    db.journal.done(s1, { backup: 'ab12', aside: null });
    db.journal.done(s2);
    db.journal.undone(s2);
    db.journal.undone(s1);
    assert.deepEqual(
      [...db.journal.steps(t)],
      [
        { id: s1, txnId: t, seq: 1, kind: 'move-aside', data: { path: 'usr/bin/a', backup: 'ab12' }, state: 'undone' },
        { id: s2, txnId: t, seq: 2, kind: 'place', data: { path: 'usr/bin/a', from: 'stage/1' }, state: 'undone' },
      ],
    );
    assert.deepEqual(
      [...db.journal.steps(t, { reverse: true })].map((s) => s.seq),
      [2, 1],
    );
    assert.equal(db.journal.get(o1)?.seq, 1, 'seq counts per transaction');
    assert.equal(db.journal.get(o1)?.state, 'intent');
    assert.equal(db.journal.count(t), 2);
    assert.equal(db.journal.get(99999), undefined);
  });
});

test('journal: state changes out of order are refused', () => {
  withDb((db) => {
    const t = db.txns.begin('remove', ['x']);
    const s = db.journal.intend(t, 'remove', { path: 'etc/x' });
    db.journal.done(s);
    assert.throws(() => db.journal.done(s), internal, 'done twice');
    db.journal.undone(s);
    assert.throws(() => db.journal.undone(s), internal, 'undone twice');
    assert.throws(() => db.journal.done(s), internal, 'done after undone');
    assert.throws(() => db.journal.done(424242), internal, 'no such step');
    assert.throws(
      () => db.journal.intend(424242, 'place', {}),
      (e: unknown) => e instanceof OvermergeError && e.code === 'E_DB' && /FOREIGN KEY/.test(e.message),
    );
  });
});

test('journal: batched intents, done and undone, and clear', () => {
  withDb((db) => {
    const t = db.txns.begin('install', []);
    db.journal.intend(t, 'mkdir', { path: 'usr' });
    const ids = db.journal.intendMany(
      t,
      Array.from({ length: 1000 }, (_, i) => ({ kind: 'place', data: { path: `usr/f${i}` } })),
    );
    assert.equal(ids.length, 1000);
    const steps = [...db.journal.steps(t)];
    assert.deepEqual(
      steps.map((s) => s.seq),
      Array.from({ length: 1001 }, (_, i) => i + 1),
    );
    assert.deepEqual(steps.slice(1).map((s) => s.id), ids);
    assert.equal(steps[1000].data.path, 'usr/f999');
    db.journal.doneMany(ids.slice(0, 500));
    db.journal.undoneMany(ids.slice(400, 600));
    const states = [...db.journal.steps(t)].slice(1).map((s) => s.state);
    assert.equal(states.filter((s) => s === 'done').length, 400);
    assert.equal(states.filter((s) => s === 'undone').length, 200);
    assert.equal(states.filter((s) => s === 'intent').length, 400);
    // A batch with one bad id changes nothing.
    assert.throws(() => db.journal.doneMany([ids[999], ids[0]]), internal);
    assert.equal(db.journal.get(ids[999])?.state, 'intent');
    // Consecutive ids are marked as runs: a run that holds one step undone already changes nothing either.
    assert.throws(() => db.journal.doneMany(ids.slice(590, 620)), internal);
    assert.equal(db.journal.get(ids[610])?.state, 'intent');
    db.journal.doneMany([ids[801], ids[802], ids[700], ids[702], ids[703]]);
    assert.deepEqual([700, 701, 702, 703, 800, 801, 802, 803].map((i) => db.journal.get(ids[i])?.state), ['done', 'intent', 'done', 'done', 'intent', 'done', 'done', 'intent']);
    // A second batch's seq follows the first's.
    const more = db.journal.intendMany(t, [{ kind: 'place', data: { path: 'usr/g' } }]);
    assert.equal(db.journal.get(more[0])?.seq, 1002);
    assert.equal(db.journal.clear(t), 1002);
    assert.deepEqual([...db.journal.steps(t)], []);
  });
});

test('journal: an unfinished transaction and its steps survive close and reopen', () => {
  withTempDirSync('db-journal', (dir) => {
    const file = path.join(dir, 'db.sqlite');
    const db = openDatabase(file);
    const t = db.txns.begin('install', ['a.deb']);
    const done = db.journal.intend(t, 'move-aside', { path: 'usr/lib/x', aside: 'usr/lib/.x.om' });
    db.journal.done(done);
    db.journal.intend(t, 'place', { path: 'usr/lib/x' });
    const committed = db.txns.begin('remove', ['b']);
    db.transaction(() => db.txns.commit(committed));
    db.close();

    const again = openDatabase(file);
    try {
      assert.deepEqual(
        again.txns.open().map((x) => [x.id, x.kind, x.args]),
        [[t, 'install', ['a.deb']]],
      );
      assert.deepEqual(
        [...again.journal.steps(t)].map((s) => [s.kind, s.state, s.data.path]),
        [
          ['move-aside', 'done', 'usr/lib/x'],
          ['place', 'intent', 'usr/lib/x'],
        ],
      );
    } finally {
      again.close();
    }
  });
});

test('journal: an intent is durable the moment intend() returns, even if the process is then killed', () => {
  withTempDirSync('db-journal', (dir) => {
    const file = path.join(dir, 'db.sqlite');
    openDatabase(file).close();
    const openJs = path.resolve(__dirname, '../../src/db/open.js');
    // The child journals one intent, then dies by SIGKILL without closing: no checkpoint, no cleanup; the
    // intent lives only in the WAL, which the next open must replay.
    const child = `
      const { openDatabase } = require(${JSON.stringify(openJs)});
      const db = openDatabase(${JSON.stringify(file)});
      const t = db.txns.begin('install', ['crash.deb']);
      db.journal.intend(t, 'move-aside', { path: 'usr/share/x' });
      process.kill(process.pid, 'SIGKILL');
    `;
    const r = spawnSync(process.execPath, ['-e', child], { encoding: 'utf8' });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    assert.ok(fs.existsSync(`${file}-wal`), 'the killed writer left its WAL behind');
    const db = openDatabase(file);
    try {
      const open = db.txns.open();
      assert.equal(open.length, 1);
      assert.deepEqual(open[0].args, ['crash.deb']);
      assert.deepEqual(
        [...db.journal.steps(open[0].id)].map((s) => [s.kind, s.state, s.data]),
        [['move-aside', 'intent', { path: 'usr/share/x' }]],
      );
    } finally {
      db.close();
    }
  });
});
