import { spawnSync } from 'node:child_process';
import type { ActionContext } from './context';

/**
 * The environment dpkg gives every program it runs (src/main/main.c): where it works and what it forces,
 * so that a dpkg run from a maintainer script or a hook works on the same root.
 */
export function childEnv(ctx: ActionContext, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const s = ctx.settings;
  const text = (b: string): string => Buffer.from(b, 'latin1').toString('utf8');
  return { ...ctx.io.env, DPKG_ADMINDIR: text(s.dirs.admindir), DPKG_ROOT: text(s.dirs.root), DPKG_FORCE: s.forces.toString(), ...extra };
}

/**
 * --pre-invoke / --post-invoke (run_invoke_hooks): each command through `sh -c`, in order, with
 * DPKG_HOOK_ACTION set to the action; one that does not exit 0 is fatal, reported with the wait status as
 * system() returns it (exit code × 256), as dpkg reports it.
 */
export function runHooks(ctx: ActionContext, commands: readonly string[]): void {
  for (const command of commands) {
    const res = spawnSync('/bin/sh', ['-c', Buffer.from(command, 'latin1').toString('utf8')], {
      env: childEnv(ctx, { DPKG_HOOK_ACTION: ctx.settings.action!.name }),
      stdio: ['inherit', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
    if (res.stdout?.length) ctx.io.stdout.write(res.stdout);
    if (res.stderr?.length) ctx.io.stderr.write(res.stderr);
    const status = res.error ? 127 << 8 : res.signal ? signalNumber(res.signal) : (res.status ?? 0) << 8;
    if (status !== 0) ctx.report.fatal(`error executing hook '${command}', exit code ${status}`);
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { constants } = require('node:os') as typeof import('node:os');
  return (constants.signals as Record<string, number>)[signal] ?? 1;
}
