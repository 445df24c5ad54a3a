import * as fs from 'node:fs';
import { fsError } from '../errors';

/**
 * Output that is not a file overmerge manages: descriptors a caller handed over (dpkg's --status-fd N,
 * a pipe apt reads) and append-only logs (dpkg's --log FILE). Synchronous, so each line is out before the
 * step it reports goes on.
 */

/** Writes all of `bytes` to descriptor `fd`. */
export function writeToDescriptor(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += fs.writeSync(fd, bytes, off, bytes.length - off);
    } catch (err) {
      throw fsError('write', err, `descriptor ${fd}`);
    }
  }
}

/** Opens `file` for appending (created 0644 if missing), as dpkg opens its log. */
export function openAppendLog(file: string): number {
  try {
    return fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o644);
  } catch (err) {
    throw fsError('open', err, file);
  }
}

/** Whether `fd` is an open descriptor (dpkg checks each --status-fd when it is given). */
export function isOpenDescriptor(fd: number): boolean {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}
