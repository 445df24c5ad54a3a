import type { Db } from '../../db/db';
import type { CycleBreak, PackageRef as RelationRef } from '../../dpkg/relations';
import type { PackageRef } from '../../model/package';
import type { Plan, RemoveRequest } from '../plan-model';
import type { Probe } from '../probe';
import type { RelationEffects } from './effects';

/**
 * What the relations plan adds to the engine's plan of files: the conflictors it removes in favour of a
 * new package (removals of the same transaction: their files go with it), and the deconfigurations and
 * disappearances, recorded in the transaction's history as dpkg reports them.
 */

/** A removal request for each conflictor removed in favour of an archive. */
export function relationRemovals(probe: Probe, db: Db, effects: RelationEffects): RemoveRequest[] {
  const out: RemoveRequest[] = [];
  for (const a of effects.archives) {
    for (const c of a.conflictors) {
      const row = db.packages.get(c.name, c.architecture);
      if (row) out.push({ pkg: probe.withFiles(row), purge: false });
    }
  }
  return out;
}

/**
 * The history rows and notices of what the plan did besides unpacking and removing (and where it broke
 * dependency cycles). With
 * `forgetDisappeared` (no maintainer scripts to run: nothing waits for the commit) a package that
 * disappears is forgotten by the commit itself; otherwise its `postrm disappear` runs after the commit,
 * and forgets it then.
 */
export function noteRelations(plan: Plan, effects: RelationEffects, cycleBreaks: readonly CycleBreak[], opts: { forgetDisappeared: boolean }): void {
  // Where a dependency cycle was broken decides which postinst runs first: the user hears where.
  for (const c of cycleBreaks) plan.notices.push(c.message);
  for (const a of effects.archives) {
    for (const d of a.deconfigure) {
      plan.changes.push({ name: d.pkg.name, architecture: d.pkg.architecture, action: 'deconfigure', oldVersion: d.pkg.version });
    }
    for (const gone of a.disappear) {
      plan.changes.push({ name: gone.name, architecture: gone.architecture, action: 'disappear', oldVersion: gone.version });
      plan.notices.push(`(Noting disappearance of ${gone.label}, which has been completely replaced.)`);
      if (opts.forgetDisappeared) plan.deleted.push({ name: gone.name, architecture: gone.architecture, version: gone.version });
    }
  }
}

/** Plan references without the planner's labels (the engine's PackageRef). */
export function plainRefs(refs: readonly RelationRef[]): PackageRef[] {
  return refs.map((r) => ({ name: r.name, architecture: r.architecture, version: r.version }));
}
