import * as fs from 'node:fs';
import { constants as C } from 'node:fs';
import { fsError } from '../errors';
import type { Meta } from './entries';
import type { HostPath } from './host-path';

/**
 * A file being written under a fresh name that must not exist yet (staging): created with O_EXCL and
 * O_NOFOLLOW, so nothing planted at the name is followed or reused, written in pieces, given its owner,
 * mode and mtime through the descriptor, then closed.
 *
 * The calls are synchronous on purpose: decompressors hand out chunks of a few KiB, and an awaited
 * thread-pool round trip per chunk and per metadata call (open, write, chown, chmod, utimes, close) cost
 * about a quarter of staging's time on Debian's required set, while each call itself takes microseconds
 * on the page cache.
 */
export class NewFile {
  private constructor(
    readonly path: HostPath,
    private readonly fd: number,
  ) {}

  static create(p: HostPath, op = 'create staged file'): NewFile {
    try {
      return new NewFile(p, fs.openSync(p, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600));
    } catch (err) {
      throw fsError(op, err, p);
    }
  }

  /** writev until every byte is written (a regular file may take fewer bytes than offered). */
  write(parts: readonly Buffer[]): void {
    let rest = parts.filter((b) => b.length > 0);
    while (rest.length > 0) {
      let n: number;
      try {
        n = fs.writevSync(this.fd, rest);
      } catch (err) {
        throw fsError('write staged file', err, this.path);
      }
      while (n > 0 && rest.length > 0) {
        if (n >= rest[0].length) {
          n -= rest[0].length;
          rest = rest.slice(1);
        } else {
          rest[0] = rest[0].subarray(n);
          n = 0;
        }
      }
    }
  }

  /** Owner (only root can give files away), then mode (chown clears setuid/setgid), then mtime. */
  setMeta(m: Meta, asRoot: boolean): void {
    try {
      if (asRoot) fs.fchownSync(this.fd, m.uid, m.gid);
      fs.fchmodSync(this.fd, m.mode);
      fs.futimesSync(this.fd, m.mtime, m.mtime);
    } catch (err) {
      throw fsError('set metadata of staged file', err, this.path);
    }
  }

  /** fsync: the content is on disk when it returns. */
  sync(): void {
    try {
      fs.fsyncSync(this.fd);
    } catch (err) {
      throw fsError('sync', err, this.path);
    }
  }

  /** The descriptor, for a child process to write the file through (its stdout); closed here by close(). */
  descriptor(): number {
    return this.fd;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/**
 * `data` written whole to the fresh name `p` (O_EXCL, O_NOFOLLOW) and synced, with the mode, owner and
 * mtime of `like` (a file it is to replace): a rename over `like` then swaps in a complete, durable file.
 */
export async function writeNewFile(p: HostPath, data: Buffer, like: HostPath, asRoot: boolean): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(like);
  } catch (err) {
    throw fsError('inspect', err, like);
  }
  const f = NewFile.create(p, 'write new file');
  try {
    f.write([data]);
    f.setMeta({ mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtimeMs / 1000 }, asRoot);
    f.sync();
  } finally {
    f.close();
  }
}
