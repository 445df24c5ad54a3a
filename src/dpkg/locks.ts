import { hostJoin, type HostPath } from '../fs/host-path';
import { acquireLock, type Lock } from '../fs/lock';
import { FRONTEND_LOCK_FILE, LOCK_FILE } from './admindir';

/**
 * dpkg's two locks, as dpkg takes them (see admindir.ts): `lock-frontend` first — unless
 * DPKG_FRONTEND_LOCKED says our caller (apt) holds it already — then `lock`. Whole-file fcntl write
 * locks, so dpkg and apt refuse (or wait) while overmerge works, and the reverse. Files made 0640, as
 * dpkg makes them. Released newest first.
 */
export async function takeDpkgLocks(admin: HostPath, waitSeconds: number, env: NodeJS.ProcessEnv = process.env): Promise<Lock[]> {
  const taken: Lock[] = [];
  const names = env.DPKG_FRONTEND_LOCKED ? [LOCK_FILE] : [FRONTEND_LOCK_FILE, LOCK_FILE];
  try {
    for (const name of names) {
      const what = name === LOCK_FILE ? "dpkg's database" : "dpkg's front-end lock";
      taken.push(await acquireLock(hostJoin(admin, name), { waitSeconds, mode: 0o640, label: `${what} (${admin})` }));
    }
  } catch (err) {
    releaseLocks(taken);
    throw err;
  }
  return taken;
}

export function releaseLocks(locks: readonly Lock[]): void {
  for (const l of [...locks].reverse()) l.release();
}
