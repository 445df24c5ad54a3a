import type { TriggerEvent } from './activate';
import type { TriggerDeclarations } from './declarations';
import { statusRank, type PackageStatus } from './model';
import type { PackageInfo } from './world';

/**
 * dpkg's order of trigger events for one package being unpacked or removed (src/main/unpack.c
 * process_archive, remove.c deferred_remove and removal_bulk), so the engine need not rediscover it.
 * Maintainer scripts run between these steps; the Unincorp left by one (dpkg-trigger) is incorporated
 * right after it: the engine inserts an `unincorp` event there.
 */

export interface UnpackFacts {
  package: string;
  /** The state before this unpack ('not-installed' for a first install). */
  status: PackageStatus;
  /** The installed version's triggers file (undefined for a first install or none). */
  oldDeclarations?: TriggerDeclarations;
  /** The new version's triggers file. */
  newDeclarations?: TriggerDeclarations;
  /** Every member of data.tar, directories included, in archive order. */
  members: readonly string[];
  /** Paths of the old version that the new one no longer has and are removed, in dpkg's order. */
  removedPaths?: readonly string[];
  /** The new version's facts, for the planner. */
  info?: PackageInfo;
}

export function unpackEvents(f: UnpackFacts): TriggerEvent[] {
  const p = f.package;
  // The package's facts first: a package met for the first time enters the state as not-installed.
  const events: TriggerEvent[] = [{ kind: 'package', package: p, info: { ...f.info, declarations: f.newDeclarations } }];
  // Both versions' `activate` lines fire first, while the package is still in its old state: a configured
  // package being upgraded becomes an awaiter; one not yet installed awaits nothing (its link is dropped).
  events.push({ kind: 'declared', package: p, declarations: f.oldDeclarations });
  events.push({ kind: 'declared', package: p, declarations: f.newDeclarations });
  if (statusRank(f.status) >= statusRank('half-configured')) {
    events.push({ kind: 'status', package: p, status: 'half-configured' }); // prerm upgrade runs here
    events.push({ kind: 'status', package: p, status: 'unpacked' });
  }
  events.push({ kind: 'status', package: p, status: 'half-installed' }); // preinst runs here
  for (const m of f.members) events.push({ kind: 'member', path: m, by: p });
  for (const r of f.removedPaths ?? []) events.push({ kind: 'path', path: r, by: p });
  events.push({ kind: 'interests', package: p, remove: f.oldDeclarations, add: f.newDeclarations });
  events.push({ kind: 'status', package: p, status: 'unpacked' });
  return events;
}

export interface RemoveFacts {
  package: string;
  status: PackageStatus;
  declarations?: TriggerDeclarations;
  /** The paths removed, in dpkg's order (its file list backwards; directories still used by others left out). */
  removedPaths: readonly string[];
  /**
   * 'not-installed' when dpkg goes straight on to purge: the package has neither conffiles nor a postrm.
   * (A purge of conffiles activates the triggers file again and each conffile's path: not covered here.)
   */
  finalStatus?: 'config-files' | 'not-installed';
}

/** `dpkg --remove`: the package ends in config-files, its interests gone. */
export function removeEvents(f: RemoveFacts): TriggerEvent[] {
  const p = f.package;
  const events: TriggerEvent[] = [{ kind: 'declared', package: p, declarations: f.declarations }];
  if (statusRank(f.status) >= statusRank('half-configured')) {
    events.push({ kind: 'status', package: p, status: 'half-configured' }); // prerm remove runs here
    events.push({ kind: 'status', package: p, status: 'unpacked' });
  }
  events.push({ kind: 'status', package: p, status: 'half-installed' });
  for (const r of f.removedPaths) events.push({ kind: 'path', path: r, by: p });
  events.push({ kind: 'interests', package: p, remove: f.declarations });
  events.push({ kind: 'status', package: p, status: f.finalStatus ?? 'config-files' });
  return events;
}
