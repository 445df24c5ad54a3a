import * as fs from 'node:fs';
import { optionalAddon } from './own-addon';

/**
 * Where a file starts on disk (FIEMAP, through src/fs/native/fiemap.c), for reading many files in disk
 * order as dpkg does with its .list files. Read-only. Where the filesystem does not say (tmpfs), or the
 * native module was not built, the answer is -1 — as dpkg's is where the ioctl fails.
 */
interface Binding {
  firstExtent(fd: number, length: number): number;
}

const load = optionalAddon<Binding>('fiemap');

/** The block size of the filesystem holding `dir` (statfs f_bsize), or undefined when it cannot be read. */
export function blockSize(dir: string): number | undefined {
  try {
    return fs.statfsSync(dir).bsize;
  } catch {
    return undefined;
  }
}

/** The physical offset of the first extent within the first `length` bytes of `file`; -1 when unknown. */
export function firstExtentOffset(file: string, length: number): number {
  const b = load();
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return -1;
  }
  try {
    return b ? b.firstExtent(fd, length) : -1;
  } finally {
    fs.closeSync(fd);
  }
}
