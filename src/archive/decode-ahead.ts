import { setPriority } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { makePrivateDirectory, removeTree, unlinkIfPresent } from '../fs/entries';
import { NewFile } from '../fs/new-file';
import { hostJoin, type HostPath } from '../fs/host-path';
import type { Child } from '../spawn-child';
import { spawnChild } from '../spawn-child';
import { ArReader } from './ar';
import { XZ_MEMLIMIT } from './compression';
import { DEB_HEAD, readDebLayout, type DecodedData } from './deb';
import { AheadQueue, type MadeAhead } from './ahead-queue';
import { archiveIdentity } from './identity';
import { hostXz, XZ_PIPE_BYTES, xzDecodeArgs } from './xz-process';

/**
 * The xz data members of archives that later transactions of this process will stage, decoded into files
 * while this process waits on something else: in a bootstrap, the packages after the Essential set are
 * decoded while the Essential set's maintainer scripts run, one after another, on one core. A transaction
 * that stages such an archive then reads its tar from the file instead of waiting for a decoder.
 *
 * One archive at a time, in the order queued (the order they will be staged), each by the host's `xz`
 * with its output going straight to the file: this process only feeds it the compressed member. The files
 * are a cache, never part of a transaction: each is handed over by `take` (whose caller removes it after
 * reading), and the folder is removed by `close` and at the next open (after a crash). An archive that
 * changed since its decoding began, or whose decoding failed, is not handed over: its transaction decodes
 * it as it would have, and reports what is wrong with it.
 */
export class DecodeAhead implements DecodedData {
  private readonly jobs = new AheadQueue<HostPath>(
    (archive) => this.decode(archive),
    (file) => unlinkQuietly(file),
  );
  private running: Child | undefined;
  private closed = false;
  private counter = 0;
  /** Archives queued, and of them those whose decoded tar a read took. */
  readonly counts = this.jobs.counts;

  private constructor(private readonly dir: HostPath) {}

  /** Decodes into `dir` (a folder of the staging area this process holds the lock of), made afresh. */
  static async open(dir: HostPath): Promise<DecodeAhead> {
    await removeTree(dir);
    await makePrivateDirectory(dir, 'create staging folder');
    return new DecodeAhead(dir);
  }

  /** Queues archives to be decoded after those queued before. */
  queue(archives: readonly string[]): void {
    this.jobs.queue(archives);
  }

  /**
   * The file holding `archive`'s decoded data.tar, now the caller's to remove; undefined when there is
   * none to wait for: never queued, not begun yet (the caller decodes it sooner itself), failed, or the
   * archive changed since.
   */
  take(archive: string): Promise<HostPath | undefined> {
    return this.jobs.take(archive);
  }

  /** Stops the decoding under way and removes every file not handed over. */
  async close(): Promise<void> {
    await this.stop();
    await removeTree(this.dir);
  }

  /** Stops the decoding under way and decodes nothing more; the files stay until `close`. */
  async stop(): Promise<void> {
    this.closed = true;
    this.running?.kill('SIGKILL');
    await this.jobs.settled();
  }

  private async decode(archive: string): Promise<MadeAhead<HostPath> | undefined> {
    if (this.closed) return undefined;
    const xz = hostXz();
    // Taken before the read, so that a change during it shows at `take`.
    const identity = archiveIdentity(archive);
    if (xz === undefined || identity === undefined) return undefined;
    let ar: ArReader | undefined;
    const file = hostJoin(this.dir, `${this.counter++}.tar`);
    let made = false;
    try {
      ar = await ArReader.open(archive, { head: DEB_HEAD });
      const { data } = await readDebLayout(ar);
      if (data.compression !== 'xz') return undefined;
      const out = NewFile.create(file, 'create decoded data member');
      made = true;
      let child: Child;
      try {
        child = spawnChild(xz, xzDecodeArgs(XZ_MEMLIMIT), { stdio: ['pipe', out.descriptor(), 'ignore'], env: { LC_ALL: 'C' }, pipeCapacity: XZ_PIPE_BYTES });
      } finally {
        out.close();
      }
      this.running = child;
      // Only what the rest leaves idle: a decoder at the same priority slows the scripts and the transactions it runs beside.
      if (child.pid !== undefined) lowerPriority(child.pid);
      if (child.stdin !== null) await pipeline(Readable.from(ar.streamMember(data), { objectMode: false }), child.stdin).catch(() => undefined);
      const { code } = await child.closed;
      if (code !== 0 || this.closed) throw new Error('not decoded');
      return { value: file, identity };
    } catch {
      // Whatever went wrong is the transaction's to find and report, reading the archive itself.
      if (made) await unlinkQuietly(file);
      return undefined;
    } finally {
      this.running = undefined;
      await ar?.close();
    }
  }
}

/**
 * The folder of the staging area that a bootstrap decodes ahead into: its own while it holds the lock,
 * removed by `recover` (what a killed bootstrap left) and by the next bootstrap.
 */
export function decodedAheadDir(stagingBase: HostPath): HostPath {
  return hostJoin(stagingBase, 'ahead');
}

/** The lowest priority a process may have (nice 19), if this process may set it. */
function lowerPriority(pid: number): void {
  try {
    setPriority(pid, 19);
  } catch {
    // Exited already, or not ours to change: it decodes at the priority it has.
  }
}

async function unlinkQuietly(file: HostPath): Promise<void> {
  // Left behind, it goes with the folder at close.
  await unlinkIfPresent(file).catch(() => undefined);
}
