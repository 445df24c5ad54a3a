import type { Writer } from '../context';
import { blobStore } from '../context';
import type { CrashPoints } from '../crash';
import { pruneBackups } from '../backup-retention';
import { BackupKeeper } from '../keep-backups';
import type { StepRegistry } from '../steps/registry';
import { finishJournal } from './execute';

export interface FinishOptions {
  steps: StepRegistry;
  crash: CrashPoints;
  /** The transaction kept its backups (--keep-backups): take them into the store before letting go. */
  keepBackups: boolean;
  backupRetention: number;
  /** The caller's own clean-up after the journal's (a rollback removes the blobs it released). */
  after?: () => Promise<void>;
}

/**
 * The finish phase, after the commit: every step lets go of what it kept for undo (backups, the staging
 * folder), what --keep-backups keeps goes into the store first, then older transactions lose their
 * backups beyond the retention. A crash here leaves a committed transaction that `recover` finishes.
 */
export async function finishTransaction(w: Writer, txnId: number, opts: FinishOptions): Promise<void> {
  const keeper = opts.keepBackups ? new BackupKeeper(w.db, txnId, w.loc.root, blobStore(w.loc)) : undefined;
  await finishJournal(w.db, txnId, opts.steps, opts.crash, keeper, w.dpkg);
  await opts.after?.();
  if (opts.keepBackups) await pruneBackups(w.db, blobStore(w.loc), opts.backupRetention);
}
