import { guarded, guardedIter } from './db-error';
import type { Statements } from './statements';
import type { FileInput, FileRow, OwnerRow } from './types';

const FILE_COLUMNS = `id, package_id AS packageId, path, type, mode, uid, gid, size, sha256, md5, mtime,
  link_target AS linkTarget, dev_major AS devMajor, dev_minor AS devMinor, conffile, conffile_hash AS conffileHash`;

const OWNER_COLUMNS = `f.package_id AS packageId, p.name AS name, p.architecture AS architecture, f.path AS path,
  f.type AS type`;

/** Paths a batched owner lookup sends at once: a JSON text of some hundred KiB at most. */
export const OWNER_BATCH = 2048;

/**
 * Every query here is an index lookup or an index range scan; none reads the whole table. The path range
 * trick: in SQLite's BINARY order every path beginning with `D/` sorts in [`D/`, `D0`) because '0' is the
 * byte after '/', so "anything under D" is a range on the path index and `D2/x` or `D0` never match.
 */
export const FILE_SQL = {
  insert: `INSERT INTO files (package_id, path, type, mode, uid, gid, size, sha256, md5, mtime, link_target,
      dev_major, dev_minor, conffile, conffile_hash)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ownersOf: `SELECT ${OWNER_COLUMNS} FROM files f JOIN packages p ON p.id = f.package_id
    WHERE f.path = ? ORDER BY p.name, p.architecture`,
  // The paths come as a JSON array: one statement, one round trip, for any number of them.
  ownersOfMany: `SELECT ${OWNER_COLUMNS} FROM files f JOIN packages p ON p.id = f.package_id
    WHERE f.path IN (SELECT value FROM json_each(?)) ORDER BY f.path, p.name, p.architecture`,
  // The exclusions come as a JSON array so one statement serves any number of them.
  otherOwnersUnder: `SELECT ${OWNER_COLUMNS} FROM files f JOIN packages p ON p.id = f.package_id
    WHERE f.path > ? AND f.path < ? AND f.package_id NOT IN (SELECT value FROM json_each(?))
    ORDER BY f.path LIMIT ?`,
  otherOwnersUnderRoot: `SELECT ${OWNER_COLUMNS} FROM files f JOIN packages p ON p.id = f.package_id
    WHERE f.path > '' AND f.package_id NOT IN (SELECT value FROM json_each(?))
    ORDER BY f.path LIMIT ?`,
  fileRow: `SELECT ${FILE_COLUMNS} FROM files WHERE package_id = ? AND path = ?`,
  filesOf: `SELECT ${FILE_COLUMNS} FROM files WHERE package_id = ? ORDER BY path`,
  countOf: `SELECT count(*) AS n FROM files WHERE package_id = ?`,
  deleteOf: `DELETE FROM files WHERE package_id = ?`,
  deletePath: `DELETE FROM files WHERE package_id = ? AND path = ?`,
} as const;

interface RawFileRow extends Omit<FileRow, 'conffile'> {
  conffile: number;
}

function toFileRow(r: RawFileRow): FileRow {
  return { ...r, conffile: r.conffile === 1 };
}

/** A directory path as the range bounds of everything beneath it; the root ('' or '.') has no bounds. */
function rangeUnder(dir: string): [lower: string, upper: string] | undefined {
  const d = dir.replace(/\/+$/, '');
  if (d === '' || d === '.') return undefined;
  return [`${d}/`, `${d}0`];
}

/** The files table: which package owns which path, with the metadata it was installed with. */
export class Files {
  constructor(private readonly s: Statements) {}

  /**
   * Records `rows` as owned by package `packageId`, with one prepared statement, inside one SQLite
   * transaction (inside the caller's when one is open: inTransactionFlat). Returns how many were inserted.
   */
  insertFiles(packageId: number, rows: Iterable<FileInput>): number {
    return guarded(this.s.file, `record the files of package #${packageId}`, () =>
      this.s.inTransactionFlat(() => {
        const insert = this.s.get(FILE_SQL.insert);
        let n = 0;
        for (const f of rows) {
          insert.run(
            packageId,
            f.path,
            f.type,
            f.mode,
            f.uid,
            f.gid,
            f.size ?? 0,
            f.sha256 ?? null,
            f.md5 ?? null,
            f.mtime ?? null,
            f.linkTarget ?? null,
            f.devMajor ?? null,
            f.devMinor ?? null,
            f.conffile ? 1 : 0,
            f.conffileHash ?? null,
          );
          n++;
        }
        return n;
      }),
    );
  }

  /** Every package recording `path` (normally one; more for shared directories). */
  ownersOf(path: string): OwnerRow[] {
    return guarded(this.s.file, `look up the owner of ${path}`, () => this.s.get(FILE_SQL.ownersOf).all(path) as OwnerRow[]);
  }

  /**
   * The owners of each of `paths` that has any (in ownersOf's order), in statements of at most
   * OWNER_BATCH paths: a transaction asks about each of its members, and one call a path cost more in
   * round trips between JavaScript and SQLite than the index lookups themselves.
   */
  ownersOfMany<P extends string>(paths: Iterable<P>): Map<P, OwnerRow[]> {
    const out = new Map<P, OwnerRow[]>();
    const run = (batch: P[]): void => {
      const rows = guarded(this.s.file, `look up the owners of ${batch.length} paths`, () => this.s.get(FILE_SQL.ownersOfMany).all(JSON.stringify(batch)) as OwnerRow[]);
      for (const row of rows) {
        const path = row.path as P; // the very path asked about: the IN matches it byte for byte
        const list = out.get(path);
        if (list) list.push(row);
        else out.set(path, [row]);
      }
    };
    let batch: P[] = [];
    for (const p of paths) {
      batch.push(p);
      if (batch.length === OWNER_BATCH) {
        run(batch);
        batch = [];
      }
    }
    if (batch.length > 0) run(batch);
    return out;
  }

  /**
   * Up to `limit` paths strictly beneath directory `dir` owned by a package not in `except`, in path order.
   * Empty means no other package has anything under `dir`, so it may go when its last owner leaves. (Whether
   * another package owns `dir` itself is `ownersOf(dir)`.)
   */
  otherOwnersUnder(dir: string, except: number | readonly number[], limit = 1): OwnerRow[] {
    const excluded = JSON.stringify(typeof except === 'number' ? [except] : except);
    return guarded(this.s.file, `look up owners under ${dir || '/'}`, () => {
      const range = rangeUnder(dir);
      return (
        range === undefined
          ? this.s.get(FILE_SQL.otherOwnersUnderRoot).all(excluded, limit)
          : this.s.get(FILE_SQL.otherOwnersUnder).all(range[0], range[1], excluded, limit)
      ) as OwnerRow[];
    });
  }

  /** The row recording `path` for package `packageId`. */
  fileRow(packageId: number, path: string): FileRow | undefined {
    return guarded(this.s.file, `look up ${path}`, () => {
      const r = this.s.get(FILE_SQL.fileRow).get(packageId, path) as RawFileRow | undefined;
      return r === undefined ? undefined : toFileRow(r);
    });
  }

  /**
   * The files of package `packageId` in path order, streamed. While the iterator is live the connection
   * may run reads but no writes (better-sqlite3 refuses them): finish or `return()` it first.
   */
  filesOf(packageId: number): Generator<FileRow, void, undefined> {
    const s = this.s;
    return guardedIter(s.file, `list the files of package #${packageId}`, function* () {
      for (const r of s.get(FILE_SQL.filesOf).iterate(packageId) as IterableIterator<RawFileRow>) yield toFileRow(r);
    });
  }

  countOf(packageId: number): number {
    return guarded(this.s.file, `count the files of package #${packageId}`, () =>
      (this.s.get(FILE_SQL.countOf).get(packageId) as { n: number }).n,
    );
  }

  /** Forgets every file of package `packageId`; returns how many rows went. */
  deleteFilesOf(packageId: number): number {
    return guarded(this.s.file, `forget the files of package #${packageId}`, () =>
      this.s.get(FILE_SQL.deleteOf).run(packageId).changes,
    );
  }

  /** Forgets the given paths of package `packageId` (the ones an upgrade no longer ships). */
  deletePaths(packageId: number, paths: Iterable<string>): number {
    return guarded(this.s.file, `forget files of package #${packageId}`, () =>
      this.s.inTransactionFlat(() => {
        const del = this.s.get(FILE_SQL.deletePath);
        let n = 0;
        for (const p of paths) n += del.run(packageId, p).changes;
        return n;
      }),
    );
  }
}
