import { existsSync } from 'node:fs';
import { spawnChild } from '../spawn-child';
import type { HostPath } from './host-path';

/**
 * A FIFO or a device node at `at`, made by coreutils' mknod(1): Node has no mknod(2), and the program is
 * that call. Started with posix_spawn (spawn-child.ts): a bootstrap's /dev takes nine of them, and Node's
 * spawn cost this thread about 2 ms each.
 *
 * A failure rejects with what mknod said (its last line), with the errno its words name where they name one
 * (file exists, no space, not permitted), so that fsError reports it as the call's own would be.
 */
export async function mknod(at: HostPath, mode: number, node: { kind: 'fifo' } | { kind: 'char' | 'block'; major: number | bigint; minor: number | bigint }): Promise<void> {
  const args = ['-m', (mode & 0o7777).toString(8), '--', at, ...(node.kind === 'fifo' ? ['p'] : [node.kind === 'char' ? 'c' : 'b', String(node.major), String(node.minor)])];
  const child = spawnChild(MKNOD.find((p) => existsSync(p)) ?? 'mknod', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const said: Buffer[] = [];
  child.stderr?.on('data', (b: Buffer) => said.push(b));
  const { code, signal, error } = await child.closed;
  if (error) throw error;
  if (code === 0) return;
  const text = Buffer.concat(said).toString('utf8').trim().split('\n').pop() || `mknod exited with ${code === null ? `signal ${signal}` : `status ${code}`}`;
  const errno = /File exists/.test(text) ? 'EEXIST' : /No space/.test(text) ? 'ENOSPC' : /not permitted/.test(text) ? 'EPERM' : undefined;
  throw Object.assign(new Error(text), errno ? { code: errno } : {});
}

/** Where Debian has coreutils' mknod (merged /usr: both). */
const MKNOD = ['/usr/bin/mknod', '/bin/mknod'];
