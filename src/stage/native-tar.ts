import { closeSync, constants as C, fstatSync, openSync, readSync } from 'node:fs';
import { ArReader } from '../archive/ar';
import { XZ_MEMLIMIT } from '../archive/compression';
import { DEB_HEAD, readDebLayout, type DebMember } from '../archive/deb';
import type { DecodeAhead } from '../archive/decode-ahead';
import { hostXz, XZ_PIPE_BYTES, xzDecodeArgs } from '../archive/xz-process';
import { unlinkIfPresent } from '../fs/entries';
import type { HostPath } from '../fs/host-path';
import { optionalAddon } from '../fs/own-addon';
import { makePipe, spawnChild, type Child } from '../spawn-child';

/**
 * An archive's data.tar staged by src/fs/native/stage_tar.c on a worker thread: its regular files written
 * into the staging folder and hashed there, while this thread gets the rest of the stream (headers, GNU
 * long names) a batch at a time, with a record per file written. The C side takes only the plain shape of
 * an archive and says "fallback" for anything else; the caller then stages the archive as before, with the
 * JavaScript reader, which alone words a refusal.
 *
 * The data comes from the host's xz, which reads the member from the archive itself and whose output pipe
 * the worker thread reads, or from a member decoded ahead into a file.
 */

/** Bytes of one file's record in a batch: its number (u32 LE), SHA-256, MD5 (zero when not asked for). */
export const FILE_RECORD = 4 + 32 + 16;

export interface StagedBatch {
  /** Header blocks and GNU long-name records, in stream order, without the regular files' bodies. */
  meta: Buffer;
  /** FILE_RECORD bytes per regular file written, in stream order. */
  files: Buffer;
}

export interface NativeStageOptions {
  asRoot: boolean;
  /** Compute each file's MD5 as well (the archive ships no md5sums). */
  md5: boolean;
  /** Bytes the files may add up to, and members the archive may have: past either, "fallback". */
  maxBytes?: number;
  maxMembers?: number;
  ahead?: DecodeAhead;
  /**
   * Which xz data members the worker thread decodes itself: 'small' (default) those under
   * XZ_IN_PROCESS_BELOW, the others in the host's `xz`; 'all' every one.
   */
  xzInProcess?: 'small' | 'all';
}

interface RawBatch extends StagedBatch {
  status: 0 | 1 | 2;
  why: string;
  errnoNumber: number;
}

interface StageTarAddon {
  open(inFd: number, dir: string, chown: boolean, md5: boolean, maxBytes: number, maxEntries: number, xzMemlimit?: number): object;
  /** Whether open decodes an xz stream itself (the host has liblzma). */
  decodesXz(): boolean;
  next(stager: object): Promise<RawBatch>;
  close(stager: object): void;
}

const addon = optionalAddon<StageTarAddon>('stage_tar');

/**
 * Where the data comes from: the xz member itself, decoded by the stager (whose end says whether it was
 * whole); xz's output (whose exit says it); or a file decoded ahead.
 */
interface Source {
  fd: number;
  /** The descriptor holds the xz member to its end, for the stager to decode. */
  xz?: true;
  /** Whether the data read was all of it and intact. */
  finished(): Promise<boolean>;
  /** Stops whatever still runs and lets go of what the source holds. */
  close(): Promise<void>;
}

export class NativeTarStager {
  /** 'read': batches to come; 'end': the stream was read to its end; 'over': nothing more. */
  private state: 'read' | 'end' | 'over' = 'read';

  private constructor(
    private readonly native: StageTarAddon,
    private readonly stager: object,
    private readonly source: Source,
  ) {}

  /**
   * The stager for `archive`'s data, writing into `dir`; undefined where it cannot be used (no addon, no
   * host xz, a data member that is not xz, an archive the JavaScript reader is to refuse), and the caller
   * stages as before.
   */
  static async open(archive: string, dir: HostPath, o: NativeStageOptions): Promise<NativeTarStager | undefined> {
    const native = addon();
    if (native === null) return undefined;
    const source = await openSource(archive, o.ahead, native.decodesXz() ? (o.xzInProcess === 'all' ? Infinity : XZ_IN_PROCESS_BELOW) : 0);
    if (source === undefined) return undefined;
    let stager: object;
    try {
      // From here the stager owns the source's descriptor (closed with it, also when this throws).
      stager = native.open(source.fd, dir, o.asRoot, o.md5, o.maxBytes ?? -1, o.maxMembers ?? -1, ...(source.xz ? [XZ_MEMLIMIT] : []));
    } catch {
      await source.close();
      return undefined;
    }
    return new NativeTarStager(native, stager, source);
  }

  /**
   * The next batch (perhaps empty); 'done' after the last one, once the decoder said the data was whole;
   * 'fallback' when the JavaScript reader must judge the archive.
   */
  async next(): Promise<StagedBatch | 'done' | 'fallback'> {
    if (this.state === 'over') return 'fallback';
    if (this.state === 'end') {
      this.state = 'over';
      return (await this.source.finished()) ? 'done' : 'fallback';
    }
    const b = await this.native.next(this.stager);
    if (b.status === 2) {
      this.state = 'over';
      return 'fallback';
    }
    if (b.status === 1) this.state = 'end';
    return b;
  }

  async close(): Promise<void> {
    this.native.close(this.stager);
    await this.source.close();
  }
}

/**
 * xz members from this size on are decoded by the host's `xz` unless asked otherwise ('all'): their
 * dictionary (8 MiB, all of it touched) stays outside this process. Every member decoded in the worker
 * thread, unpacking 109 archives peaked at 99-101 MiB instead of 89-93 (issue 14 bounds it at 100 MiB);
 * a bootstrap, whose heap is let grow, decodes them all here.
 */
const XZ_IN_PROCESS_BELOW = 1 << 20;

/** `decodeBelow`: xz members smaller than this many bytes are decoded by the stager itself (0: none). */
async function openSource(archive: string, ahead: DecodeAhead | undefined, decodeBelow: number): Promise<Source | undefined> {
  const decoded = await ahead?.take(archive);
  if (decoded !== undefined) return decodedFile(decoded);
  let input: number | undefined;
  let pipe: [number, number] | undefined;
  try {
    input = openSync(archive, C.O_RDONLY);
    // The layout of the very file this descriptor holds, whatever happens to the name meanwhile.
    const ar = await ArReader.open(`/proc/self/fd/${input}`, { head: DEB_HEAD });
    let data: DebMember;
    try {
      data = (await readDebLayout(ar)).data;
    } finally {
      await ar.close();
    }
    // xz reads the member itself, from the descriptor, to the end of the file: so the member must end the
    // file (as dpkg-deb makes it). Fed from here instead, the decoding would need this process's thread
    // pool, which the worker thread reading xz's output may be one of the last free threads of.
    if (data.compression !== 'xz' || fstatSync(input).size !== data.dataOffset + data.size) {
      closeSync(input);
      return undefined;
    }
    skipBytes(input, data.dataOffset);
    if (data.size < decodeBelow) {
      // Decoded by the stager, on its worker thread: no process, no pipe. It reports a stream that is not
      // whole as "fallback", so by the end of the data it was whole.
      return { fd: input, xz: true, finished: () => Promise.resolve(true), close: () => Promise.resolve() };
    }
    const program = hostXz();
    if (program === undefined) {
      closeSync(input);
      return undefined;
    }
    pipe = makePipe(XZ_PIPE_BYTES);
    if (pipe === undefined) {
      closeSync(input);
      return undefined;
    }
    const [readEnd, writeEnd] = pipe;
    let child: Child;
    try {
      child = spawnChild(program, xzDecodeArgs(XZ_MEMLIMIT), { stdio: [input, writeEnd, 'ignore'], env: { LC_ALL: 'C' } });
    } finally {
      closeSync(writeEnd);
      closeSync(input);
    }
    let ended = false;
    const exited = child.closed.then((exit) => {
      ended = true;
      return exit.code === 0 && exit.error === undefined;
    });
    return {
      fd: readEnd,
      finished: () => exited,
      async close() {
        if (!ended) child.kill('SIGKILL');
        await exited;
      },
    };
  } catch {
    // A broken archive is the JavaScript reader's to refuse, in its words.
    if (pipe !== undefined) closeSync(pipe[0]);
    else if (input !== undefined) closeSync(input);
    return undefined;
  }
}

/** Moves the descriptor's position `n` bytes on by reading them (Node has no lseek); the child inherits the position. */
function skipBytes(fd: number, n: number): void {
  const scratch = Buffer.allocUnsafe(Math.min(n, 64 * 1024));
  for (let left = n; left > 0; ) {
    const got = readSync(fd, scratch, 0, Math.min(left, scratch.length), null);
    if (got === 0) throw new Error('the archive ended early');
    left -= got;
  }
}

async function decodedFile(file: HostPath): Promise<Source | undefined> {
  let fd: number;
  try {
    fd = openSync(file, C.O_RDONLY | C.O_NOFOLLOW);
  } catch {
    await unlinkIfPresent(file).catch(() => undefined);
    return undefined;
  }
  return {
    fd,
    finished: async () => true,
    close: async () => {
      await unlinkIfPresent(file).catch(() => undefined);
    },
  };
}
