import * as fs from 'node:fs';
import { OvermergeError } from '../../errors';
import { makeFoldersSync } from '../../fs/atomic-file';
import type { HostPath } from '../../fs/host-path';
import { tryLock, type Lock } from '../../fs/lock';
import type { ActionContext } from './context';
import { fsPath } from './report';

/**
 * modstatdb_open(msdbrw_write) (lib/dpkg/dbmodify.c): the admin directory made if missing and checked
 * writable, then dpkg's two locks taken without waiting — `lock-frontend` (skipped when the caller set
 * DPKG_FRONTEND_LOCKED, as apt does while it holds that lock itself) and `lock` — each a whole-file fcntl
 * write lock on a file opened 0660, exactly as dpkg and apt take them (src/fs/lock.ts). A held lock is
 * refused with dpkg's message naming the holder. Returns the release.
 */
export function lockDatabase(ctx: ActionContext): () => void {
  const dir = ctx.settings.dirs.admindir;
  const path = fsPath(dir);
  try {
    fs.accessSync(path, fs.constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      try {
        makeFoldersSync(path);
      } catch (e) {
        ctx.report.fatal(`cannot create the dpkg database directory ${dir}: ${strerror(e)}`);
      }
    } else if (code === 'EACCES') {
      ctx.report.fatal(`required read/write access to the dpkg database directory ${dir}`);
    } else {
      ctx.report.fatal(`unable to access the dpkg database directory ${dir}: ${strerror(err)}`);
    }
  }
  const held: Lock[] = [];
  const release = (): void => {
    for (const l of held.reverse()) l.release();
  };
  try {
    if (ctx.io.env.DPKG_FRONTEND_LOCKED === undefined) held.push(take(ctx, `${path}/lock-frontend`, 'dpkg frontend lock'));
    held.push(take(ctx, `${path}/lock`, 'dpkg database lock'));
  } catch (err) {
    release();
    throw err;
  }
  return release;
}

function take(ctx: ActionContext, file: string, desc: string): Lock {
  try {
    return tryLock(file as HostPath, { mode: 0o660, label: desc });
  } catch (err) {
    if (!(err instanceof OvermergeError)) throw err;
    if (err.code === 'E_LOCKED') {
      const pid = /PID (\d+)/.exec(err.message)?.[1];
      const note = 'Note: removing the lock file is always wrong, can damage the locked area\nand the entire system. See <https://wiki.debian.org/Teams/Dpkg/FAQ#db-lock>.';
      ctx.report.fatal(pid === undefined ? `${desc} was locked by another process\n${note}` : `${desc} was locked by another process with pid ${pid}\n${note}`);
    }
    if (err.errno === 'EACCES' || err.errno === 'EPERM') ctx.report.fatal(`you do not have permission to lock the dpkg database directory ${ctx.settings.dirs.admindir}`);
    ctx.report.fatal(`unable to lock ${desc}: ${err.message}`);
  }
}

function strerror(err: unknown): string {
  const code = (err as { errno?: string; code?: string }).errno ?? (err as NodeJS.ErrnoException).code;
  const known: Record<string, string> = { EACCES: 'Permission denied', EROFS: 'Read-only file system', ENOTDIR: 'Not a directory', ENOSPC: 'No space left on device' };
  return (code && known[code]) ?? (err as Error).message;
}
