import type { Writer } from './context';
import { blobStore } from './context';
import type { CrashPoints } from './crash';
import { BackupKeeper, collectOrphanBlobs } from './keep-backups';
import { importFromDpkg } from './dpkg-import';
import { finishJournal, undoJournal } from './phases/execute';
import type { ScriptSession } from './script-session';
import { guardRecovery } from './reconcile-guard';
import type { StepRegistry } from './steps/registry';

export interface Recovered {
  txnId: number;
  kind: string;
  /** old: interrupted before its commit record, undone; new: committed, its clean-up finished. */
  outcome: 'old' | 'new';
}

/**
 * Brings the root and the database to a consistent state after a crash: a transaction without a commit
 * record is undone step by step, newest first (the root is then exactly as before it); a committed one
 * has its backups and temporaries let go of (the root is exactly as after it). Every step is idempotent,
 * so a crash during recovery is recovered by the next run.
 */
export async function recoverAll(w: Writer, steps: StepRegistry, crash: CrashPoints, scripts?: ScriptSession): Promise<Recovered[]> {
  const { db, loc } = w;
  const out: Recovered[] = [];
  for (const t of [...db.txns.open(), ...db.txns.unfinished()]) guardRecovery(t, loc.root.host);
  for (const t of db.txns.open()) {
    await undoJournal(db, t.id, steps, crash, w.dpkg, scripts);
    db.transaction(() => {
      db.journal.clear(t.id);
      db.txns.finish(t.id, 'recovered-old', 'interrupted; undone by recover');
    });
    crash.tick();
    out.push({ txnId: t.id, kind: t.kind, outcome: 'old' });
  }
  for (const t of db.txns.unfinished()) {
    await finishJournal(db, t.id, steps, crash, t.backupsKept ? new BackupKeeper(db, t.id, loc.root, blobStore(loc)) : undefined, w.dpkg);
    out.push({ txnId: t.id, kind: t.kind, outcome: 'new' });
  }
  await collectOrphanBlobs(db, blobStore(loc));
  // With every transaction settled, what dpkg or apt did meanwhile is taken in.
  if (w.dpkg) await importFromDpkg(db, w.dpkg, loc.root);
  return out;
}
