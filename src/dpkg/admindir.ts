import * as path from 'node:path';
import { makeFoldersSync } from '../fs/atomic-file';

/**
 * The layout of dpkg's admin directory (`ROOT/var/lib/dpkg`, or `--admindir`), with dpkg's own names
 * (lib/dpkg/dpkg.h). Only this module joins the admin directory and a name.
 *
 * Locks (not taken here; the engine takes them with the fcntl lock primitive before it opens a DpkgDb for
 * writing). What dpkg 1.21 does, in this order (lib/dpkg/dbmodify.c modstatdb_lock, triglib/trigdeferred):
 *   1. `lock-frontend`: opened O_RDWR|O_CREAT|O_TRUNC, mode 0660, then fcntl F_SETLK (F_WRLCK, whole file,
 *      no waiting). Skipped when DPKG_FRONTEND_LOCKED is set in the environment: apt takes this lock itself,
 *      then runs dpkg with that variable, so a frontend keeps it across several dpkg runs.
 *   2. `lock`: the database lock, same open flags and fcntl call, taken right after the frontend lock.
 *      apt takes `lock-frontend`, then `lock`, and releases `lock` (keeping the frontend lock) while dpkg
 *      runs; dpkg-query, `dpkg -s/-L/-l` and apt's status reading take no lock at all.
 *   3. `triggers/Lock`: mode 0600, fcntl F_SETLKW (waits). dpkg takes it after the two above when it
 *      incorporates triggers at open; dpkg-trigger (run by maintainer scripts while dpkg holds 1 and 2)
 *      takes only this one to append to `triggers/Unincorp`.
 * dpkg-divert and dpkg-statoverride take no lock in 1.21: they are run by maintainer scripts under dpkg's
 * lock, or by an administrator. Both locks are held until the end of the run, after the final checkpoint.
 * An overmerge writer must take 1 then 2 (honouring DPKG_FRONTEND_LOCKED the same way), then 3 before it
 * touches `triggers/`; a reader needs none, which is why every write here is a rename of a complete file.
 */
export interface AdminDir {
  readonly dir: string;
}

export function adminDir(dir: string): AdminDir {
  return Object.freeze({ dir: path.resolve(dir) });
}

/** The admin directory of a root folder, as `dpkg --root=ROOT` uses it. */
export function adminDirOfRoot(root: string): AdminDir {
  return adminDir(path.join(root, 'var/lib/dpkg'));
}

export const STATUS_FILE = 'status';
export const UPDATES_DIR = 'updates';
export const INFO_DIR = 'info';
export const TRIGGERS_DIR = 'triggers';
export const DIVERSIONS_FILE = 'diversions';
export const STATOVERRIDE_FILE = 'statoverride';
export const ARCH_FILE = 'arch';
export const LOCK_FILE = 'lock';
export const FRONTEND_LOCK_FILE = 'lock-frontend';
/** Where dpkg stages a package's control members before renaming them into info/. */
export const CONTROL_TMP_DIR = 'tmp.ci';
/**
 * Where overmerge stages info files before renaming them into info/. Not tmp.ci: the engine keeps the
 * archive's control area there (its new scripts) until the commit, and an undo after the info files went
 * in still needs the new postrm from it for dpkg's abort calls.
 */
export const INFO_TMP_DIR = 'tmp.ci.info';
/** The update entry being written; renamed to the next number when complete, ignored by every reader. */
export const UPDATE_TMP = 'tmp.i';
/** Update entries are named with at least 4 digits (`%04d`), never more than 10. */
export const UPDATE_NAME_DIGITS = 4;
export const UPDATE_NAME_MAX = 10;
/** dpkg checkpoints (rewrites status, removes the entries) once it has written more than this many. */
export const MAX_UPDATES = 250;

/** The path of `name` (a file name or a relative path with '/') in the admin directory. */
export function adminPath(admin: AdminDir, ...names: string[]): string {
  return path.join(admin.dir, ...names);
}

export function statusPath(admin: AdminDir): string {
  return adminPath(admin, STATUS_FILE);
}

export function updatesPath(admin: AdminDir, name?: string): string {
  return name === undefined ? adminPath(admin, UPDATES_DIR) : adminPath(admin, UPDATES_DIR, name);
}

export function infoPath(admin: AdminDir, name?: string): string {
  return name === undefined ? adminPath(admin, INFO_DIR) : adminPath(admin, INFO_DIR, name);
}

export function triggersPath(admin: AdminDir, name?: string): string {
  return name === undefined ? adminPath(admin, TRIGGERS_DIR) : adminPath(admin, TRIGGERS_DIR, name);
}

/** The name of update entry number `n` (`0000`, `0001`, ..., as dpkg's `%04d`). */
export function updateName(n: number): string {
  return String(n).padStart(UPDATE_NAME_DIGITS, '0');
}

/** dpkg creates its admin directory (0755, with parents) when it first opens it for writing. */
export function ensureAdminDir(admin: AdminDir): void {
  makeFoldersSync(admin.dir);
}
