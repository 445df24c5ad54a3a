import type { RootPath } from '../fs/rootpath';
import { pathOfRow } from '../model/installed-files';
import type { InstalledFile, InstalledFileList } from '../model/package';
import { PathIndex } from '../model/path-index';

/**
 * An installed version's rows as an upgrade plans over them: found by path as the new version's entries
 * land, and marked landed; the rows left unmarked vanish. A mark is a byte and a lookup goes through a
 * PathIndex, so nothing per row is kept as an object or a string (116,010 rows: a Map of rows by path
 * held 3.5 MiB and every row's object; this holds 2.1 MiB of typed arrays and reads rows as it needs them).
 */
export class UnlandedRows {
  private readonly index: PathIndex;
  private readonly landed: Uint8Array;

  constructor(private readonly rows: InstalledFileList) {
    this.index = new PathIndex(rows.length, (i) => pathOfRow(rows, i));
    this.landed = new Uint8Array(rows.length);
  }

  /** The index of the row at `path` that nothing landed on yet, or -1. */
  find(path: RootPath): number {
    const i = this.index.find(path);
    return i >= 0 && this.landed[i] === 0 ? i : -1;
  }

  row(index: number): InstalledFile {
    return this.rows.at(index)!;
  }

  land(index: number): void {
    this.landed[index] = 1;
  }

  /** Whether the installed version has a row at `path`, landed on or not. */
  has(path: RootPath): boolean {
    return this.index.find(path) >= 0;
  }

  /** The rows nothing landed on, in their order. */
  *values(): Generator<InstalledFile> {
    for (let i = 0; i < this.rows.length; i++) if (this.landed[i] === 0) yield this.rows.at(i)!;
  }
}
