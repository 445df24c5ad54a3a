import { parseRelations, type RelationGroups, type VersionConstraint } from '../../control/relations';
import { checkVersion, type Version } from '../../control/version';
import { OvermergeError } from '../../errors';
import { type Arches, archSatisfied } from './arch';
import { OwnerIndex, ReverseIndex } from './indexes';
import type { InstalledPackage, MultiArch, PackageData, PackageStatus, Selection } from './types';

/**
 * The planner's working copy of dpkg's in-core database, shaped like dpkg's own (lib/dpkg/dpkg-db.h) so the
 * ported checks read like their originals: a package *set* per name, a package *instance* per architecture
 * in it, and two binary records per instance, `installed` (what the database says) and `available` (the
 * archive being unpacked). Mutable on purpose: the planner replays dpkg's run on it. Nothing here does I/O.
 */

export type DepType = 'pre-depends' | 'depends' | 'recommends' | 'breaks' | 'conflicts' | 'replaces' | 'provides';

/** dpkg's istobe: what the current run intends for an instance. */
export type IsToBe = 'normal' | 'remove' | 'install-new' | 'deconfigure' | 'preinstall';

/** One alternative of a relation (dpkg's deppossi). */
export interface Possi {
  readonly dep: Dep;
  /** The name it refers to (a package or a virtual package). */
  readonly name: string;
  /** The architecture it asks for, as dpkg fills it in: see possiArch. */
  readonly arch: string;
  /** No `:qualifier` was written (dpkg prints none then). */
  readonly implicit: boolean;
  readonly constraint?: VersionConstraint;
  /** Set when a dependency cycle is broken here; stays set for the rest of the run, as in dpkg. */
  cyclebreak: boolean;
}

/** One comma-separated group of a relation field (dpkg's dependency). */
export interface Dep {
  readonly type: DepType;
  /** The instance whose field it is (dpkg's dep->up). */
  readonly owner: Pkg;
  readonly possis: Possi[];
}

/** One binary record: the control data of one version (dpkg's pkgbin). */
export interface Bin {
  /** '' for a blank record (a slot never installed). */
  readonly versionText: string;
  readonly version?: Version;
  /** '' for a blank record: dpkg's DPKG_ARCH_NONE. */
  readonly arch: string;
  readonly multiArch: MultiArch;
  readonly essential: boolean;
  readonly protected: boolean;
  readonly hasPostinst: boolean;
  readonly hasConffiles: boolean;
  readonly deps: readonly Dep[];
  /** Normalised paths (see normalisePath); '' is the root folder. */
  readonly files: readonly string[];
  readonly archive?: string;
}

export class PkgSet {
  readonly pkgs: Pkg[] = [];
  constructor(readonly name: string) {}
}

/** One package instance (dpkg's pkginfo). */
export class Pkg {
  status: PackageStatus = 'not-installed';
  want: Selection = 'unknown';
  configVersion?: Version;
  installed: Bin;
  available?: Bin;
  istobe: IsToBe = 'normal';
  /** Colouring for findbreakcycle. */
  color: 'white' | 'gray' | 'black' = 'white';
  /** Whether it is in the processing queue. */
  enqueued = false;
  /** False once it disappeared or was removed: it can no longer take over a shared file. */
  filesValid = true;

  constructor(
    readonly set: PkgSet,
    arch = '',
  ) {
    this.installed = blankBin(arch);
  }

  get name(): string {
    return this.set.name;
  }
}

export function blankBin(arch = ''): Bin {
  return {
    versionText: '',
    arch,
    multiArch: 'no',
    essential: false,
    protected: false,
    hasPostinst: false,
    hasConffiles: false,
    deps: [],
    files: [],
  };
}

/** The dpkg in-core database: sets by name, and the reverse indexes dpkg keeps as `depended` lists. */
export class Db {
  private readonly sets = new Map<string, PkgSet>();
  private pkgs?: Pkg[];
  private readonly revInstalled = new ReverseIndex<Possi>();
  private readonly revAvailable = new ReverseIndex<Possi>();
  private readonly owners = new OwnerIndex<Pkg>();

  constructor(readonly arches: Arches) {}

  /** Replaces an instance's installed record, relinking its relations and files. */
  setInstalled(pkg: Pkg, bin: Bin): void {
    this.revInstalled.unlink(pkg.installed);
    this.owners.remove(pkg, pkg.installed.files);
    pkg.installed = bin;
    pkg.filesValid = true;
    this.revInstalled.link(bin);
    this.owners.add(pkg, bin.files);
  }

  setAvailable(pkg: Pkg, bin: Bin): void {
    this.revAvailable.unlink(pkg.available);
    pkg.available = bin;
    this.revAvailable.link(bin);
  }

  /** Changes the files of an installed record (files taken over by another package). */
  setInstalledFiles(pkg: Pkg, files: readonly string[]): void {
    if (pkg.filesValid) this.owners.remove(pkg, pkg.installed.files);
    pkg.installed = { ...pkg.installed, files };
    if (pkg.filesValid) this.owners.add(pkg, files);
  }

  /** The set of `name`, created with one blank instance if unknown (as dpkg's pkg_hash_find_set does). */
  findSet(name: string): PkgSet {
    let set = this.sets.get(name);
    if (!set) {
      set = new PkgSet(name);
      set.pkgs.push(new Pkg(set));
      this.sets.set(name, set);
      this.pkgs = undefined;
    }
    return set;
  }

  /** The instance of `set` for `arch` (dpkg's pkg_hash_get_pkg): the unused slot, a match, or a new one. */
  instanceFor(set: PkgSet, arch: string): Pkg {
    const first = set.pkgs[0];
    if (first.installed.arch === '' && set.pkgs.length === 1) {
      first.installed = { ...first.installed, arch };
      return first;
    }
    const found = set.pkgs.find((p) => p.installed.arch === arch);
    if (found) return found;
    const pkg = new Pkg(set, arch);
    set.pkgs.push(pkg);
    this.pkgs = undefined;
    return pkg;
  }

  /** Instances whose status is not not-installed (dpkg's pkgset_installed_instances). */
  installedInstances(set: PkgSet): Pkg[] {
    return set.pkgs.filter((p) => p.status !== 'not-installed');
  }

  /** Every instance (a snapshot: instances created while iterating it are not in it). */
  allPkgs(): readonly Pkg[] {
    this.pkgs ??= [...this.sets.values()].flatMap((s) => s.pkgs);
    return this.pkgs;
  }

  /** The alternatives naming `name` in any instance's installed record (dpkg's set->depended.installed). */
  dependedInstalled(name: string): readonly Possi[] {
    return this.revInstalled.get(name);
  }

  /** The same over the available records (the archives read so far in this run). */
  dependedAvailable(name: string): readonly Possi[] {
    return this.revAvailable.get(name);
  }

  /** Instances whose installed record lists `path` and still own it (filesValid). */
  ownersOf(path: string): ReadonlySet<Pkg> {
    return this.owners.get(path);
  }

  /** Whether an instance that still owns `path` (as ownersOf) passes `test`; makes nothing per call. */
  someOwnerOf(path: string, test: (pkg: Pkg) => boolean): boolean {
    return this.owners.some(path, test);
  }

  /** Instances owning paths, none of them alone. */
  shadowed(): ReadonlySet<Pkg> {
    return this.owners.shadowed();
  }

  /** The instance no longer owns its listed files (removed, disappeared). */
  dropFiles(pkg: Pkg): void {
    pkg.filesValid = false;
    this.owners.remove(pkg, pkg.installed.files);
  }

  /**
   * The instances of the set `possi` names that can satisfy it by architecture, with the record to judge
   * each by (dpkg's deppossi_pkg_iter). `which` 'by-istobe' takes the available record of an instance
   * being installed and the installed record otherwise.
   */
  *candidates(possi: Possi, which: 'installed' | 'by-istobe'): Generator<Pkg> {
    for (const pkg of this.findSet(possi.name).pkgs) {
      const bin = which === 'by-istobe' ? recordByIsToBe(pkg) : pkg.installed;
      if (this.archOk(bin, possi)) yield pkg;
    }
  }

  /** dpkg's archsatisfied / deparchsatisfied for a record against one alternative. */
  archOk(bin: { arch: string; multiArch: MultiArch }, possi: Possi): boolean {
    const negative = possi.dep.type === 'conflicts' || possi.dep.type === 'breaks' || possi.dep.type === 'replaces';
    return archSatisfied(this.arches, bin, { arch: possi.arch, implicit: possi.implicit, negative });
  }

}

/** The record dpkg judges an instance by during an unpack: the new one for the package being installed. */
export function recordByIsToBe(pkg: Pkg): Bin {
  return pkg.istobe === 'install-new' && pkg.available ? pkg.available : pkg.installed;
}

/** Paths as the planner compares them: no leading `/` or `./`, no trailing `/`; the root is ''. */
export function normalisePath(p: string): string {
  let s = p.replace(/^\.?\/+/, '').replace(/\/+$/, '');
  if (s === '.') s = '';
  return s;
}

/**
 * The paths normalised; the list itself when every path is normalised already (an archive's root paths
 * are): no second array of a huge archive's paths.
 */
function normalisedAll(files: readonly string[]): readonly string[] {
  for (let i = 0; i < files.length; i++) {
    if (normalisePath(files[i]) !== files[i]) return files.map(normalisePath);
  }
  return files;
}

/** The relation fields in the order dpkg writes them to its status file (lib/dpkg/parse.c fieldinfos). */
const FIELDS: Array<[DepType, keyof PackageData, string]> = [
  ['replaces', 'replaces', 'Replaces'],
  ['provides', 'provides', 'Provides'],
  ['depends', 'depends', 'Depends'],
  ['pre-depends', 'preDepends', 'Pre-Depends'],
  ['recommends', 'recommends', 'Recommends'],
  ['breaks', 'breaks', 'Breaks'],
  ['conflicts', 'conflicts', 'Conflicts'],
];

/** The fields in `order` (control-file order) first, then the others in dpkg's status order. */
function fieldsInOrder(order: readonly string[] | undefined): Array<[DepType, keyof PackageData, string]> {
  if (!order) return FIELDS;
  const rank = (field: string) => {
    const i = order.findIndex((o) => o.toLowerCase() === field.toLowerCase());
    return i < 0 ? order.length + FIELDS.findIndex((f) => f[2] === field) : i;
  };
  return [...FIELDS].sort((a, b) => rank(a[2]) - rank(b[2]));
}

/**
 * Builds the binary record of `data` for instance `owner`. Relation fields are read leniently (dpkg's own
 * database may hold versions it only warns about); a field that does not parse throws E_BAD_CONTROL.
 */
export function makeBin(owner: Pkg, data: PackageData, order: readonly string[] | undefined = data.fieldOrder): Bin {
  const deps: Dep[] = [];
  for (const [type, key, field] of fieldsInOrder(order)) {
    const text = data[key] as string | undefined;
    if (text === undefined || text.trim() === '') continue;
    const groups = parsedField(field, text);
    for (const group of groups) {
      const possis: Possi[] = [];
      const dep: Dep = { type, owner, possis };
      for (const rel of group) {
        possis.push({
          dep,
          name: rel.name,
          arch: possiArch(type, rel.archQualifier, data.architecture),
          implicit: rel.archQualifier === undefined,
          constraint: rel.constraint,
          cyclebreak: false,
        });
      }
      deps.push(dep);
    }
  }
  return {
    versionText: data.version,
    version: readVersion(data.version, data.name),
    arch: data.architecture,
    multiArch: data.multiArch ?? 'no',
    essential: data.essential ?? false,
    protected: data.protected ?? false,
    // Unknown counts as having one: the cycle then breaks where it started, which needs no knowledge of scripts.
    hasPostinst: data.hasPostinst ?? true,
    hasConffiles: data.hasConffiles ?? false,
    deps,
    files: normalisedAll(data.files ?? []),
    archive: data.archive,
  };
}

/**
 * A relation field parsed leniently, by its name and text: every judgement of relations loads every
 * installed package (two to four a transaction in a bootstrap), whose fields are the same strings each
 * time. A memo of a pure function whose results makeBin only reads, bounded by clearing it whole.
 */
function parsedField(field: string, text: string): RelationGroups {
  const key = `${field}\n${text}`;
  let groups = parsedFields.get(key);
  if (groups === undefined) {
    groups = parseRelations(field, text, { laxVersions: true });
    if (parsedFields.size >= PARSED_FIELDS_KEPT) parsedFields.clear();
    parsedFields.set(key, groups);
  }
  return groups;
}

const parsedFields = new Map<string, RelationGroups>();
const PARSED_FIELDS_KEPT = 4096;

/**
 * The architecture dpkg gives an alternative (lib/dpkg/fields.c): the written qualifier; for an unqualified
 * Conflicts, Breaks or Replaces the wildcard `any`; for any other unqualified relation the architecture
 * of the package that declares it.
 */
function possiArch(type: DepType, qualifier: string | undefined, ownerArch: string): string {
  if (qualifier !== undefined) return qualifier;
  if (type === 'conflicts' || type === 'breaks' || type === 'replaces') return 'any';
  return ownerArch;
}

export function readVersion(text: string, pkg: string): Version {
  const { version, problem } = checkVersion(text);
  if (!version) {
    throw new OvermergeError('E_BAD_VERSION', `package ${pkg}: invalid version '${text}': ${problem?.reason}`, {
      op: 'plan relations',
    });
  }
  return version;
}

/**
 * Loads dpkg's database into a Db: one instance per installed package and architecture, linked in the
 * order given (dpkg's status file order, for dpkg's order in messages).
 */
export function loadInstalled(db: Db, installed: readonly InstalledPackage[]): void {
  for (const data of installed) {
    if (data.status === 'not-installed') continue;
    const set = db.findSet(data.name);
    const pkg = db.instanceFor(set, data.architecture);
    pkg.status = data.status;
    pkg.want = data.want ?? 'install';
    // Read from dpkg's status file, whose field order is dpkg's own whatever the control file had.
    db.setInstalled(pkg, makeBin(pkg, data, undefined));
    const config = data.configVersion ?? (isConfigured(data.status) ? data.version : undefined);
    pkg.configVersion = config === undefined || config === '' ? undefined : readVersion(config, data.name);
  }
}

function isConfigured(status: PackageStatus): boolean {
  return status === 'installed' || status === 'triggers-pending' || status === 'triggers-awaited';
}
