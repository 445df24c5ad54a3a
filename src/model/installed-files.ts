import type { HostPath } from '../fs/host-path';
import type { RootPath } from '../fs/rootpath';
import type { ManifestEntry } from './entry';
import { Manifest } from './manifest';
import type { InstalledFile, InstalledFileList } from './package';

/**
 * An installed version's rows held as manifest records rather than objects (issue 14: an upgrade of
 * 116,010 members held 116,010 row objects and their paths, 20 MiB, from staging to the commit). Given a
 * folder to spill into, a large list keeps its records on disk as a large manifest does, and reads back
 * the chunk in use (so a lookup far from the last one reads a chunk of 4,096 rows again). `at(i)` makes a
 * new object each time, with every field of a row (as the database reader makes them).
 */
export class InstalledFiles implements InstalledFileList {
  private readonly records: Manifest;
  /** The few rows with a recorded conffile hash (conffiles), by index: a record has no field for it. */
  private readonly conffileHashes = new Map<number, string>();

  constructor(spillIn?: HostPath) {
    this.records = new Manifest(spillIn);
  }

  static of(rows: Iterable<InstalledFile>, spillIn?: HostPath): InstalledFiles {
    const out = new InstalledFiles(spillIn);
    for (const f of rows) out.push(f);
    return out;
  }

  get length(): number {
    return this.records.length;
  }

  push(f: InstalledFile): void {
    if (f.conffileHash !== undefined) this.conffileHashes.set(this.records.length, f.conffileHash);
    this.records.push(entryOf(f));
  }

  at(index: number): InstalledFile {
    return rowOf(this.records.at(index), this.conffileHashes.get(index));
  }

  pathAt(index: number): RootPath {
    return this.records.pathAt(index);
  }

  *[Symbol.iterator](): Iterator<InstalledFile> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  map<T>(fn: (f: InstalledFile, index: number) => T): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.length; i++) out.push(fn(this.at(i), i));
    return out;
  }

  filter(fn: (f: InstalledFile, index: number) => boolean): InstalledFile[] {
    const out: InstalledFile[] = [];
    for (let i = 0; i < this.length; i++) {
      const f = this.at(i);
      if (fn(f, i)) out.push(f);
    }
    return out;
  }

  some(fn: (f: InstalledFile, index: number) => boolean): boolean {
    for (let i = 0; i < this.length; i++) if (fn(this.at(i), i)) return true;
    return false;
  }
}

/** The path of row `index` of `list`, without decoding the rest of a record. */
export function pathOfRow(list: InstalledFileList, index: number): RootPath {
  return list instanceof InstalledFiles ? list.pathAt(index) : list.at(index)!.path;
}

/** A row as a manifest entry: a hard link's target goes where an entry keeps it (`linkTo`). */
function entryOf(f: InstalledFile): ManifestEntry {
  const e: ManifestEntry = { path: f.path, type: f.type, mode: f.mode, uid: f.uid, gid: f.gid, mtime: f.mtime, size: f.size, conffile: f.conffile };
  if (f.sha256 !== undefined) e.sha256 = f.sha256;
  if (f.md5 !== undefined) e.md5 = f.md5;
  if (f.target !== undefined) {
    if (f.type === 'hardlink') e.linkTo = f.target as RootPath;
    else e.target = f.target;
  }
  if (f.devmajor !== undefined) e.devmajor = f.devmajor;
  if (f.devminor !== undefined) e.devminor = f.devminor;
  return e;
}

function rowOf(e: ManifestEntry, conffileHash: string | undefined): InstalledFile {
  return {
    path: e.path,
    type: e.type,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size: e.size,
    mtime: e.mtime,
    sha256: e.sha256,
    md5: e.md5,
    target: e.type === 'hardlink' ? e.linkTo : e.target,
    devmajor: e.devmajor,
    devminor: e.devminor,
    conffile: e.conffile,
    conffileHash,
  };
}
