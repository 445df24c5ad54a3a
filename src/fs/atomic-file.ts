import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoOf, fsError } from '../errors';

/**
 * dpkg's way of replacing a database file (lib/dpkg/atomic-file.c, as writedb, dpkg-divert,
 * dpkg-statoverride and the .list writer use it):
 *   1. write `NAME-new` (truncating any leftover), mode 0644, fsync, close;
 *   2. with `backup`: remove `NAME-old`, hard-link `NAME` to `NAME-old` (so a copy of the previous
 *      version survives, without a moment where `NAME` is missing);
 *   3. rename `NAME-new` over `NAME`, then fsync the directory.
 * A crash leaves either the old or the new file under NAME, plus perhaps a stale NAME-new that the next
 * write truncates. Synchronous: these are small files, and a journaled step is easier to reason about
 * when nothing else runs in the middle of it.
 */
export interface AtomicWriteOptions {
  /** Keep the previous version as NAME-old (status, diversions, statoverride do; .list files do not). */
  backup?: boolean;
  mode?: number;
  /** The side file's path, when dpkg names it otherwise (triggers/Unincorp.new); default NAME-new. */
  side?: string;
}

/**
 * Where the syncs of a write go when its caller makes it durable later, together with everything else it
 * changed (an overmerge transaction: one sync before its commit record, whose journal undoes the write
 * after a crash before it): each file written and each folder whose entries changed is handed over, in
 * place of an fsync on the spot. A file so written may be found empty after a power cut, never torn
 * differently than a file the transaction placed (SyncBatch flushes files before their folders).
 */
export interface DeferredSyncs {
  addFile(p: string): void;
  addDir(p: string): void;
}

export function atomicWrite(file: string, data: Uint8Array, options: AtomicWriteOptions = {}, defer?: DeferredSyncs): void {
  const fresh = options.side ?? `${file}-new`;
  writeWhole(fresh, data, options.mode ?? 0o644, defer === undefined);
  if (options.backup) keepBackup(file);
  try {
    fs.renameSync(fresh, file);
  } catch (err) {
    throw fsError('rename', err, fresh, file);
  }
  if (defer) {
    defer.addFile(file);
    defer.addDir(path.dirname(file));
  } else fsyncDir(path.dirname(file));
}

/** Writes `data` to `file` (created or truncated), sets `mode` whatever the umask, fsyncs and closes. */
export function writeDurably(file: string, data: Uint8Array, mode: number): void {
  writeWhole(file, data, mode, true);
}

/** writeDurably, the fsync left to `defer` (given the file's final name by the caller): or made now. */
export function writeDeferred(file: string, data: Uint8Array, mode: number, defer: DeferredSyncs | undefined): void {
  writeWhole(file, data, mode, defer === undefined);
}

function writeWhole(file: string, data: Uint8Array, mode: number, sync: boolean): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, mode);
    fs.fchmodSync(fd, mode);
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
    if (sync) fs.fsyncSync(fd);
  } catch (err) {
    throw fsError('write', err, file);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function keepBackup(file: string): void {
  const old = `${file}-old`;
  try {
    fs.unlinkSync(old);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw fsError('remove', err, old);
  }
  try {
    fs.linkSync(file, old);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw fsError('link', err, file, old);
  }
}

/** fsync a directory, making the entries created, renamed or removed in it durable. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    fs.fsyncSync(fd);
  } catch (err) {
    throw fsError('sync directory', err, dir);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Publishes a file made whole under a private name: its data synced, then hard-linked under `to`, which
 * fails (EEXIST, as an OvermergeError) rather than replace a file another process put there meanwhile.
 * The caller syncs the folder and removes the private name.
 */
export function linkNewFileSync(from: string, to: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(from, fs.constants.O_RDONLY);
    fs.fsyncSync(fd);
  } catch (err) {
    throw fsError('sync file', err, from);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  try {
    fs.linkSync(from, to);
  } catch (err) {
    throw fsError('link', err, from, to);
  }
}

/** Removes `file`; already gone is fine (every removal here must be repeatable after a crash). */
export function removeIfPresent(file: string): boolean {
  try {
    fs.unlinkSync(file);
    return true;
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return false;
    throw fsError('remove', err, file);
  }
}

/** The contents of `file`, or null when it does not exist. */
export function readIfPresent(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return null;
    throw fsError('read', err, file);
  }
}

/** A folder and its missing parents, `mode` for those made (dpkg makes its admin folders 0755). */
export function makeFoldersSync(dir: string, mode = 0o755): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode });
  } catch (err) {
    throw fsError('create directory', err, dir);
  }
}

/** rename(2), synchronous: a step of a database write that must not interleave with anything. */
export function renameSync(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    throw fsError('rename', err, from, to);
  }
}

/**
 * Removes a folder of overmerge's making (dpkg's tmp.ci) and all in it; already gone is fine. Absent or
 * empty, as it is but after a crash, it takes one call: rmSync's walk cost a bootstrap 88 × 2 of them.
 */
export function removeFolderSync(dir: string): void {
  try {
    fs.rmdirSync(dir);
    return;
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT') return;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR') throw fsError('remove', err, dir);
  }
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    throw fsError('remove', err, dir);
  }
}

/** Creates an empty file if there is none (dpkg's triggers/Lock: its content never matters). */
export function ensureFileSync(file: string, mode: number): void {
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, mode));
  } catch (err) {
    throw fsError('create', err, file);
  }
}
