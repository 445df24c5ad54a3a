import { execFile } from 'node:child_process';
import { lstatSync, promises as fsp, constants as C } from 'node:fs';
import { promisify } from 'node:util';
import { errnoOf, fsError } from '../errors';
import { fsyncDir as fsyncDirSync } from './atomic-file';
import { hostDirOf, type HostPath } from './host-path';
import { errnoError, optionalAddon } from './own-addon';

const execFileP = promisify(execFile);

/** fsync a regular file's data and inode. Never opened for writing, never follows a final symlink. */
export async function fsyncFile(p: HostPath): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(p, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
    await fh.sync();
  } catch (err) {
    throw fsError('sync', err, p);
  } finally {
    await fh?.close();
  }
}

/** fsync a directory, which makes its entries (creations, renames, removals) durable. */
export async function fsyncDir(p: HostPath): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(p, C.O_RDONLY | C.O_DIRECTORY);
    await fh.sync();
  } catch (err) {
    throw fsError('sync directory', err, p);
  } finally {
    await fh?.close();
  }
}

/**
 * fsync, synchronously, the folder `p` and each folder above it up to `top` (included): what makes a
 * chain of folders just created durable, each entry in its parent. For the few created before a
 * transaction (the admin folder of a new root), which no step's batch knows of.
 */
export function fsyncFoldersUpSync(p: HostPath, top: HostPath): void {
  for (let dir = p; ; dir = hostDirOf(dir)) {
    fsyncDirSync(dir);
    if (dir === top || hostDirOf(dir) === dir) return;
  }
}

/**
 * syncfs(2) of the filesystem holding `p`. One syncfs is far cheaper than thousands of fsyncs when a whole
 * tree was just written (each fsync on ext4 forces its own journal commit); on overlayfs it syncs the
 * upper layer. Node has no binding: src/fs/native/syncfs.c makes the call on a worker thread; where that
 * module was not built, coreutils' `sync -f` (exactly that call, at the price of starting a process).
 */
export async function syncFilesystem(p: HostPath): Promise<void> {
  const native = syncfsBinding();
  if (native === null) return syncBySyncCommand(p);
  let fh: fsp.FileHandle | undefined;
  try {
    // O_NONBLOCK: a FIFO named here must not block the open; syncfs needs only a descriptor on the filesystem.
    fh = await fsp.open(p, C.O_RDONLY | C.O_NONBLOCK);
    await native.syncfs(fh.fd);
  } catch (err) {
    const errnoNumber = (err as { errnoNumber?: number }).errnoNumber;
    throw fsError('sync filesystem of', errnoNumber === undefined ? err : errnoError(err as Error, errnoNumber), p);
  } finally {
    await fh?.close();
  }
}

async function syncBySyncCommand(p: HostPath): Promise<void> {
  try {
    await execFileP('sync', ['-f', '--', p]);
  } catch (err) {
    throw fsError('sync filesystem of', err, p);
  }
}

interface SyncfsBinding {
  syncfs(fd: number): Promise<void>;
}

const syncfsBinding = optionalAddon<SyncfsBinding>('syncfs');

export interface SyncBatchOptions {
  /** Above this many paths, flush uses one syncfs per filesystem instead of one fsync per path. */
  syncfsThreshold?: number;
}

/**
 * Collects what must become durable so the engine can pay for it once per journal record: movefile adds
 * the files it wrote and the directories whose entries it changed; the engine calls `flush()` before it
 * journals the steps as done. Without a batch, movefile syncs each step itself ("durable now").
 */
export class SyncBatch {
  private readonly files = new Set<HostPath>();
  private readonly dirs = new Set<HostPath>();
  private readonly threshold: number;
  /** Set once more paths than the threshold came: the flush will be a syncfs, files are kept as their folders. */
  private bySyncfs = false;

  constructor(options: SyncBatchOptions = {}) {
    this.threshold = options.syncfsThreshold ?? 128;
  }

  addFile(p: HostPath): void {
    if (!this.bySyncfs && this.size < this.threshold) {
      this.files.add(p);
      return;
    }
    this.bySyncfs = true;
    // Past the threshold the flush is a syncfs per filesystem, and a file we wrote is on its folder's
    // filesystem (a new name is never a mount point): keeping the folder is enough, and memory follows the
    // number of folders, not of files.
    this.dirs.add(hostDirOf(p));
    if (this.files.size > 0) {
      for (const f of this.files) this.dirs.add(hostDirOf(f));
      this.files.clear();
    }
  }

  addDir(p: HostPath): void {
    this.dirs.add(p);
    if (this.size > this.threshold) this.bySyncfs = true;
  }

  /**
   * Something changed on the filesystem holding `p` that nobody listed (a maintainer script writes what it
   * likes): the flush syncs that filesystem whole, with every other one the batch's paths are on.
   */
  addFilesystem(p: HostPath): void {
    this.dirs.add(p);
    this.bySyncfs = true;
  }

  get size(): number {
    return this.files.size + this.dirs.size;
  }

  /**
   * Files first, then directories: an entry must not become durable before the data it names. Returns
   * the devices it synced whole (syncfs), so that a caller about to syncfs one of them need not again.
   */
  async flush(): Promise<ReadonlySet<bigint>> {
    const files = [...this.files];
    const dirs = [...this.dirs];
    const bySyncfs = this.bySyncfs || files.length + dirs.length > this.threshold;
    this.files.clear();
    this.dirs.clear();
    this.bySyncfs = false;
    if (bySyncfs) return syncFilesystemsOf([...files, ...dirs]);
    for (const f of files) await skipVanished(() => fsyncFile(f));
    for (const d of dirs) await skipVanished(() => fsyncDir(d));
    return new Set();
  }
}

/**
 * A path removed since it was added needs no sync of its own: its directory's sync covers the removal.
 * The same for a directory replaced by a non-directory since (ENOTDIR): undoing a file-to-directory
 * change puts the file back where the directory was.
 */
async function skipVanished(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const errno = (err as { errno?: string }).errno ?? errnoOf(err);
    if (errno !== 'ENOENT' && errno !== 'ENOTDIR') throw err;
  }
}

async function syncFilesystemsOf(paths: HostPath[]): Promise<Set<bigint>> {
  const byDevice = new Map<bigint, HostPath>();
  // lstat synchronously: one per path the transaction changed (1,100 in a bootstrap), where a thread-pool
  // round trip each cost more than the call.
  for (const p of paths) {
    try {
      const st = lstatSync(p, { bigint: true });
      // Its folder, unless a plain file or folder: opening a device node or a FIFO to reach its filesystem
      // could act on the device or wait for a writer.
      if (!byDevice.has(st.dev)) byDevice.set(st.dev, st.isFile() || st.isDirectory() ? p : hostDirOf(p));
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw fsError('stat', err, p);
    }
  }
  for (const p of byDevice.values()) await syncFilesystem(p);
  return new Set(byDevice.keys());
}

/** The device (st_dev) of the filesystem holding `p`. */
export async function deviceOf(p: HostPath): Promise<bigint> {
  try {
    return (await fsp.stat(p, { bigint: true })).dev;
  } catch (err) {
    throw fsError('stat', err, p);
  }
}

/** Where movefile asks for durability: into the engine's batch, or right now. */
export async function durableFile(batch: SyncBatch | undefined, p: HostPath): Promise<void> {
  if (batch) batch.addFile(p);
  else await fsyncFile(p);
}

export async function durableDir(batch: SyncBatch | undefined, p: HostPath): Promise<void> {
  if (batch) batch.addDir(p);
  else await fsyncDir(p);
}
