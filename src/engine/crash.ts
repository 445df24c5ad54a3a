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
 */
export class CrashPoints {
  private passed = 0;

  constructor(
    private readonly crashAt: number | undefined,
    private readonly countFile: string | undefined,
    private readonly failAt: number | undefined = undefined,
  ) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): CrashPoints {
    return new CrashPoints(pointOf(env.OVERMERGE_DEBUG_CRASH_AT), env.OVERMERGE_DEBUG_COUNT_POINTS, pointOf(env.OVERMERGE_DEBUG_FAIL_AT));
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
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('node:fs').writeFileSync(this.countFile, String(this.passed));
  }
}

/** A positive integer point number, or undefined (unset or malformed: no point fires). */
function pointOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}
