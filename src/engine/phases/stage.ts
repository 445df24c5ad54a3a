import { makePrivateDirectory } from '../../fs/entries';
import { hostJoin, type HostPath } from '../../fs/host-path';
import { DEFAULT_MAX_MEMBERS, stageArchive } from '../../stage/stage';
import type { CrashPoints } from '../crash';
import type { InstallRequest } from '../plan-model';
import type { Probe } from '../probe';
import { releaseFreedMemory } from '../memory-bounds';
import { freeSpace } from '../space';
import type { PathFilter } from '../../model/path-filter';
import type { ReadArchive } from './read';

export interface StageOptions {
  asRoot: boolean;
  /** Members the archives of one transaction may have in all (default DEFAULT_MAX_MEMBERS). */
  maxMembers?: number;
  crash: CrashPoints;
  progress?: (phase: string, done: number, total: number) => void;
  /** dpkg's --path-exclude / --path-include: what of the archives stays out of the root. */
  pathFilters?: readonly PathFilter[];
}

/**
 * The stage phase of an install: each archive's data streamed into its own folder of the transaction's
 * staging area, where its paths land in the root (directory symlinks followed), and the installed
 * version it replaces. Nothing in the root changes here. Without `stagingDir` (a preview) nothing is
 * written anywhere: the manifests are measured, not staged.
 */
export async function stageArchives(
  archives: readonly ReadArchive[],
  probe: Probe,
  stagingDir: HostPath | undefined,
  status: string,
  opts: StageOptions,
): Promise<InstallRequest[]> {
  const installs: InstallRequest[] = [];
  const memberLimit = opts.maxMembers ?? DEFAULT_MAX_MEMBERS;
  let members = 0;
  for (let i = 0; i < archives.length; i++) {
    const a = archives[i];
    if (stagingDir !== undefined) opts.progress?.('stage', i, archives.length);
    const dir = stagingDir === undefined ? undefined : hostJoin(stagingDir, String(i));
    if (dir !== undefined) await makePrivateDirectory(dir, 'create staging folder');
    // Without Installed-Size the free space is the only bound on what the archive may unpack.
    const freeBytes = a.limit === undefined ? await freeSpace(probe.root.host) : undefined;
    const staged = await stageArchive(a.path, a.control, dir, {
      asRoot: opts.asRoot,
      maxBytes: a.limit,
      freeBytes,
      members: { left: memberLimit - members, limit: memberLimit },
      pathFilters: opts.pathFilters,
    });
    members += staged.entries.length;
    // A crash point only where something was written: a preview (no folder) comes before any transaction.
    if (dir !== undefined) opts.crash.tick();
    const resolved = await probe.resolveAll(staged);
    const old = probe.installed(staged.name, staged.architecture);
    installs.push({ staged, resolved, old, status });
    // The archive's decoder and buffers are freed by now: let their pages go before the next one's.
    releaseFreedMemory();
  }
  if (stagingDir !== undefined) opts.progress?.('stage', archives.length, archives.length);
  return installs;
}
