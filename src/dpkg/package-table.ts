import type { PkgEntry } from './model';

/**
 * The package instances of one database, with dpkg's rules for where a stanza lands (lib/dpkg/parse.c
 * parse_find_set_slot, parse_find_pkg_slot, pkg_parse_copy) and dpkg's order for writing them
 * (pkg-show.c pkg_sorter_by_nonambig_name_arch). Pure: no I/O.
 *
 * A "set" is every instance of one name; an instance is identified by its architecture. Where a stanza
 * lands depends on where it comes from:
 * - status: the instance of its architecture;
 * - an update entry: when the set has exactly one installed instance and not both are `Multi-Arch: same`,
 *   that instance, whatever its architecture (a cross-grade replaces it); otherwise the instance of its
 *   architecture;
 * - overmerge's own write: as an update entry, since that is how every later reader will apply it.
 */
export type Landing = 'status' | 'update';

export class TableError extends Error {
  constructor(readonly problem: string) {
    super(problem);
  }
}

export class PackageTable {
  private readonly sets = new Map<string, PkgEntry[]>();
  /**
   * The instances in dpkg's order, kept until the table changes: every transaction, configure turn and
   * trigger snapshot asks for them (about 40 sorts of every name in a bootstrap).
   */
  private inOrder: PkgEntry[] | undefined;

  constructor(readonly nativeArch: string) {}

  get(name: string, arch: string): PkgEntry | undefined {
    return this.sets.get(name)?.find((e) => e.arch === arch);
  }

  /** Every instance of `name`, in no particular order. */
  instances(name: string): readonly PkgEntry[] {
    return this.sets.get(name) ?? [];
  }

  get size(): number {
    let n = 0;
    for (const set of this.sets.values()) n += set.length;
    return n;
  }

  /** Every instance in the order dpkg writes status. */
  sorted(): PkgEntry[] {
    if (this.inOrder === undefined) {
      const names = [...this.sets.keys()].sort(byteCompare);
      const out: PkgEntry[] = [];
      for (const name of names) out.push(...[...this.sets.get(name)!].sort((a, b) => this.compareArch(a, b)));
      this.inOrder = out;
    }
    // A copy: callers delete from the table while walking what it returned.
    return [...this.inOrder];
  }

  clone(): PackageTable {
    const copy = new PackageTable(this.nativeArch);
    for (const [name, set] of this.sets) copy.sets.set(name, [...set]);
    return copy;
  }

  /**
   * Where a stanza for `entry` lands: the entry it replaces (undefined for a new instance). Throws
   * TableError where dpkg refuses the stanza as one that would corrupt the database.
   */
  landing(entry: PkgEntry, from: Landing): PkgEntry | undefined {
    const set = this.sets.get(entry.name) ?? [];
    const installed = set.filter((e) => e.status.state !== 'not-installed');
    this.checkCoinstallable(entry, from, installed);
    const selection = from === 'status' && entry.status.state === 'not-installed';
    if (installed.length > 1 && !selection && entry.multiArch !== 'same') {
      throw new TableError(
        `${describe(entry)} with field 'Multi-Arch: ${entry.multiArch}' is not co-installable with ${entry.name} which has multiple installed instances`,
      );
    }
    if (from === 'update' && installed.length === 1) {
      const only = installed[0];
      if (!(only.multiArch === 'same' && entry.multiArch === 'same')) return only;
    }
    return set.find((e) => e.arch === entry.arch);
  }

  /**
   * Applies a stanza as dpkg's reader does and returns the entry as stored (Section and Priority of the
   * instance it replaces are kept, as dpkg's reader keeps them) and the one it replaced.
   */
  apply(entry: PkgEntry, from: Landing): { stored: PkgEntry; replaced?: PkgEntry } {
    const replaced = this.landing(entry, from);
    const stored = keepClassification(entry, replaced);
    this.place(stored, replaced);
    return { stored, replaced };
  }

  /**
   * Stores `entry` exactly, in the slot an update entry for it lands in: what a writer that has just
   * written that entry holds in memory (dpkg's own view until its next checkpoint).
   */
  replace(entry: PkgEntry): { replaced?: PkgEntry } {
    const replaced = this.landing(entry, 'update');
    this.place(entry, replaced);
    return { replaced };
  }

  private place(entry: PkgEntry, replaced: PkgEntry | undefined): void {
    const set = (this.sets.get(entry.name) ?? []).filter((e) => e !== replaced);
    // A cross-grade may move the instance onto the architecture of a mere selection: that one goes, as
    // dpkg blanks it after such an unpack.
    const clash = set.findIndex((e) => e.arch === entry.arch);
    if (clash >= 0) set.splice(clash, 1);
    set.push(entry);
    this.sets.set(entry.name, set);
    this.inOrder = undefined;
  }

  /** Forgets an instance (used to drop what dpkg would not write). */
  delete(name: string, arch: string): void {
    const set = this.sets.get(name);
    if (!set) return;
    this.inOrder = undefined;
    const rest = set.filter((e) => e.arch !== arch);
    if (rest.length === 0) this.sets.delete(name);
    else this.sets.set(name, rest);
  }

  /** parse_find_set_slot: at most one installed instance that is not `Multi-Arch: same`, and no mixing. */
  private checkCoinstallable(entry: PkgEntry, from: Landing, installed: PkgEntry[]): void {
    const counted = from === 'status' && entry.status.state !== 'not-installed' ? [...installed, entry] : installed;
    const single = counted.filter((e) => e.multiArch !== 'same').length;
    const multi = counted.length - single;
    if (single > 1) {
      throw new TableError('multiple non-coinstallable package instances present; most probably due to an upgrade from an unofficial dpkg');
    }
    if (single > 0 && multi > 0) {
      throw new TableError('mixed non-coinstallable and coinstallable package instances present; most probably due to an upgrade from an unofficial dpkg');
    }
  }

  /** Whether dpkg writes `e`'s name with its architecture (`pnaw_nonambig`). */
  needsArch(e: PkgEntry): boolean {
    if (e.arch === '') return false;
    if (e.multiArch === 'same') return true;
    return e.arch !== this.nativeArch && e.arch !== 'all';
  }

  /** dpkg's order within a set: unqualified names first, then by architecture name. */
  private compareArch(a: PkgEntry, b: PkgEntry): number {
    if (a.arch === b.arch) return 0;
    const qa = this.needsArch(a);
    const qb = this.needsArch(b);
    if (qa !== qb) return qa ? 1 : -1;
    // dpkg leaves two unqualified instances unordered (its comparator says "less" both ways); overmerge
    // orders them by architecture so that its output does not depend on the sort algorithm.
    return byteCompare(a.arch, b.arch);
  }
}

/** dpkg's weak classification: a stanza does not replace the Section or Priority an instance already has. */
function keepClassification(entry: PkgEntry, replaced: PkgEntry | undefined): PkgEntry {
  if (!replaced) return entry;
  const section = replaced.section ?? entry.section;
  const priority = replaced.priority ?? entry.priority;
  if (section === entry.section && priority === entry.priority) return entry;
  const { raw: _raw, ...rest } = entry;
  return { ...rest, section, priority };
}

function describe(e: PkgEntry): string {
  return e.arch === '' ? e.name : `${e.name}:${e.arch}`;
}

/** strcmp on byte strings. */
export function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
