/** What the reverse index needs of a record: its relation groups, and the name each alternative targets. */
interface Linked<P extends { readonly name: string }> {
  readonly deps: readonly { readonly possis: readonly P[] }[];
}

/**
 * dpkg's `depended` lists: for each name, the alternatives of every linked record that name it. dpkg links
 * a record by pushing each of its alternatives at the head of its target's list, so the most recently
 * linked record comes first — the order dpkg's messages walk them in. Kept up to date record by record, so
 * a transaction costs what it touches, not what is installed.
 */
export class ReverseIndex<Possi extends { readonly name: string }> {
  private readonly lists = new Map<string, Possi[]>();

  get(name: string): readonly Possi[] {
    return this.lists.get(name) ?? [];
  }

  link(bin: Linked<Possi> | undefined): void {
    for (const dep of bin?.deps ?? []) {
      for (const possi of dep.possis) {
        const list = this.lists.get(possi.name);
        if (list) list.unshift(possi);
        else this.lists.set(possi.name, [possi]);
      }
    }
  }

  unlink(bin: Linked<Possi> | undefined): void {
    for (const dep of bin?.deps ?? []) {
      for (const possi of dep.possis) {
        const list = this.lists.get(possi.name);
        const i = list?.indexOf(possi) ?? -1;
        if (i >= 0) list!.splice(i, 1);
      }
    }
  }
}

/**
 * Which instances list each path (dpkg's file → packages mapping), kept up to date record by record, with
 * what finding disappearing packages needs without looking at every installed package: how many paths
 * each instance owns alone, and the instances that own none alone (every path shared).
 */
export class OwnerIndex<Pkg> {
  /**
   * The owners of each path: the owner itself where it is the only one, as for nearly every path, else a set
   * of them. A set per path cost about 150 bytes each of an archive's members (17 MiB for 116,010).
   */
  private readonly owners = new Map<string, Pkg | Set<Pkg>>();
  private readonly counts = new Map<Pkg, { files: number; sole: number }>();
  private readonly allShared = new Set<Pkg>();
  /**
   * The files of the one package added while the index held no path, not indexed yet: it owns each of
   * them alone (nothing is shadowed), and whether it passes a test needs no path. A lone archive's paths
   * are then indexed only if a question needs them: a huge archive into a root whose packages' file lists
   * are not loaded makes no map entry a member (116,010 members: 7 MiB with its growth, judged at once).
   */
  private deferred: { pkg: Pkg; files: readonly string[] } | undefined;

  get(path: string): ReadonlySet<Pkg> {
    this.index();
    const o = this.owners.get(path);
    return o === undefined ? NONE : o instanceof Set ? o : new Set([o]);
  }

  /**
   * Whether any owner of `path` passes `test`, without the set get() makes for a sole owner: asked once
   * per shipped path of an archive (116,010 sets would be 12 MiB made in one synchronous call).
   */
  some(path: string, test: (pkg: Pkg) => boolean): boolean {
    // The deferred package is the only owner there is: if it fails the test, whether it lists `path` does not matter.
    if (this.deferred !== undefined && !test(this.deferred.pkg)) return false;
    this.index();
    const o = this.owners.get(path);
    if (o === undefined) return false;
    if (!(o instanceof Set)) return test(o);
    for (const p of o) if (test(p)) return true;
    return false;
  }

  /** Instances with paths, none of them their own alone. */
  shadowed(): ReadonlySet<Pkg> {
    return this.allShared;
  }

  add(pkg: Pkg, files: readonly string[]): void {
    if (this.deferred === undefined && this.owners.size === 0 && files.length > 0) {
      this.deferred = { pkg, files };
      return;
    }
    this.index();
    this.addNow(pkg, files);
  }

  private addNow(pkg: Pkg, files: readonly string[]): void {
    for (const f of files) {
      const o = this.owners.get(f);
      if (o === undefined) {
        this.owners.set(f, pkg);
        this.bump(pkg, 1, 1);
      } else if (!(o instanceof Set)) {
        if (o === pkg) continue;
        this.owners.set(f, new Set([o, pkg]));
        this.bump(o, 0, -1);
        this.bump(pkg, 1, 0);
      } else if (!o.has(pkg)) {
        if (o.size === 1) this.bump(first(o), 0, -1);
        o.add(pkg);
        this.bump(pkg, 1, 0);
      }
    }
  }

  remove(pkg: Pkg, files: readonly string[]): void {
    if (this.deferred !== undefined && this.deferred.pkg === pkg && this.deferred.files === files) {
      this.deferred = undefined;
      return;
    }
    this.index();
    for (const f of files) {
      const o = this.owners.get(f);
      if (o === undefined) continue;
      if (!(o instanceof Set)) {
        if (o !== pkg) continue;
        this.owners.delete(f);
        this.bump(pkg, -1, -1);
        continue;
      }
      if (!o.delete(pkg)) continue;
      if (o.size === 0) {
        this.owners.delete(f);
        this.bump(pkg, -1, -1);
      } else {
        this.bump(pkg, -1, 0);
        if (o.size === 1) {
          const left = first(o);
          this.bump(left, 0, 1);
          this.owners.set(f, left);
        }
      }
    }
  }

  /** The deferred package's files into the index, before anything that needs them there. */
  private index(): void {
    const d = this.deferred;
    if (d === undefined) return;
    this.deferred = undefined;
    this.addNow(d.pkg, d.files);
  }

  private bump(pkg: Pkg, files: number, sole: number): void {
    const c = this.counts.get(pkg) ?? { files: 0, sole: 0 };
    c.files += files;
    c.sole += sole;
    this.counts.set(pkg, c);
    if (c.files > 0 && c.sole === 0) this.allShared.add(pkg);
    else this.allShared.delete(pkg);
  }
}

const NONE: ReadonlySet<never> = new Set();

function first<T>(set: ReadonlySet<T>): T {
  return set.values().next().value as T;
}
