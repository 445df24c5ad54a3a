import { expectOne, guarded, guardedIter } from './db-error';
import type { Statements } from './statements';
import type { JournalData, JournalKind, JournalStep, StepInput } from './types';

const COLUMNS = `id, txn_id AS txnId, seq, kind, data, state`;

export const JOURNAL_SQL = {
  intend: `INSERT INTO journal (txn_id, seq, kind, data, state)
    SELECT ?, coalesce(max(seq), 0) + 1, ?, ?, 'intent' FROM journal WHERE txn_id = ?
    RETURNING id`,
  // A batch's intents: its first seq read once, then plain inserts (the subquery above is a B-tree descent
  // a row, and RETURNING a row object a row: a tenth of a 116,010-member install's CPU was its journal).
  lastSeq: `SELECT coalesce(max(seq), 0) AS seq FROM journal WHERE txn_id = ?`,
  append: `INSERT INTO journal (txn_id, seq, kind, data, state) VALUES (?, ?, ?, ?, 'intent')`,
  done: `UPDATE journal SET state = 'done' WHERE id = ? AND state = 'intent'`,
  // A batch's ids are consecutive (one SQLite transaction under the lock): one statement marks a run of them.
  // OR ROLLBACK: a multi-row statement that may abort (the CHECK on state) needs a statement journal holding
  // the old contents of every page it writes; with ROLLBACK there is nothing to take back but the whole.
  doneRun: `UPDATE OR ROLLBACK journal SET state = 'done' WHERE id BETWEEN ? AND ? AND state = 'intent'`,
  // json_patch merges: keys given replace or add, keys set to null are removed (RFC 7396).
  doneWithData: `UPDATE journal SET state = 'done', data = json_patch(data, ?) WHERE id = ? AND state = 'intent'`,
  undone: `UPDATE journal SET state = 'undone' WHERE id = ? AND state IN ('intent', 'done')`,
  get: `SELECT ${COLUMNS} FROM journal WHERE id = ?`,
  steps: `SELECT ${COLUMNS} FROM journal WHERE txn_id = ? ORDER BY seq`,
  stepsReverse: `SELECT ${COLUMNS} FROM journal WHERE txn_id = ? ORDER BY seq DESC`,
  pageAfter: `SELECT ${COLUMNS} FROM journal WHERE txn_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
  pageBefore: `SELECT ${COLUMNS} FROM journal WHERE txn_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
  count: `SELECT count(*) AS n FROM journal WHERE txn_id = ?`,
  // A page at a time: SQLite gathers the rows a DELETE removes before removing them (24 bytes of malloc a
  // row, 3 MiB for a journal of 116,010 steps, at the end of a transaction's peak); a page's worth is freed
  // again for the next.
  clearPage: `DELETE FROM journal WHERE id IN (SELECT id FROM journal WHERE txn_id = ? LIMIT ?)`,
} as const;

interface RawStep extends Omit<JournalStep, 'data'> {
  data: string;
}

function toStep(r: RawStep): JournalStep {
  return { ...r, data: JSON.parse(r.data) as JournalData };
}

/** Journal rows deleted per statement when a transaction's journal is cleared. */
const CLEAR_PAGE = 4096;

/**
 * The write-ahead journal of filesystem steps. Outside a `Db.transaction` each call is its own durable
 * SQLite commit (synchronous=FULL): `intend` returns only once the intent is on disk, so the step may then
 * be performed; `done` records that it happened. The *Many variants write a batch in one commit.
 */
export class Journal {
  constructor(private readonly s: Statements) {}

  /** Records the intent to perform a step; returns the step id. */
  intend(txnId: number, kind: JournalKind, data: object): number {
    return guarded(this.s.file, `journal a ${kind} step of transaction ${txnId}`, () => this.insert(txnId, kind, data));
  }

  /** Records several intents in one SQLite commit; ids come back in input order (seq follows it too). */
  intendMany(txnId: number, steps: Iterable<StepInput>): number[] {
    return guarded(this.s.file, `journal steps of transaction ${txnId}`, () =>
      this.s.inTransaction(() => {
        const append = this.s.get(JOURNAL_SQL.append);
        let seq = (this.s.get(JOURNAL_SQL.lastSeq).get(txnId) as { seq: number }).seq;
        const ids: number[] = [];
        for (const st of steps) ids.push(Number(append.run(txnId, ++seq, st.kind, JSON.stringify(st.data)).lastInsertRowid));
        return ids;
      }),
    );
  }

  /** Marks an intended step done, merging `data` (e.g. the backup handle) into its payload if given. */
  done(stepId: number, data?: object): void {
    guarded(this.s.file, `journal step ${stepId} as done`, () => this.markDone(stepId, data));
  }

  /**
   * Marks intended steps done. Not synced on its own: undo and finish treat an intent and a done step
   * alike (every step's undo works from any point of its run), so losing these marks in a power cut is
   * the same as a crash just before they were written; the next intent or the commit syncs them.
   */
  doneMany(stepIds: Iterable<number>): void {
    guarded(this.s.file, 'journal steps as done', () =>
      this.s.inTransactionLazily(() => {
        const run = this.s.get(JOURNAL_SQL.doneRun);
        let first = NaN;
        let last = NaN;
        // Every step of a run must have been intended and not done, as `done` asks of one: else the
        // whole batch is rolled back with the error.
        const mark = (): void => {
          if (Number.isNaN(first)) return;
          const changes = run.run(first, last).changes;
          expectOne(this.s, changes === last - first + 1 ? 1 : 0, `journal steps ${first} to ${last} (intended, not done)`);
        };
        for (const id of stepIds) {
          if (id === last + 1) last = id;
          else {
            mark();
            first = last = id;
          }
        }
        mark();
      }),
    );
  }

  /** Marks a step (intended or done) as undone: its effect has been reversed or never happened. */
  undone(stepId: number): void {
    guarded(this.s.file, `journal step ${stepId} as undone`, () => {
      expectOne(this.s, this.s.get(JOURNAL_SQL.undone).run(stepId).changes, `journal step ${stepId} (not undone yet)`);
    });
  }

  undoneMany(stepIds: Iterable<number>): void {
    guarded(this.s.file, 'journal steps as undone', () =>
      this.s.inTransaction(() => {
        const st = this.s.get(JOURNAL_SQL.undone);
        for (const id of stepIds) expectOne(this.s, st.run(id).changes, `journal step ${id} (not undone yet)`);
      }),
    );
  }

  get(stepId: number): JournalStep | undefined {
    return guarded(this.s.file, `read journal step ${stepId}`, () => {
      const r = this.s.get(JOURNAL_SQL.get).get(stepId) as RawStep | undefined;
      return r === undefined ? undefined : toStep(r);
    });
  }

  /**
   * The steps of a transaction in order (newest first with `reverse`, the order to undo them), streamed.
   * Reads are allowed while iterating, writes are not (better-sqlite3): collect ids first, or finish.
   */
  steps(txnId: number, opts: { reverse?: boolean } = {}): Generator<JournalStep, void, undefined> {
    const s = this.s;
    const sql = opts.reverse ? JOURNAL_SQL.stepsReverse : JOURNAL_SQL.steps;
    return guardedIter(s.file, `read the journal of transaction ${txnId}`, function* () {
      for (const r of s.get(sql).iterate(txnId) as IterableIterator<RawStep>) yield toStep(r);
    });
  }

  /**
   * Up to `limit` steps after `seq` (in order), or before it with `reverse` (newest first), read whole:
   * a caller that writes between pages (marking steps undone) holds one page in memory, never the journal.
   */
  page(txnId: number, from: number, limit: number, opts: { reverse?: boolean } = {}): JournalStep[] {
    const sql = opts.reverse ? JOURNAL_SQL.pageBefore : JOURNAL_SQL.pageAfter;
    return guarded(this.s.file, `read the journal of transaction ${txnId}`, () =>
      (this.s.get(sql).all(txnId, from, limit) as RawStep[]).map(toStep),
    );
  }

  count(txnId: number): number {
    return guarded(this.s.file, `count the journal of transaction ${txnId}`, () =>
      (this.s.get(JOURNAL_SQL.count).get(txnId) as { n: number }).n,
    );
  }

  /**
   * Drops a finished transaction's steps once nothing can need them (after clean-up). Not synced on its
   * own: finishing is idempotent, so losing this in a power cut only means `recover` finishes the
   * transaction again; the next commit, or the checkpoint SQLite makes when the database is closed (the
   * end of every command), makes it durable.
   */
  clear(txnId: number): number {
    return guarded(this.s.file, `clear the journal of transaction ${txnId}`, () =>
      this.s.inTransactionLazily(() => {
        // Every page in one SQLite transaction: the journal goes at once, as with one DELETE.
        let cleared = 0;
        for (;;) {
          const n = this.s.get(JOURNAL_SQL.clearPage).run(txnId, CLEAR_PAGE).changes;
          cleared += n;
          if (n < CLEAR_PAGE) return cleared;
        }
      }),
    );
  }

  private insert(txnId: number, kind: JournalKind, data: object): number {
    const row = this.s.get(JOURNAL_SQL.intend).get(txnId, kind, JSON.stringify(data), txnId) as { id: number };
    return row.id;
  }

  private markDone(stepId: number, data: object | undefined): void {
    const changes =
      data === undefined
        ? this.s.get(JOURNAL_SQL.done).run(stepId).changes
        : this.s.get(JOURNAL_SQL.doneWithData).run(JSON.stringify(data), stepId).changes;
    expectOne(this.s, changes, `journal step ${stepId} (intended, not done)`);
  }
}

