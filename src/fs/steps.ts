/**
 * Crash points. Every sub-step of movefile calls `hooks.step(name, detail)` before it acts, so the engine
 * can journal progress and tests can throw at step N to simulate a kill at that instant. A throw from a
 * hook is a simulated crash: it must reach the caller unchanged, with NO cleanup on the way (a killed
 * process cleans nothing), so it travels wrapped in `Interrupted` and is unwrapped at the public boundary.
 */
export interface StepDetail {
  /** The path the next action touches, when there is one. */
  path?: string;
}

export interface StepHooks {
  step?(name: string, detail: StepDetail): void | Promise<void>;
}

export class Interrupted extends Error {
  constructor(readonly original: unknown) {
    super('interrupted by a step hook');
  }
}

export async function step(hooks: StepHooks | undefined, name: string, detail: StepDetail = {}): Promise<void> {
  if (!hooks?.step) return;
  try {
    await hooks.step(name, detail);
  } catch (err) {
    throw err instanceof Interrupted ? err : new Interrupted(err);
  }
}

/** At a public entry point: rethrow a hook's own error as it was thrown. */
export function unwrapInterrupted(err: unknown): unknown {
  return err instanceof Interrupted ? err.original : err;
}

export function isInterrupted(err: unknown): boolean {
  return err instanceof Interrupted;
}
