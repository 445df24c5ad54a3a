import * as path from 'node:path';
import { archiveIdentity } from './identity';

/** What a job made of one archive, and the archive's identity (archiveIdentity) when the job began. */
export interface MadeAhead<T> {
  value: T;
  identity: string;
}

/**
 * Work done ahead on archives that later transactions of this process will need (decode-ahead.ts,
 * engine/staged-ahead.ts): one archive at a time, in the order queued (the order they will be needed),
 * each result handed over once by `take`. A job not begun when its archive is asked for is skipped (the
 * caller does the work itself, sooner than after the jobs before it); a job that failed (`work` gave
 * undefined), or whose archive changed since it began, hands over nothing, and what it made is discarded.
 */
export class AheadQueue<T> {
  private readonly jobs = new Map<string, Job<T>>();
  private chain: Promise<void>;
  /** Archives queued, and of them those whose result was taken. */
  readonly counts = { queued: 0, taken: 0 };

  /** `work` runs on an archive's absolute path; none begins before `gate` settles. */
  constructor(
    private readonly work: (archive: string) => Promise<MadeAhead<T> | undefined>,
    private readonly discard: (value: T) => Promise<void>,
    gate: Promise<void> = Promise.resolve(),
  ) {
    this.chain = gate;
  }

  /** Queues archives after those queued before (one queued already is not queued again). */
  queue(archives: readonly string[]): void {
    for (const archive of archives) {
      const key = path.resolve(archive);
      if (this.jobs.has(key)) continue;
      const job: Job<T> = { state: 'queued', done: Promise.resolve(undefined) };
      job.done = this.chain.then(() => {
        if (job.state !== 'queued') return undefined;
        job.state = 'running';
        return this.work(key);
      });
      this.jobs.set(key, job);
      this.counts.queued++;
      this.chain = job.done.then(() => undefined);
    }
  }

  /** `archive`'s result, now the caller's; undefined when never queued, not begun yet, failed, or changed since. */
  async take(archive: string): Promise<T | undefined> {
    const key = path.resolve(archive);
    const job = this.jobs.get(key);
    if (job === undefined) return undefined;
    this.jobs.delete(key);
    if (job.state === 'queued') {
      job.state = 'skipped';
      return undefined;
    }
    const made = await job.done;
    if (made === undefined) return undefined;
    if (archiveIdentity(key) !== made.identity) {
      await this.discard(made.value);
      return undefined;
    }
    this.counts.taken++;
    return made.value;
  }

  /** Settles when every job queued so far has ended or been skipped (`work` sees to stopping early). */
  async settled(): Promise<void> {
    await this.chain;
  }
}

interface Job<T> {
  state: 'queued' | 'running' | 'skipped';
  done: Promise<MadeAhead<T> | undefined>;
}
