import type { ManifestEntry } from '../model/entry';
import type { Manifest } from '../model/manifest';
import type { InstalledFile } from '../model/package';
import type { FileRows } from './plan-model';

/** A row that is its manifest entry but for the mtime: a file left alone keeps the installed one. */
export class KeptMtime {
  constructor(
    readonly row: InstalledFile,
    readonly mtime: number,
  ) {}
}

/**
 * A package's rows, gathered in manifest order, kept as the manifest itself plus what differs from it.
 * Most rows are their entry (plan.ts rowFor), so a huge archive's plan holds no object a member: a fresh
 * install's rows are the manifest, and an upgrade's add only the installed mtimes of the files it leaves
 * alone (8 bytes each), the rows that are not their entry (conffiles, paths landing through a directory
 * symlink) and the obsolete conffiles kept. Copying every row out, as before, held about 14 MiB (objects
 * and their paths) for a reinstall of 116,010 members until the commit.
 */
export class Rows {
  /** The manifest index whose row comes next. */
  private next = 0;
  private mtimes: Float64Array | undefined;
  private readonly replaced = new Map<number, InstalledFile>();
  /** Entries with no row: a directory shipped twice through a directory symlink has one. */
  private readonly skipped = new Set<number>();
  private readonly kept: InstalledFile[] = [];

  constructor(private readonly entries: Manifest) {}

  /** The row of `entry`, the manifest's entry `index`; indexes come in ascending order. */
  push(row: InstalledFile, entry: ManifestEntry, index: number): void {
    this.skipTo(index);
    this.next = index + 1;
    if (row !== entry) this.replaced.set(index, row);
  }

  /** The row of `entry` as `row`, but with the installed `mtime`. */
  pushWithMtime(row: InstalledFile, entry: ManifestEntry, index: number, mtime: number): void {
    if (row !== entry) {
      this.push({ ...row, mtime }, entry, index);
      return;
    }
    this.skipTo(index);
    this.next = index + 1;
    if (mtime !== entry.mtime) (this.mtimes ??= new Float64Array(this.entries.length).fill(Number.NaN))[index] = mtime;
  }

  /** Rows of the installed version's files that stay (obsolete conffiles), after the manifest's. */
  pushKept(row: InstalledFile): void {
    this.kept.push(row);
  }

  done(): FileRows {
    this.skipTo(this.entries.length);
    if (this.mtimes === undefined && this.replaced.size === 0 && this.skipped.size === 0 && this.kept.length === 0) return this.entries;
    return new ManifestRows(this.entries, this.mtimes, this.replaced, this.skipped, this.kept);
  }

  /** Entries from the next one up to `index` (excluded) have no row. */
  private skipTo(index: number): void {
    if (index < this.next) throw new RangeError(`row ${index} given after row ${this.next - 1}`);
    for (let i = this.next; i < index; i++) this.skipped.add(i);
    this.next = index;
  }
}

/** A manifest read as rows, with what differs from its entries (Rows.done). Rows are made as read. */
class ManifestRows implements FileRows {
  constructor(
    private readonly entries: Manifest,
    private readonly mtimes: Float64Array | undefined,
    private readonly replaced: ReadonlyMap<number, InstalledFile>,
    private readonly skipped: ReadonlySet<number>,
    private readonly kept: readonly InstalledFile[],
  ) {}

  get length(): number {
    return this.entries.length - this.skipped.size + this.kept.length;
  }

  *[Symbol.iterator](): Iterator<InstalledFile> {
    for (let i = 0; i < this.entries.length; i++) {
      if (this.skipped.size > 0 && this.skipped.has(i)) continue;
      yield this.rowAt(i);
    }
    yield* this.kept;
  }

  map<T>(fn: (row: InstalledFile, index: number) => T): T[] {
    const out: T[] = [];
    for (const row of this) out.push(fn(row, out.length));
    return out;
  }

  filter(fn: (row: InstalledFile, index: number) => boolean): InstalledFile[] {
    const out: InstalledFile[] = [];
    let i = 0;
    for (const row of this) if (fn(row, i++)) out.push(row);
    return out;
  }

  private rowAt(i: number): InstalledFile {
    const row = this.replaced.size > 0 ? this.replaced.get(i) : undefined;
    if (row !== undefined) return row;
    const e = this.entries.at(i);
    const mtime = this.mtimes?.[i];
    if (mtime !== undefined && !Number.isNaN(mtime)) e.mtime = mtime;
    return e;
  }
}
