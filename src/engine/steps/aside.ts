import { backupState, discardBackup, planMoveAside, type BackupHandle } from '../../fs/move-aside';
import type { HostPath } from '../../fs/host-path';
import type { FinishContext } from './step-kind';

/**
 * What happens to whatever is at a step's path before the step puts something there:
 * - 'none': nothing is there;
 * - 'link': a non-directory is there; keep a hard-linked backup and replace it atomically by rename, so the
 *   path never disappears (a running system keeps finding /usr/lib/x);
 * - 'move': it is moved aside as a whole (a directory replaced by a non-directory, or anything replaced by a
 *   directory) — the step that needs the copy fallback on overlayfs.
 */
export type Aside = 'none' | 'link' | 'move';

/** movefile's handle for what is at `target`, named before anything happens (journaled with the step). */
export function backupFor(target: HostPath, aside: Aside): BackupHandle | undefined {
  return aside === 'none' ? undefined : planMoveAside(target, { keepOriginal: aside === 'link' });
}

/**
 * Whether what is at the target can only be the newly placed entry: nothing was there before, or the
 * old entry was moved aside completely. A hard-link backup leaves the old entry at the target until the
 * new one replaces it, so restoring the link is what undoes it.
 */
export async function placedAlone(backup: BackupHandle | undefined): Promise<boolean> {
  if (backup === undefined) return true;
  if (backup.keepOriginal) return false;
  return (await backupState(backup)) === 'aside';
}

/** After the commit: keep the backed-up content if asked (--keep-backups), then let go of the backup. */
export async function letGoOfBackup(backup: BackupHandle | undefined, ctx: FinishContext): Promise<void> {
  if (backup === undefined) return;
  await ctx.keeper?.keep(backup);
  await discardBackup(backup, { hooks: ctx.hooks, sync: ctx.sync });
}
