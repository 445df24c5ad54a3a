import { dpkgTableOrder } from './hash-order';
import type { TriggerPackage } from './model';

/**
 * dpkg's trigger-cycle detection (src/main/trigproc.c check_trigger_cycle), as data. Before each trigger
 * processing run dpkg records a snapshot: which package it is about to process, and every package's pending
 * triggers. The hare is the newest snapshot, the tortoise moves one snapshot every second time. When every
 * trigger pending in the tortoise's snapshot is pending again now (now is a superset), no progress is being
 * made: dpkg gives up on the first package of the tortoise's snapshot, which, because dpkg builds the list
 * by prepending while walking its package table, is the LAST package in table order that had triggers
 * pending then.
 */
export interface CycleSnapshot {
  readonly processed: string;
  /** Packages with pending triggers, in dpkg's list order (table order reversed), each with its triggers. */
  readonly pending: ReadonlyArray<{ readonly package: string; readonly triggers: readonly string[] }>;
}

export interface CycleTracker {
  readonly snapshots: readonly CycleSnapshot[];
  readonly tortoise: number;
  readonly advance: boolean;
}

export const NO_CYCLE_TRACKING: CycleTracker = { snapshots: [], tortoise: 0, advance: false };

export interface TriggerCycle {
  /** The package dpkg leaves half-configured. */
  readonly giveUp: string;
  /** The packages processed from the tortoise's snapshot to now ("chain of packages ... responsible"). */
  readonly chain: readonly string[];
  readonly unresolvable: CycleSnapshot['pending'];
  /** What dpkg prints on stderr, byte for byte (dpkg's program name prefix included). */
  readonly message: string;
}

function snapshot(processing: string, packages: Readonly<Record<string, TriggerPackage>>): CycleSnapshot {
  const names = Object.keys(packages).sort();
  const pending = dpkgTableOrder(names)
    .filter((n) => packages[n].pending.length > 0)
    .map((n) => ({ package: n, triggers: packages[n].pending.slice() }))
    .reverse();
  return { processed: processing, pending };
}

/** One check, as dpkg makes it just before processing `processing`'s triggers. */
export function checkTriggerCycle(
  tracker: CycleTracker,
  processing: string,
  packages: Readonly<Record<string, TriggerPackage>>,
): { tracker: CycleTracker; cycle?: TriggerCycle } {
  const snap = snapshot(processing, packages);
  if (tracker.snapshots.length === 0) return { tracker: { snapshots: [snap], tortoise: 0, advance: false } };
  const snapshots = [...tracker.snapshots, snap];
  const tortoise = tracker.advance ? tracker.tortoise + 1 : tracker.tortoise;
  const next: CycleTracker = { snapshots, tortoise, advance: !tracker.advance };
  const then = snapshots[tortoise];
  const stillPending = then.pending.every(({ package: name, triggers }) => triggers.every((t) => packages[name].pending.includes(t)));
  if (!stillPending) return { tracker: next };
  const chain = snapshots.slice(tortoise).map((s) => s.processed);
  // An empty tortoise snapshot is a superset of nothing... dpkg would then give up on a NULL package; it
  // cannot happen, since a snapshot is only taken while the package about to be processed has triggers.
  const giveUp = then.pending[0].package;
  return { tracker: next, cycle: { giveUp, chain, unresolvable: then.pending, message: cycleMessage(chain, then.pending) } };
}

function cycleMessage(chain: readonly string[], pending: CycleSnapshot['pending']): string {
  // dpkg sets its separator to ": " before the first trigger of each package and never back to a space,
  // so a package with two pending triggers is listed as "  pkg: t1: t2".
  const lines = pending.map(({ package: name, triggers }) => `  ${name}${triggers.map((t) => `: ${t}`).join('')}\n`);
  return (
    'dpkg: cycle found while processing triggers:\n' +
    ' chain of packages whose triggers are or may be responsible:\n' +
    `  ${chain.join(' -> ')}\n` +
    " packages' pending triggers which are or may be unresolvable:\n" +
    lines.join('')
  );
}
