import { constants as fsc, promises as fsp } from 'node:fs';

/**
 * The first of `candidates` (absolute paths, in the order a Debian host has them) that this process may
 * execute, or undefined: how the script runner finds the host's chroot(8) and unshare(1) without a PATH
 * search (PATH is the scripts' environment, not ours to trust for what runs them).
 */
export async function firstExecutable(candidates: readonly string[]): Promise<string | undefined> {
  for (const candidate of candidates) {
    if (await fsp.access(candidate, fsc.X_OK).then(() => true, () => false)) return candidate;
  }
  return undefined;
}
