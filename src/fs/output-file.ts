import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { fsError } from '../errors';
import { hostDirOf, hostJoin, type HostPath } from './host-path';
import { newTempId } from './tempname';

/**
 * Writes a file the user asked for (a built archive) so that it appears whole or not at all: `write`
 * fills a new temporary beside `target`, which is synced and renamed over it; on any failure the
 * temporary goes and `target` is as it was.
 */
export async function writeOutputFile(target: HostPath, write: (fh: fsp.FileHandle, name: HostPath) => Promise<void>, mode = 0o644): Promise<void> {
  const temp = hostJoin(hostDirOf(target), `.${path.basename(target)}.overmerge-new-${newTempId()}`);
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(temp, 'wx', mode).catch((err: unknown) => {
      throw fsError('create', err, temp);
    });
    await write(fh, temp);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fsp.rename(temp, target).catch((err: unknown) => {
      throw fsError('rename', err, temp, target);
    });
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await fsp.rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
}
