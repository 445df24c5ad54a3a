import { fsError } from '../errors';
import type { HostPath } from './host-path';
import { errnoError, optionalAddon } from './own-addon';

/*
 * The binding of src/fs/native/copy_entry.c, which copies one non-directory entry whole (copytree.ts,
 * copyLeafNative), and its failures worded as fsError words the same failure of Node's calls.
 */

/** copy_entry.c's answer (its KIND_*) and flags (FLAG_*). */
export const enum NativeKind {
  Dir = 0,
  File = 1,
  Symlink = 2,
  Special = 3,
  Linked = 4,
  Socket = 5,
}
export const enum NativeFlag {
  AsRoot = 1,
  OwnDir = 2,
  Force = 4,
  NoClone = 8,
}
/** Added to NativeKind.File: the filesystems refused a reflink (pass NoClone from then on). */
export const CLONE_REFUSED = 0x100;

export interface CopyEntryBinding {
  /** See src/fs/native/copy_entry.c; throws with errnoNumber, op, at (0 src, 1 dst, 2 both) and xattr. */
  copyEntry(src: string, dst: string, flags: number, out: BigUint64Array, uid: number, gid: number): number;
}

export const copyEntryBinding = optionalAddon<CopyEntryBinding>('copy_entry');

/** The addon's failure as fsError words the same failure of the JS path (same op, same paths). */
export function nativeCopy(
  native: CopyEntryBinding,
  src: HostPath,
  dst: HostPath,
  flags: number,
  out: BigUint64Array,
  self: { uid: number; gid: number },
): number {
  try {
    return native.copyEntry(src, dst, flags, out, self.uid, self.gid);
  } catch (err) {
    const e = err as { errnoNumber?: number; op?: string; at?: number; xattr?: string };
    if (e.errnoNumber === undefined) throw fsError('copy', err, src, dst);
    const cause = errnoError(err as Error, e.errnoNumber);
    const op = e.xattr === undefined ? (e.op ?? 'copy') : `${e.op} ${e.xattr} ${e.at === 0 ? 'of' : 'on'}`;
    if (e.at === 2) throw fsError(op, cause, src, dst);
    throw fsError(op, cause, e.at === 0 ? src : dst);
  }
}
