import { relationMatches, type Relation } from '../../control/relations';
import type { TriggerPackage } from './model';
import { baseName, RelationCandidates } from './relation-candidates';

/**
 * dpkg's findbreakcycle (src/main/depcon.c) for the configure queue of trigger processing: once the queue
 * stops making progress (dependtry 2 on), before a package is configured or has its triggers processed,
 * a dependency cycle reachable from it through Pre-Depends and Depends is looked for, depth first in field
 * order, and ONE dependency on it is marked broken — counted as satisfied for the rest of the run:
 *
 * - walking back from the package that closes the cycle, the first package without a postinst has its
 *   dependency on the cycle broken (configuring it does nothing, so its order does not matter);
 * - if each has a postinst, the dependency of the package where the cycle started is broken.
 *
 * The same rules as the relations planner's port (src/dpkg/relations/cycles.ts), over the trigger model's
 * packages: a name is followed to every instance of it dpkg knows, a Provides only to providers this run
 * configures. Pure.
 */
export interface DependencyBreak {
  /** The package whose dependency is ignored from now on. */
  readonly package: string;
  /** Which alternative: index of the group in `depends`, then of the relation in the group. */
  readonly group: number;
  readonly alternative: number;
  readonly dependsOn: string;
  readonly because: 'no-postinst' | 'cycle-start';
  /** One line, e.g. "dependency cycle libc6 -> libgcc-s1 -> libc6 broken at libgcc-s1 -> libc6 (libgcc-s1 has no postinst)". */
  readonly message: string;
}

/** The key a broken alternative is remembered by (checkDependencies counts it satisfied). */
export function breakKey(pkg: string, group: number, alternative: number): string {
  return `${pkg}\u0000${group}\u0000${alternative}`;
}

interface Link {
  readonly prev?: Link;
  readonly pkg: TriggerPackage;
  group?: number;
  alternative?: number;
  dependsOn?: string;
}

export function findDependencyCycle(
  start: string,
  packages: Readonly<Record<string, TriggerPackage>>,
  broken: ReadonlySet<string>,
  beingConfigured: ReadonlySet<string>,
  candidates: RelationCandidates = new RelationCandidates(packages),
): DependencyBreak | undefined {
  const p = packages[start];
  if (!p) return undefined;
  const search = new CycleSearch(candidates, broken, beingConfigured);
  return search.from(p, undefined);
}

class CycleSearch {
  /** Packages explored completely without finding a cycle (dpkg's black). */
  private readonly done = new Set<string>();

  constructor(
    private readonly candidates: RelationCandidates,
    private readonly broken: ReadonlySet<string>,
    private readonly beingConfigured: ReadonlySet<string>,
  ) {}

  from(pkg: TriggerPackage, sofar: Link | undefined): DependencyBreak | undefined {
    if (this.done.has(pkg.name)) return undefined;
    const link: Link = { prev: sofar, pkg };
    const groups = pkg.depends ?? [];
    for (let g = 0; g < groups.length; g++) {
      for (let a = 0; a < groups[g].length; a++) {
        if (this.broken.has(breakKey(pkg.name, g, a))) continue;
        const rel = groups[g][a];
        link.group = g;
        link.alternative = a;
        link.dependsOn = rel.name;
        for (const dependee of this.dependees(rel)) {
          const found = this.follow(link, sofar, dependee);
          if (found) return found;
        }
      }
    }
    this.done.add(pkg.name);
    return undefined;
  }

  /** Every instance of the name dpkg knows, then the providers this run configures (dpkg's order). */
  private dependees(rel: Relation): TriggerPackage[] {
    const all = this.candidates.of(rel.name).filter((p) => p.status !== 'not-installed');
    const direct = all.filter((p) => baseName(p) === rel.name);
    const providers = all.filter(
      (p) => this.beingConfigured.has(p.name) && baseName(p) !== rel.name && (p.provides ?? []).some((pr) => pr.name === rel.name) && provides(rel, p),
    );
    return [...direct, ...providers];
  }

  private follow(link: Link, sofar: Link | undefined, dependee: TriggerPackage): DependencyBreak | undefined {
    let start = sofar;
    while (start && start.pkg.name !== dependee.name) start = start.prev;
    if (!start) return this.from(dependee, link);
    // A cycle from `start` to `link`: walk back from `link` to the first package without a postinst; the
    // start's own postinst is not looked at (it is where the walk stops).
    let at: Link = link;
    let because: DependencyBreak['because'] = 'cycle-start';
    while (!(at !== link && at.pkg.name === dependee.name)) {
      if (!hasPostinst(at.pkg)) {
        because = 'no-postinst';
        break;
      }
      at = at.prev as Link;
    }
    const cycle: string[] = [];
    for (let l: Link | undefined = link; l && l !== start.prev; l = l.prev) cycle.unshift(l.pkg.name);
    const why = because === 'no-postinst' ? `${at.pkg.name} has no postinst` : `${at.pkg.name} is where the cycle started and every other package on it has a postinst`;
    return {
      package: at.pkg.name,
      group: at.group as number,
      alternative: at.alternative as number,
      dependsOn: at.dependsOn as string,
      because,
      message: `dependency cycle ${[...cycle, cycle[0]].join(' -> ')} broken at ${at.pkg.name} -> ${at.dependsOn} (${why})`,
    };
  }
}

function provides(rel: Relation, p: TriggerPackage): boolean {
  return relationMatches({ ...rel, constraint: undefined, archQualifier: undefined }, { name: baseName(p), version: p.version ?? '0', architecture: p.architecture ?? 'all', provides: p.provides });
}

/** A package whose postinst is not known to be absent counts as having one (dpkg's default choice is then the cycle's start). */
function hasPostinst(p: TriggerPackage): boolean {
  return p.hasPostinst !== false;
}
