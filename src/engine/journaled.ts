import type { BackupHandle } from '../fs/move-aside';
import type { PlacePlan } from '../fs/place';
import type { EntryMeta } from '../stage/manifest';
import type { SpecialEntry } from '../fs/entries';

/**
 * A planned step made concrete: host paths, and every temporary or backup name chosen *before* anything
 * is done, so the journal record written ahead of the step tells `recover` exactly which names to look
 * for. Plain JSON: it is what the journal stores.
 *
 * `backup` is movefile's handle for whatever was at the target: kept in place as a hard link
 * (`keepOriginal`, for an atomic replace) or moved aside whole (rename, or the copy fallback on EXDEV).
 */
export type JournaledStep =
  | { op: 'staging'; dir: string }
  | { op: 'mkdir'; target: string; meta: EntryMeta; backup?: BackupHandle }
  | { op: 'place-file'; target: string; plan: PlacePlan; backup?: BackupHandle }
  | { op: 'place-special'; target: string; temp: string; entry: SpecialEntry; backup?: BackupHandle }
  | { op: 'remove'; target: string; backup: BackupHandle }
  // An emptied directory goes only after the commit: the backups of its children live in it until then.
  | { op: 'rmdir'; target: string };
