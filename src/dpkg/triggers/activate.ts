import type { TriggerDeclarations } from './declarations';
import type { UnincorpEntry } from './formats';
import { cloneState, type PackageStatus, type TriggerState } from './model';
import type { PackageInfo } from './world';
import { TriggerWorld, type TriggerChange, type WorldOptions } from './world';

/**
 * One thing that happens to the trigger state during the unpack or removal part of a run, in dpkg's
 * vocabulary. The engine reports them in the order its steps happen; `unpackEvents` and `removeEvents`
 * (events.ts) give dpkg's order for one package.
 * - `trigger`: an activation by name (an `activate` line, or dpkg-trigger): explicit, or a file trigger
 *   name (the path and its parents), or of unknown kind (ignored); `by` awaits it, null for no-await;
 * - `member`: an archive member being unpacked: exactly the interests in that path (dpkg's tarobject),
 *   parents only through their own members;
 * - `path`: a path removed or replaced outside unpacking (old files, removal, a conffile installed at
 *   configure): the path and each parent directory;
 * - `declared`: the `activate` lines of a package's triggers file, awaited by that package;
 * - `unincorp`: triggers/Unincorp after a maintainer script (dpkg-trigger calls) being incorporated;
 * - `status`: a package's state set as dpkg sets it (with modstatdb_note's consequences);
 * - `package`: what the planner needs to know of a package (version, relations, triggers file), taken from
 *   the version being installed; a package not yet known starts as not-installed;
 * - `interests`: a package's interests replaced (`remove` its old triggers file, `add` its new one).
 */
export type TriggerEvent =
  | { kind: 'trigger'; trigger: string; by: string | null }
  | { kind: 'member'; path: string; by: string | null }
  | { kind: 'path'; path: string; by: string | null }
  | { kind: 'declared'; package: string; declarations: TriggerDeclarations | undefined }
  | { kind: 'unincorp'; entries: readonly UnincorpEntry[] }
  | { kind: 'status'; package: string; status: PackageStatus }
  | { kind: 'package'; package: string; info: PackageInfo }
  | { kind: 'interests'; package: string; remove?: TriggerDeclarations; add?: TriggerDeclarations };

export interface ActivateResult {
  state: TriggerState;
  changes: TriggerChange[];
}

/** Applies `events` to a copy of `state`; pure. */
export function activate(state: TriggerState, events: readonly TriggerEvent[], options: WorldOptions = {}): ActivateResult {
  const world = new TriggerWorld(cloneState(state), options);
  for (const e of events) applyEvent(world, e);
  return { state: world.state, changes: world.changes };
}

export function applyEvent(world: TriggerWorld, e: TriggerEvent): void {
  switch (e.kind) {
    case 'trigger':
      return world.activateTrigger(e.trigger, e.by);
    case 'member':
      return world.activateMember(e.path, e.by);
    case 'path':
      return world.activatePath(e.path, e.by);
    case 'declared':
      return world.activateDeclared(e.package, e.declarations);
    case 'unincorp':
      return world.incorporate(e.entries);
    case 'status':
      return world.setStatus(e.package, e.status);
    case 'package':
      return world.setInfo(e.package, e.info);
    case 'interests':
      return world.changeInterests(e.package, e.remove, e.add);
  }
}

/**
 * What dpkg does to the trigger state as it opens its database for a run (lib/dpkg/dbmodify.c
 * modstatdb_open): a package that others await but that has no pending triggers any more releases them (the
 * previous run stopped between the two updates: trig_fixup_awaiters), the deferred queue starts empty, then
 * the activations dpkg-trigger left in Unincorp are incorporated (and queued for this run).
 */
export function startRun(state: TriggerState, unincorp: readonly UnincorpEntry[], options: WorldOptions = {}): ActivateResult {
  const world = new TriggerWorld(cloneState(state), options);
  world.state.deferred = [];
  const awaited = new Set(Object.values(world.state.packages).flatMap((p) => p.awaited));
  for (const name of awaited) if ((world.pkg(name)?.pending.length ?? 0) === 0) world.clearAwaiters(name);
  world.incorporate(unincorp);
  return { state: world.state, changes: world.changes };
}
