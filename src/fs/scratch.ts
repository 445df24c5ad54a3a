import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fsError } from '../errors';
import { hostJoin, hostPathOf, type HostPath } from './host-path';

/**
 * Copies of files in a private temporary folder (mode 0700) for the duration of `fn`, removed afterwards
 * whatever happens: to read a database that sits on a read-only filesystem, or one that must not be
 * touched (opening an SQLite database in write-ahead-log mode creates files beside it), with its log.
 * The copies keep their base names, so an SQLite file and its `-wal` stay a pair.
 */
export async function withScratchCopies<T>(files: readonly HostPath[], fn: (copies: HostPath[]) => Promise<T> | T): Promise<T> {
  let dir: HostPath;
  try {
    dir = hostPathOf(await fsp.mkdtemp(path.join(os.tmpdir(), 'overmerge-scratch-')));
  } catch (err) {
    throw fsError('create a temporary folder in', err, os.tmpdir());
  }
  try {
    const copies: HostPath[] = [];
    for (const f of files) {
      const to = hostJoin(dir, path.basename(f));
      try {
        await fsp.copyFile(f, to);
      } catch (err) {
        throw fsError('copy', err, f, to);
      }
      copies.push(to);
    }
    return await fn(copies);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
