import { relationMatches, type Relation } from '../../control/relations';
import { formatVersion } from '../../control/version';
import { breakKey } from './dep-cycles';
import { statusRank, type TriggerPackage } from './model';
import { baseName, RelationCandidates } from './relation-candidates';

/**
 * dpkg's check of a package's Pre-Depends and Depends before its postinst runs (src/main/packages.c
 * dependencies_ok and deppossi_ok_found), reduced to what trigger processing needs:
 * - a dependee installed or triggers-pending satisfies;
 * - one triggers-awaited does not yet: the dependant waits ("defer"), and dpkg notes a package whose trigger
 *   processing would help (the first one the dependee awaits): `fixByTrigger`;
 * - one unpacked or half-configured that this run will configure: wait; otherwise, and for anything less
 *   than unpacked or a version that does not match: "halt" (the dependency cannot be met in this run).
 * - an alternative broken to get past a dependency cycle (dep-cycles.ts) is satisfied.
 * Not modelled: --force-depends-version and --force-configure-any (--force-depends is the caller's:
 * process.ts goes on past a halt with dpkg's warning), Breaks (checked before configure, not before
 * trigger processing), and the ignoring of dependencies on packages being removed.
 */
export type DepVerdict = 'ok' | 'defer' | 'halt';

export interface DepCheck {
  verdict: DepVerdict;
  /** Set when every waiting dependency would be helped by trigger processing (dpkg's progress_bytrigproc). */
  fixByTrigger?: string;
  /** dpkg's explanation lines for a halt (" A depends on B; however: ..."). */
  problems: string[];
}

type Found = 0 | 1 | 3; // FOUND_NONE, FOUND_DEFER, FOUND_OK (FOUND_FORCED needs --force-depends)

export function checkDependencies(
  pkg: TriggerPackage,
  packages: Readonly<Record<string, TriggerPackage>>,
  toBeConfigured: ReadonlySet<string>,
  broken: ReadonlySet<string> = new Set(),
  candidates: RelationCandidates = new RelationCandidates(packages),
): DepCheck {
  let verdict: DepVerdict = 'ok';
  let anyCannotFixByTrigger = false;
  let canFixByTrigger: string | undefined;
  const problems: string[] = [];
  for (const [g, group] of (pkg.depends ?? []).entries()) {
    let found: Found = 0;
    let possFix: string | undefined;
    const why: string[] = [];
    for (const [a, rel] of group.entries()) {
      if (broken.has(breakKey(pkg.name, g, a))) {
        found = 3;
        break;
      }
      if (candidates.named(rel.name).length === 0) {
        why.push(`  Package ${rel.name} is not installed.\n`);
      }
      for (const dependee of candidates.of(rel.name)) {
        const how = matchOf(rel, dependee);
        if (how === undefined) continue;
        let f = foundFor(dependee, toBeConfigured, why);
        if (f === 1 && dependee.status === 'triggers-awaited') possFix = dependee.awaited[0];
        // A package may satisfy its own dependency through its Provides while it is being configured.
        if (f === 1 && how === 'provides' && dependee.name === pkg.name) f = 3;
        if (f > found) found = f;
        if (found === 3) break;
      }
      if (found === 3) break;
    }
    if (found === 0) {
      anyCannotFixByTrigger = true;
      verdict = 'halt';
      problems.push(` ${pkg.name} depends on ${group.map(describe).join(' | ')}${why.length > 0 ? `; however:\n${why.join('')}` : '.\n'}`);
    } else if (found === 1) {
      if (possFix !== undefined) canFixByTrigger = possFix;
      else anyCannotFixByTrigger = true;
      if (verdict === 'ok') verdict = 'defer';
    }
  }
  return { verdict, fixByTrigger: !anyCannotFixByTrigger ? canFixByTrigger : undefined, problems };
}

function matchOf(rel: Relation, p: TriggerPackage): 'direct' | 'provides' | undefined {
  const name = baseName(p);
  const facts = { name, version: p.version ?? '0', architecture: p.architecture ?? 'all', provides: p.provides };
  if (!relationMatches(rel, facts)) return undefined;
  return rel.name === name ? 'direct' : 'provides';
}

function foundFor(dependee: TriggerPackage, toBeConfigured: ReadonlySet<string>, why: string[]): Found {
  const s = dependee.status;
  if (s === 'installed' || s === 'triggers-pending') return 3;
  // dpkg always defers on a triggers-awaited dependee when configuring: its test for the other case
  // (`!f_triggers`) can never hold, since f_triggers is set to -1 or 1 before any processing.
  if (s === 'triggers-awaited') return 1;
  if (statusRank(s) >= statusRank('unpacked')) {
    if (toBeConfigured.has(dependee.name)) return 1;
    why.push(`  Package ${dependee.name} is not configured yet.\n`);
    return 0;
  }
  why.push(`  Package ${dependee.name} is not installed.\n`);
  return 0;
}

function describe(rel: Relation): string {
  const c = rel.constraint;
  return c === undefined ? rel.name : `${rel.name} (${c.op} ${formatVersion(c.version)})`;
}
