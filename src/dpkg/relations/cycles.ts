import type { Pkg, Possi } from './model';
import { pkgLabel, refOf } from './names';
import type { Run } from './run';
import type { CycleBreak } from './types';

/**
 * dpkg's findbreakcycle (src/main/depcon.c). Once the deferred-configuration loop stops making progress it
 * looks, before each package it tries, for a dependency cycle reachable from that package through Depends
 * and Pre-Depends (of installed records, and through providers that are being processed), depth first in
 * field order. On the first cycle found it marks ONE dependency as broken — ignored for the rest of the
 * run — and stops:
 *
 * - walking back from the package that closes the cycle towards the package where it started, the first
 *   package without a postinst has its dependency (the one on the cycle) broken: configuring a package
 *   without a postinst does nothing, so its order does not matter;
 * - if every package on the way has a postinst, the dependency of the package where the cycle started is
 *   broken (that package is the one being tried, or the nearest to it, so the loop can go on at once).
 *
 * The starting package's own postinst is not looked at: if it alone lacks one, it is chosen anyway.
 * Packages fully explored without finding a cycle are coloured black and not explored again in this
 * search.
 */
export function findBreakCycle(run: Run, pkg: Pkg): CycleBreak | undefined {
  for (const p of run.db.allPkgs()) p.color = 'white';
  return searchFrom(run, pkg, undefined);
}

/** The path of the search so far, newest last: each link is a package and the alternative followed from it. */
interface Link {
  readonly prev?: Link;
  readonly pkg: Pkg;
  possi?: Possi;
}

function searchFrom(run: Run, pkg: Pkg, sofar: Link | undefined): CycleBreak | undefined {
  if (pkg.color === 'black') return undefined;
  pkg.color = 'gray';
  const link: Link = { prev: sofar, pkg };
  for (const dep of pkg.installed.deps) {
    if (dep.type !== 'depends' && dep.type !== 'pre-depends') continue;
    for (const possi of dep.possis) {
      // Do not find the same cycles again.
      if (possi.cyclebreak) continue;
      link.possi = possi;
      for (const cand of [...run.db.candidates(possi, 'installed')]) {
        const found = follow(run, link, sofar, cand);
        if (found) return found;
      }
      for (const provide of run.db.dependedInstalled(possi.name)) {
        if (provide.dep.type !== 'provides') continue;
        const provider = provide.dep.owner;
        if (provider.istobe === 'normal') continue;
        // Cycles are not broken at Provides links, so the alternative followed stays `possi`.
        const found = follow(run, link, sofar, provider);
        if (found) return found;
      }
    }
  }
  pkg.color = 'black';
  return undefined;
}

/** dpkg's foundcyclebroken: `link` follows its alternative to `dependee`. */
function follow(run: Run, link: Link, sofar: Link | undefined, dependee: Pkg): CycleBreak | undefined {
  let start = sofar;
  while (start && start.pkg !== dependee) start = start.prev;
  if (!start) return searchFrom(run, dependee, link);

  let at: Link = link;
  let because: CycleBreak['because'] = 'cycle-start';
  while (!(at !== link && at.pkg === dependee)) {
    if (!at.pkg.installed.hasPostinst) {
      because = 'no-postinst';
      break;
    }
    at = at.prev!;
  }
  const possi = at.possi!;
  possi.cyclebreak = true;
  return describeBreak(run, link, start, at, possi, because);
}

function describeBreak(run: Run, link: Link, start: Link, at: Link, possi: Possi, because: CycleBreak['because']): CycleBreak {
  const cycle: string[] = [];
  for (let l: Link | undefined = link; l && l !== start.prev; l = l.prev) cycle.unshift(pkgLabel(run.arches, l.pkg));
  const where = `${pkgLabel(run.arches, at.pkg)} -> ${possi.name}`;
  const reason =
    because === 'no-postinst'
      ? `${pkgLabel(run.arches, at.pkg)} has no postinst`
      : `${pkgLabel(run.arches, at.pkg)} is where the cycle started and every other package on it has a postinst`;
  return {
    pkg: refOf(run.arches, at.pkg),
    dependsOn: possi.name,
    because,
    cycle,
    message: `dependency cycle ${[...cycle, cycle[0]].join(' -> ')} broken at ${where} (${reason})`,
  };
}
