import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import { BIN } from './run-cli';

/** bin/overmerge in a child of its own, held at a filesystem step (OVERMERGE_DEBUG_PAUSE_AT, src/engine/crash.ts). */
export interface PausedChild {
  pid: number | undefined;
  /** SIGKILL, as a crash: nothing of the child's own clean-up runs. */
  kill(): Promise<void>;
}

/**
 * Runs `argv` until the child pauses at `at` (STEP:SUFFIX), then `whilePaused` with it held there; the
 * child is killed and the pause file removed however that ends. Fails if the child never paused (within
 * `waitMs`), with what it said on stderr.
 */
export async function whilePausedAt(
  argv: readonly string[],
  at: string,
  pauseFile: string,
  whilePaused: (child: PausedChild) => Promise<void>,
  opts: { env?: NodeJS.ProcessEnv; waitMs?: number } = {},
): Promise<void> {
  const child = spawn(process.execPath, [BIN, ...argv], {
    env: { ...process.env, ...opts.env, OVERMERGE_DEBUG_PAUSE_AT: at, OVERMERGE_DEBUG_PAUSE_FILE: pauseFile },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (): Promise<void> => {
    child.kill('SIGKILL');
    await exited;
  };
  try {
    const deadline = Date.now() + (opts.waitMs ?? 60_000);
    while (!existsSync(pauseFile) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(existsSync(pauseFile), `the child never paused at ${at} (exit ${child.exitCode}: ${stderr})`);
    await whilePaused({ pid: child.pid, kill });
  } finally {
    await kill();
    await fsp.rm(pauseFile, { force: true });
  }
}
