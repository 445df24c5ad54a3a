import * as fs from 'node:fs';
import { errnoOf, fsError, OvermergeError } from '../errors';
import { fsyncDir, makeFoldersSync, removeIfPresent, renameSync, writeDeferred, type DeferredSyncs } from '../fs/atomic-file';
import { UPDATE_NAME_MAX, UPDATE_TMP, updateName, updatesPath, type AdminDir } from './admindir';
import { corrupt } from './corrupt';

/**
 * dpkg's journal of status changes, `updates/` (lib/dpkg/dbmodify.c):
 * - every state change of one package is one complete stanza in its own file, written as `updates/tmp.i`,
 *   fsync'ed, renamed to the next number (`0000`, `0001`, ..., `%04d`), and the directory fsync'ed. From
 *   the rename on, the change is durable; before it, it never happened;
 * - readers apply status, then every entry whose name is all digits, in name order. A name of more than 10
 *   digits, or names of different lengths, make dpkg refuse the directory; anything else (`tmp.i` above
 *   all, which a killed dpkg leaves behind half written or full of `#padding`) is ignored;
 * - a checkpoint writes the merged status (status-new, fsync, status-old kept, rename) and only then
 *   removes the entries and fsyncs the directory: a crash in between applies them again, to a status
 *   that already holds them, which changes nothing.
 */
export interface UpdateName {
  readonly name: string;
  readonly number: number;
}

/** The entries of `updates/` a reader applies, in order. A missing directory has none. */
export function listUpdates(admin: AdminDir): UpdateName[] {
  const dir = updatesPath(admin);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw fsError('read directory', err, dir);
  }
  const entries = names.filter((n) => /^[0-9]+$/.test(n)).sort();
  let length: number | undefined;
  for (const name of entries) {
    if (name.length > UPDATE_NAME_MAX) {
      throw corrupt(dir, undefined, `updates directory contains file '${name}' whose name is too long (length=${name.length}, max=${UPDATE_NAME_MAX})`);
    }
    if (length !== undefined && name.length !== length) {
      throw corrupt(dir, undefined, `updates directory contains files with different length names (both ${length} and ${name.length})`);
    }
    length = name.length;
  }
  return entries.map((name) => ({ name, number: Number(name) }));
}

/**
 * Writes one update entry as dpkg does and returns its name. dpkg fills `tmp.i` with padding in advance
 * (so a full disk fails before, not during, the write); here the write itself fails instead, before the
 * rename, which leaves the database as it was all the same. With `defer`, the entry's two fsyncs are left
 * to the caller's sync before its commit (see DeferredSyncs): readers see it at once all the same.
 */
export function writeUpdate(admin: AdminDir, number: number, stanza: Uint8Array, defer?: DeferredSyncs): string {
  const name = updateName(number);
  const tmp = updatesPath(admin, UPDATE_TMP);
  const dest = updatesPath(admin, name);
  try {
    writeDeferred(tmp, stanza, 0o644, defer);
  } catch (err) {
    // updates/ is made when it is missing, as dpkg makes it when it opens the database for writing: made
    // here only then, not looked for before every entry (a bootstrap writes about 400).
    if (!(err instanceof OvermergeError && err.errno === 'ENOENT')) throw err;
    ensureUpdatesDir(admin);
    writeDeferred(tmp, stanza, 0o644, defer);
  }
  renameSync(tmp, dest);
  if (defer) {
    defer.addFile(dest);
    defer.addDir(updatesPath(admin));
  } else fsyncDir(updatesPath(admin));
  return name;
}

/** Removes incorporated entries (and a stale tmp.i, as dpkg does when it shuts down), then fsyncs. */
export function removeUpdates(admin: AdminDir, names: readonly string[]): void {
  for (const name of names) removeIfPresent(updatesPath(admin, name));
  removeIfPresent(updatesPath(admin, UPDATE_TMP));
  if (fs.existsSync(updatesPath(admin))) fsyncDir(updatesPath(admin));
}

/** dpkg creates `updates/` (0755) when it opens the database for writing and finds none. */
export function ensureUpdatesDir(admin: AdminDir): void {
  makeFoldersSync(updatesPath(admin));
}
