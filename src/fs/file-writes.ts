import { fsError } from '../errors';
import type { OvermergeError } from '../errors';
import type { Meta } from './entries';
import type { HostPath } from './host-path';
import { NewFile } from './new-file';
import { errnoError, optionalAddon } from './own-addon';

/** One file of a batch: path, its bytes, mode, owner, group, mtime in nanoseconds. */
type BatchFile = [path: string, parts: readonly Buffer[], mode: number, uid: number, gid: number, mtimeNs: bigint];

interface WriteFilesBinding {
  writeFiles(files: readonly BatchFile[], chown: boolean): Promise<void>;
}

const writeFilesBinding = optionalAddon<WriteFilesBinding>('write_file');

/**
 * A batch is handed over once it holds this many files or bytes (or when drained). Each hand-over wakes a
 * pool thread, which on a busy machine costs the main thread its core for a while: 859 batches of 5 files
 * cost 160 ms of a bootstrap's main thread, 34 µs a file.
 */
const BATCH_FILES = 64;
const BATCH_BYTES = 1 << 20;
/**
 * While one batch is written, the next may grow to this much before write waits: memory stays bounded (a
 * small file's bytes may hold a decoder's whole output chunk, 64 KiB, until it is written).
 */
const WAITING_FILES = 128;
const WAITING_BYTES = 4 << 20;

/**
 * New files, each whole in memory, written on the thread pool (src/fs/native/write_file.c says why) while
 * the caller goes on decoding: created under fresh names (O_EXCL, O_NOFOLLOW), given their owner, mode and
 * mtime, and closed. They go in batches of a few dozen, one batch at a time: the files that come while
 * one is written make the next, so a folder is written by one thread at a time and memory stays bounded
 * (write waits when too much waits). `drain` writes what still waits, waits for all of it and throws the
 * first failure, which `write` also throws once it is known. Where the addon was not built, each file is
 * written synchronously as NewFile writes it.
 *
 * The buffers handed over must not change until the file is written (decoders hand out fresh ones).
 */
export class FileWrites {
  private next: BatchFile[] = [];
  private nextBytes = 0;
  private running: Promise<void> | undefined;
  private failure: OvermergeError | undefined;

  constructor(private readonly asRoot: boolean) {}

  async write(p: HostPath, parts: Buffer[], size: number, meta: Meta): Promise<void> {
    this.throwFailure();
    const native = writeFilesBinding();
    if (native === null) {
      writeSync(p, parts, meta, this.asRoot);
      return;
    }
    while (this.running !== undefined && (this.next.length >= WAITING_FILES || this.nextBytes >= WAITING_BYTES)) {
      await this.running;
      this.throwFailure();
    }
    this.next.push([p, parts, meta.mode, meta.uid, meta.gid, nanoseconds(meta.mtime)]);
    this.nextBytes += size;
    if (this.running === undefined && this.batchFull()) this.start(native);
  }

  /** Every file written, what waits included; the first failure thrown. */
  async drain(): Promise<void> {
    const native = writeFilesBinding();
    while (this.running !== undefined || (this.next.length > 0 && this.failure === undefined)) {
      if (this.running === undefined && native !== null) this.start(native);
      await this.running;
    }
    this.throwFailure();
  }

  /**
   * After a failure: the batch being written finished, what waits dropped, so that nothing is still
   * writing into the folder when the caller cleans it up.
   */
  async settle(): Promise<void> {
    this.next = [];
    this.nextBytes = 0;
    while (this.running !== undefined) await this.running;
  }

  /** Hands the waiting files over as one batch; when it is done, the files that came meanwhile follow. */
  private start(native: WriteFilesBinding): void {
    const batch = this.next;
    this.next = [];
    this.nextBytes = 0;
    this.running = native.writeFiles(batch, this.asRoot).then(
      () => this.done(native),
      (err: Error & { errnoNumber?: number; step?: string; index?: number }) => {
        const p = batch[err.index ?? 0]?.[0] ?? '';
        this.failure ??= fsError(`${err.step ?? 'create'} staged file`, err.errnoNumber === undefined ? err : errnoError(err, err.errnoNumber), p);
        // What waits is never written: the folder is the caller's to clean up.
        this.next = [];
        this.nextBytes = 0;
        this.done(native);
      },
    );
  }

  private done(native: WriteFilesBinding): void {
    this.running = undefined;
    if (this.batchFull()) this.start(native);
  }

  private batchFull(): boolean {
    return this.next.length >= BATCH_FILES || this.nextBytes >= BATCH_BYTES;
  }

  private throwFailure(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

function writeSync(p: HostPath, parts: Buffer[], meta: Meta, asRoot: boolean): void {
  const f = NewFile.create(p);
  try {
    f.write(parts);
    f.setMeta(meta, asRoot);
  } finally {
    f.close();
  }
}

/** Seconds as futimes takes them (a fraction is kept to the nanosecond) in integer nanoseconds. */
function nanoseconds(seconds: number): bigint {
  const whole = Math.floor(seconds);
  return BigInt(whole) * 1_000_000_000n + BigInt(Math.round((seconds - whole) * 1e9));
}
