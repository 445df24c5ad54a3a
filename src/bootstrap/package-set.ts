import type { DebControl } from '../archive/deb';
import { parseRelations, relationMatches, type Relation, type RelationGroups } from '../control/relations';
import { OvermergeError } from '../errors';

/**
 * The package set of a bootstrap, as plain data read from the archives' control parts, and the questions
 * the bootstrap asks of it: which packages form the Essential set (unpacked before anything runs), and the
 * groups it installs them in. Pure: tests build sets from literal fields.
 */
export interface SetPackage {
  /** The archive as the user named it. */
  readonly archive: string;
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly essential: boolean;
  readonly preDepends: RelationGroups;
  readonly depends: RelationGroups;
  readonly provides: readonly Relation[];
  /** The raw relation fields and the control members the relations planner wants (order.ts). */
  readonly fields: {
    readonly preDepends?: string;
    readonly depends?: string;
    readonly breaks?: string;
    readonly conflicts?: string;
    readonly replaces?: string;
    readonly provides?: string;
    readonly multiArch?: string;
    readonly order: readonly string[];
  };
  readonly hasPostinst: boolean;
}

/** The packages debootstrap installs one by one before the rest (its "core"), in its order. */
export const CORE_FIRST = ['base-passwd', 'base-files'] as const;

/** What one archive's control part tells the bootstrap. */
export function setPackageOf(c: DebControl): SetPackage {
  const f = c.fields;
  const get = (n: string): string | undefined => f.get(n);
  const rel = (n: string): RelationGroups => parseRelations(n, get(n) ?? '', { allowRestrictions: false });
  return {
    archive: c.path,
    name: (get('Package') ?? '').toLowerCase(),
    version: get('Version') ?? '',
    architecture: get('Architecture') ?? '',
    essential: (get('Essential') ?? '').toLowerCase() === 'yes',
    preDepends: rel('Pre-Depends'),
    depends: rel('Depends'),
    provides: rel('Provides').map((g) => g[0]),
    fields: {
      preDepends: get('Pre-Depends'),
      depends: get('Depends'),
      breaks: get('Breaks'),
      conflicts: get('Conflicts'),
      replaces: get('Replaces'),
      provides: get('Provides'),
      multiArch: get('Multi-Arch'),
      order: f.fields.map(([n]) => n),
    },
    hasPostinst: c.files.has('postinst'),
  };
}

/** The architecture of the root a set makes: the one architecture its non-`all` packages share. */
export function setArchitecture(set: readonly SetPackage[]): string {
  const archs = [...new Set(set.map((p) => p.architecture).filter((a) => a !== 'all'))].sort();
  if (archs.length === 1) return archs[0];
  if (archs.length === 0) {
    throw new OvermergeError('E_BAD_CONTROL', 'every archive given is Architecture: all: the set has no architecture to make a root of', {
      op: 'bootstrap',
      hint: "give the archives of a whole package set (the Essential set at least, e.g. libc6's)",
    });
  }
  throw new OvermergeError('E_BAD_CONTROL', `the archives are of several architectures (${archs.join(', ')}); a bootstrap makes a root of one`, {
    op: 'bootstrap',
    hint: 'give the archives of one architecture (and Architecture: all)',
  });
}

/** Refuses a set that names a package twice: which of the two to install would be a guess. */
export function checkUnique(set: readonly SetPackage[]): void {
  const seen = new Map<string, SetPackage>();
  for (const p of set) {
    const other = seen.get(p.name);
    if (other) {
      throw new OvermergeError('E_BAD_CONTROL', `${p.archive}: package ${p.name} is given twice (also ${other.archive})`, {
        op: 'bootstrap',
        path: p.archive,
        hint: 'give each package once',
      });
    }
    seen.set(p.name, p);
  }
}

/**
 * The first package of the set that satisfies one alternative of `group`, trying the alternatives in
 * order as apt does (a real package before one that only provides the name).
 */
export function satisfierIn(group: readonly Relation[], set: readonly SetPackage[], nativeArch: string): SetPackage | undefined {
  for (const rel of group) {
    const direct = set.find((p) => p.name === rel.name && relationMatches(rel, facts(p), { nativeArch }));
    if (direct) return direct;
    const provider = set.find((p) => relationMatches(rel, facts(p), { nativeArch }));
    if (provider) return provider;
  }
  return undefined;
}

function facts(p: SetPackage) {
  return { name: p.name, version: p.version, architecture: p.architecture, provides: p.provides };
}

/**
 * The Essential set: the `Essential: yes` packages and what they pre-depend and depend on, within the set
 * (mmdebstrap's `essential` variant, debootstrap's "required" extraction). A dependency the set cannot
 * satisfy is left for the engine's relation checks to name; it does not make the set smaller or larger.
 */
export function essentialClosure(set: readonly SetPackage[], nativeArch: string): Set<string> {
  const out = new Set<string>();
  const queue = set.filter((p) => p.essential);
  while (queue.length > 0) {
    const p = queue.shift() as SetPackage;
    if (out.has(p.name)) continue;
    out.add(p.name);
    for (const group of [...p.preDepends, ...p.depends]) {
      const s = satisfierIn(group, set, nativeArch);
      if (s && !out.has(s.name)) queue.push(s);
    }
  }
  return out;
}

/** The groups a bootstrap installs, one engine transaction each, in this order. */
export interface InstallGroups {
  /** The Essential set, unpacked before any script can run (there is no /bin/sh before it). */
  essential: SetPackage[];
  /** base-passwd, then base-files, each installed alone first, as debootstrap's core install does. */
  core: SetPackage[];
  /** The rest of the Essential set. */
  essentialRest: SetPackage[];
  /** Everything else (apt and what it needs, for minbase + apt). */
  rest: SetPackage[];
}

/**
 * Splits a set into its install groups, each sorted by name (the order the relations planner starts from).
 * Refuses a set without an Essential package: it would have no shell to run a single script with.
 */
export function installGroups(set: readonly SetPackage[], nativeArch: string): InstallGroups {
  checkUnique(set);
  const essentialNames = essentialClosure(set, nativeArch);
  if (essentialNames.size === 0) {
    throw new OvermergeError('E_BAD_CONTROL', 'none of the archives is an Essential: yes package: the root would have no shell or tools', {
      op: 'bootstrap',
      hint: 'give the archives of a whole package set, the Essential set at least',
    });
  }
  const byName = (a: SetPackage, b: SetPackage): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const sorted = [...set].sort(byName);
  const essential = sorted.filter((p) => essentialNames.has(p.name));
  const core = CORE_FIRST.map((n) => essential.find((p) => p.name === n)).filter((p): p is SetPackage => p !== undefined);
  const coreNames = new Set(core.map((p) => p.name));
  return {
    essential,
    core,
    essentialRest: essential.filter((p) => !coreNames.has(p.name)),
    rest: sorted.filter((p) => !essentialNames.has(p.name)),
  };
}

/** A set's identity for the resume marker: `name version arch` per package, sorted. */
export function setIdentity(set: readonly SetPackage[]): string[] {
  return set.map((p) => `${p.name} ${p.version} ${p.architecture}`).sort();
}
