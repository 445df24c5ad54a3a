import type { MultiArch } from './types';

/**
 * dpkg's architecture classes (lib/dpkg/arch.h): `none` is a package slot that never had an architecture
 * (a name only mentioned in a relation), `all` and the native architecture count as the same, `any` is the
 * wildcard of `:any` and of unqualified Conflicts/Breaks/Replaces, and anything else is a foreign
 * architecture (configured or not: dpkg only refuses unconfigured ones when installing an archive).
 */
export type ArchClass = 'none' | 'all' | 'any' | 'native' | 'foreign' | 'unknown';

export class Arches {
  private readonly foreign: ReadonlySet<string>;

  constructor(
    readonly native: string,
    foreign: readonly string[] = [],
  ) {
    this.foreign = new Set(foreign);
  }

  classify(arch: string): ArchClass {
    if (arch === '') return 'none';
    if (arch === 'all') return 'all';
    if (arch === 'any') return 'any';
    if (arch === this.native) return 'native';
    return this.foreign.has(arch) ? 'foreign' : 'unknown';
  }

  /** dpkg maps `none` and `all` to the native architecture before comparing two of them. */
  effective(arch: string): string {
    return arch === '' || arch === 'all' ? this.native : arch;
  }
}

/** The facts deparchsatisfied needs about the candidate package. */
export interface ArchCandidate {
  readonly arch: string;
  readonly multiArch: MultiArch;
}

/** The facts it needs about one alternative of a relation. */
export interface ArchWanted {
  /** The architecture the relation asks for: an explicit qualifier, or what dpkg fills in (see possiArch). */
  readonly arch: string;
  /** No qualifier was written. */
  readonly implicit: boolean;
  /** The relation is a Conflicts, Breaks or Replaces. */
  readonly negative: boolean;
}

/**
 * dpkg's deparchsatisfied (lib/dpkg/depcon.c): whether a package of architecture `it.arch` can satisfy
 * (or be hit by) a relation. An unqualified relation is satisfied across architectures only by a
 * Multi-Arch: foreign package; `:any` by a Multi-Arch: allowed one (or by anything, for Conflicts, Breaks
 * and Replaces); otherwise the architectures must be equal, `all` counting as native. A qualifier other
 * than `any` names an architecture literally: dpkg knows no `:native` in binary relations, so `foo:native`
 * matches nothing (unless the native architecture is called "native").
 */
export function archSatisfied(arches: Arches, it: ArchCandidate, want: ArchWanted): boolean {
  if (want.implicit && it.multiArch === 'foreign') return true;
  if (want.arch === 'any' && (it.multiArch === 'allowed' || want.negative)) return true;
  return arches.effective(want.arch) === arches.effective(it.arch);
}
