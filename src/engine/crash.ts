/**
 * Deterministic crash points for tests. Every journal write and every filesystem sub-step counts as one
 * point; with OVERMERGE_DEBUG_CRASH_AT=N (a documented debug option) the process kills itself with
 * SIGKILL at point N — no cleanup, no flushing, exactly like `kill -9` or a power cut as far as the
 * process can tell. OVERMERGE_DEBUG_COUNT_POINTS=FILE writes the number of points passed to FILE at exit,
 * so a test knows how far to sweep.
 */
export class CrashPoints {
  private passed = 0;

  constructor(
    private readonly crashAt: number | undefined,
    private readonly countFile: string | undefined,
  ) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): CrashPoints {
    const at = env.OVERMERGE_DEBUG_CRASH_AT === undefined ? undefined : Number(env.OVERMERGE_DEBUG_CRASH_AT);
    return new CrashPoints(Number.isInteger(at) && (at as number) > 0 ? at : undefined, env.OVERMERGE_DEBUG_COUNT_POINTS);
  }

  /** Passes one crash point. */
  tick(): void {
    this.passed++;
    if (this.crashAt !== undefined && this.passed === this.crashAt) {
      this.recordCount();
      process.kill(process.pid, 'SIGKILL');
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
