import { promises as fsp } from 'node:fs';
import { hostPath, parseRootPath, type Root } from '../fs/rootpath';
import { spawnChild } from '../spawn-child';
import { firstExecutable } from './host-program';

/**
 * A maintainer script run in the root with a /proc of its own, as debootstrap and mmdebstrap mount one in
 * the root while a bootstrap's scripts run. Scripts ask /proc where they are: debianutils' `ischroot`
 * compares / with /proc/1/root and, without /proc, answers "cannot tell" — then libc6's postinst takes
 * the root for a running system and runs `telinit u; sleep 1` (a second of every bootstrap).
 *
 * The mount lives in a mount namespace of the script's own (propagation private), so it is never seen
 * outside and ends with the script — a kill -9 of overmerge leaves no mount in the root for `recover`, a
 * second bootstrap or an `rm -rf` to meet. The child that runs the script makes the namespace and the
 * mount itself (src/spawn-child.ts, ChildOptions.root); where it cannot, util-linux's `unshare --mount`
 * does, with the command below. dpkg itself mounts nothing: only the bootstrap asks for this.
 */

/** The command that runs `script ARGS` chrooted into `root` with a private /proc mounted there. */
export function withPrivateProc(unshare: string, root: string, script: string, args: readonly string[]): { file: string; args: string[] } {
  return { file: unshare, args: ['--mount', '--propagation', 'private', `--root=${root}`, '--mount-proc=/proc', script, ...args] };
}

/** Whether the root has a /proc folder to mount on (base-files makes it; before it there is none). */
export async function hasProcFolder(root: Root): Promise<boolean> {
  // lstat: a /proc that is a symlink is not mounted on (the mount would follow it).
  const st = await fsp.lstat(hostPath(root, PROC)).catch(() => undefined);
  return st?.isDirectory() === true;
}

/**
 * unshare(1)'s path when this process may make a mount namespace (root, or a container that allows it),
 * else why not, in a few words. Tried once with `unshare --mount true`.
 */
export async function privateProcSupport(): Promise<{ unshare: string } | { why: string }> {
  const unshare = await firstExecutable(['/usr/bin/unshare', '/bin/unshare']);
  if (unshare === undefined) return { why: 'there is no unshare(1) (util-linux)' };
  // posix_spawn (spawn-child.ts): asked while the archives are read, and Node's spawn cost this thread 20 ms.
  const child = spawnChild(unshare, ['--mount', '--propagation', 'private', 'true'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const said: Buffer[] = [];
  child.stderr?.on('data', (b: Buffer) => said.push(b));
  const { code, signal, error } = await child.closed;
  const tried = error?.message ?? (code === 0 ? undefined : Buffer.concat(said).toString('utf8').trim().split('\n').pop() || `exit status ${code ?? signal}`);
  return tried === undefined ? { unshare } : { why: `unshare --mount failed (${tried})` };
}

const PROC = parseRootPath('/proc');
