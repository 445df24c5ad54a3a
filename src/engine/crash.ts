import { promises as fsp } from 'node:fs';
import { writeNote } from '../fs/note-file';
import { OvermergeError } from '../errors';

/**
 * Deterministic crash points for tests. Every journal write and every filesystem sub-step counts as one
 * point. Documented debug options:
 * - OVERMERGE_DEBUG_CRASH_AT=N: the process kills itself with SIGKILL at point N — no cleanup, no
 *   flushing, exactly like `kill -9` or a power cut as far as the process can tell (recovery's test).
 * - OVERMERGE_DEBUG_FAIL_AT=N: point N throws OvermergeError('E_CRASH_INJECTED') instead, an ordinary
 *   error, so the engine's own rollback runs (in-process failure's test). Only the forward pass can fail:
 *   the rollback passes later points, and each point fires at most once.
 * - OVERMERGE_DEBUG_COUNT_POINTS=FILE: the number of points passed is written to FILE at exit, so a test
 *   knows how far to sweep.
 * - OVERMERGE_DEBUG_PAUSE_AT=STEP:SUFFIX with OVERMERGE_DEBUG_PAUSE_FILE=FILE: at the first filesystem step
 *   of a transaction named STEP (place:start, place:temp, place:commit, aside:..., as movefile names them)
 *   whose path ends in SUFFIX, the process writes its PID to FILE and waits until FILE is removed (at most a
 *   minute). A race test changes the root meanwhile, between the engine's checks and its writes.
 */
export class CrashPoints {
  private passed = 0;
  private paused = false;

  constructor(
    private readonly crashAt: number | undefined,
    private readonly countFile: string | undefined,
    private readonly failAt: number | undefined = undefined,
    private readonly pause: PauseRequest | undefined = undefined,
  ) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): CrashPoints {
    return new CrashPoints(
      pointOf(env.OVERMERGE_DEBUG_CRASH_AT),
      env.OVERMERGE_DEBUG_COUNT_POINTS,
      pointOf(env.OVERMERGE_DEBUG_FAIL_AT),
      pauseOf(env.OVERMERGE_DEBUG_PAUSE_AT, env.OVERMERGE_DEBUG_PAUSE_FILE),
    );
  }

  /** Passes one crash point at a named filesystem step; pauses there if OVERMERGE_DEBUG_PAUSE_AT asks to. */
  step(name: string, path: string | undefined): void | Promise<void> {
    this.tick();
    const p = this.pause;
    if (p === undefined || this.paused || name !== p.step || path === undefined || !path.endsWith(p.suffix)) return;
    this.paused = true;
    return waitForRemoval(p.file);
  }

  /** Passes one crash point. */
  tick(): void {
    this.passed++;
    if (this.crashAt !== undefined && this.passed === this.crashAt) {
      this.recordCount();
      process.kill(process.pid, 'SIGKILL');
    }
    if (this.failAt !== undefined && this.passed === this.failAt) {
      throw new OvermergeError('E_CRASH_INJECTED', `injected failure at crash point ${this.failAt} (OVERMERGE_DEBUG_FAIL_AT)`, {
        op: 'debug',
      });
    }
  }

  get count(): number {
    return this.passed;
  }

  /** Writes the count for a sweeping test; called when the command ends. */
  recordCount(): void {
    if (this.countFile === undefined) return;
    writeNote(this.countFile, String(this.passed));
  }
}

interface PauseRequest {
  step: string;
  suffix: string;
  file: string;
}

function pauseOf(at: string | undefined, file: string | undefined): PauseRequest | undefined {
  if (at === undefined || file === undefined) return undefined;
  const colon = at.indexOf(':', at.indexOf(':') + 1);
  if (colon < 0) return undefined;
  return { step: at.slice(0, colon), suffix: at.slice(colon + 1), file };
}

async function waitForRemoval(file: string): Promise<void> {
  writeNote(file, String(process.pid));
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    try {
      await fsp.access(file);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A positive integer point number, or undefined (unset or malformed: no point fires). */
function pointOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}
