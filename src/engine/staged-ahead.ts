import * as path from 'node:path';
import { AheadQueue, type MadeAhead } from '../archive/ahead-queue';
import { DecodeAhead } from '../archive/decode-ahead';
import { archiveIdentity } from '../archive/identity';
import { makePrivateDirectory, removeTree, renameOver } from '../fs/entries';
import { FileWrites } from '../fs/file-writes';
import { hostJoin, type HostPath } from '../fs/host-path';
import type { PathFilter } from '../model/path-filter';
import type { StagedPackage } from '../model/staged-package';
import { DEFAULT_MAX_MEMBERS, stageArchive } from '../stage/stage';
import type { ReadArchive } from './phases/read';
import { freeSpace } from './space';

/** What staging ahead must share with the transactions that take its work: their staging options. */
export interface StagedAheadOptions {
  asRoot: boolean;
  pathFilters?: readonly PathFilter[];
  maxMembers?: number;
}

/**
 * Archives that later transactions of this process will install fresh, staged while it waits on something
 * else: in a bootstrap, the packages after the Essential set are staged while the Essential set's
 * maintainer scripts run, one after another, leaving this process idle between them. A transaction that
 * stages such an archive takes its folder (one rename into its own staging area) and manifest instead of
 * reading the archive then.
 *
 * The data members come from a DecodeAhead (the host's `xz` at the lowest priority, working through the
 * queue from the start); from `start` on, each archive is staged from its decoded tar by stageArchive,
 * with every check a transaction's staging makes, into a folder of its own beside the decoded files, one
 * archive at a time in the order queued. Like those files the
 * folders are a cache, never part of a transaction until taken: `close` and the next open remove what was
 * not taken (`recover` too, after a crash). An archive not begun when its transaction asks, whose staging
 * failed, or that changed since, is not handed over: the transaction stages it itself and reports what is
 * wrong with it.
 */
export class StagedAhead {
  private startStaging: () => void = () => undefined;
  /** Staging waits for `start`; decoding does not. */
  private readonly jobs = new AheadQueue<Staged>(
    (archive) => this.stage(archive),
    (staged) => removeQuietly(staged.dir),
    new Promise<void>((resolve) => (this.startStaging = resolve)),
  );
  /** The archives queued, by absolute path. */
  private readonly read = new Map<string, ReadArchive>();
  private closed = false;
  private counter = 0;
  /** Archives queued, and of them those whose staging a transaction took. */
  readonly counts = this.jobs.counts;

  private constructor(
    private readonly dir: HostPath,
    /** Where the staging reads the data members from, and the transactions those they stage themselves. */
    readonly decoded: DecodeAhead,
    private readonly root: HostPath,
    private readonly opts: StagedAheadOptions,
  ) {}

  /** Stages into `dir` (a folder of the staging area this process holds the lock of), made afresh. */
  static async open(dir: HostPath, root: HostPath, opts: StagedAheadOptions): Promise<StagedAhead> {
    return new StagedAhead(dir, await DecodeAhead.open(dir), root, opts);
  }

  /**
   * Lets the staging begin: until then only the decoder works. A process that has idle time coming (a
   * queue of scripts to run) calls it then, so that the staging's own work on this thread fills that
   * time instead of delaying what runs before.
   */
  start(): void {
    this.startStaging();
  }

  /** Queues archives (read, their control parts checked) to be staged after those queued before. */
  queue(archives: readonly ReadArchive[]): void {
    this.decoded.queue(archives.map((a) => a.path));
    for (const a of archives) if (!this.read.has(path.resolve(a.path))) this.read.set(path.resolve(a.path), a);
    this.jobs.queue(archives.map((a) => a.path));
  }

  /**
   * `archive`'s manifest, its staged files moved to `into` (which must not exist); undefined when there is
   * none to wait for: never queued, not begun yet (the caller stages it sooner itself), failed, or the
   * archive changed since.
   */
  async take(archive: string, into: HostPath): Promise<StagedPackage | undefined> {
    const done = await this.jobs.take(archive);
    if (done === undefined) return undefined;
    await renameOver(done.dir, into);
    done.staged.entries.movedStaging(done.dir, into);
    return done.staged;
  }

  /** Stops the staging under way (at its next member) and removes every folder and file not handed over. */
  async close(): Promise<void> {
    this.closed = true;
    this.startStaging();
    await this.decoded.stop();
    await this.jobs.settled();
    await this.decoded.close();
  }

  private async stage(archive: string): Promise<MadeAhead<Staged> | undefined> {
    const a = this.read.get(archive);
    // Taken before the read, so that a change during it shows at `take`.
    const identity = archiveIdentity(archive);
    if (a === undefined || identity === undefined || this.closed) return undefined;
    const dir = hostJoin(this.dir, `staged-${this.counter++}`);
    const writes = new FileWrites(this.opts.asRoot);
    const limit = this.opts.maxMembers ?? DEFAULT_MAX_MEMBERS;
    try {
      await makePrivateDirectory(dir, 'create staging folder');
      const staged = await stageArchive(a.path, a.control, dir, {
        asRoot: this.opts.asRoot,
        maxBytes: a.limit,
        freeBytes: a.limit === undefined ? await freeSpace(this.root) : undefined,
        members: { left: limit, limit },
        pathFilters: this.opts.pathFilters,
        writes,
        ahead: this.decoded,
        onMember: () => {
          if (this.closed) throw new Error('closed');
        },
      });
      await writes.drain();
      return { value: { dir, staged }, identity };
    } catch {
      // Whatever went wrong is the transaction's to find and report, staging the archive itself.
      await writes.settle();
      await removeQuietly(dir);
      return undefined;
    }
  }
}

interface Staged {
  dir: HostPath;
  staged: StagedPackage;
}

async function removeQuietly(dir: HostPath): Promise<void> {
  // Left behind, it goes with the folder at close.
  await removeTree(dir).catch(() => undefined);
}
