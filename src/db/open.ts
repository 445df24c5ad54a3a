import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import { OvermergeError } from '../errors';
import { linkNewFileSync, removeIfPresent } from '../fs/atomic-file';
import { ensureParentFolderSync } from '../fs/entries';
import { hostDirOf, hostPathOf, resolveHostPath, type HostPath } from '../fs/host-path';
import { fsyncFoldersUpSync } from '../fs/sync';
import { withScratchCopies } from '../fs/scratch';
import { loadNative } from '../native';
import { Db } from './db';
import { dbError, sqliteCode } from './db-error';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, type Migration } from './schema';

export interface OpenOptions {
  /** Open for reading only (list, files, owner): no directory creation, no migration, no writes. */
  readonly?: boolean;
  /** How long to wait for another connection's write lock before failing with E_DB. Default 5000 ms. */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating it and its directory if needed) the overmerge database at `file`, brings its schema up
 * to date and returns the Db. Refuses, with one-line E_DB errors, files that are not SQLite, SQLite files
 * of other programs, and databases written by a newer overmerge.
 */
export function openDatabase(file: string, opts: OpenOptions = {}): Db {
  const readonly = opts.readonly ?? false;
  if (readonly && !fs.existsSync(file)) {
    throw new OvermergeError('E_DB', `no overmerge database at ${file}`, {
      op: 'open database',
      path: file,
      hint: 'nothing has been installed into this root yet',
    });
  }
  if (isDirectory(file)) {
    throw new OvermergeError('E_DB', `${file} is a directory, not a database file`, {
      op: 'open database',
      path: file,
      hint: 'give --db the path of a file',
    });
  }
  const nativeBinding = sqliteAddon();
  if (!readonly) {
    ensureDurableParent(resolveHostPath(file));
    if (!fs.existsSync(file)) createDatabase(resolveHostPath(file), nativeBinding);
  }
  let sql: Database.Database;
  try {
    sql = new Database(file, { readonly, fileMustExist: readonly, timeout: opts.busyTimeoutMs ?? 5000, nativeBinding });
  } catch (err) {
    throw dbError(err, file, 'open the database');
  }
  try {
    checkIdentity(sql, file);
    if (!readonly) {
      // WAL: readers (list/owner) never block the writer; FULL: a commit is on disk when it returns.
      sql.pragma('journal_mode = WAL');
      sql.pragma('synchronous = FULL');
    }
    sql.pragma('foreign_keys = ON');
    // better-sqlite3 builds SQLite with a 16 MiB page cache; the file's pages are in the kernel's cache
    // anyway, and a commit of 116,010 rows would otherwise fill all 16 MiB (issue 14: ≤ 100 MiB in all).
    sql.pragma(`cache_size = -${CACHE_KIB}`);
    // A statement (or savepoint) that changes more than 64 KiB of pages keeps their old contents in a
    // statement journal, which SQLite otherwise spills to a file of the host's /var/tmp (etilqs_*): a write
    // outside the root. In memory it costs what one statement or savepoint changes, so the big writes take
    // none (Statements.inTransactionFlat, JOURNAL_SQL.doneRun): issue 14's memory bound holds (bench).
    sql.pragma('temp_store = MEMORY');
    if (readonly) requireCurrent(sql, file);
    else migrate(sql, file);
    return new Db(sql, file, readonly);
  } catch (err) {
    sql.close();
    throw dbError(err, file, 'open the database');
  }
}

/**
 * A new database, made whole beside its place and then linked there: built with synchronous=OFF (nothing
 * of it is seen before the link, so a power cut leaves at most a stray `.new-*` file), the file synced
 * once, linked under its name (never over a database another process made meanwhile) and its folder
 * synced. Made in place, its first open paid a rollback-journal commit to turn on WAL and a commit per
 * migration: nine fsyncs of a one-file install's twenty. Where a hard link cannot be made, SQLite
 * creates the database in place as before.
 */
function createDatabase(file: HostPath, nativeBinding: string): void {
  const temp = hostPathOf(`${file}.new-${process.pid}-${Date.now()}`);
  try {
    const sql = new Database(temp, { nativeBinding });
    try {
      sql.pragma('synchronous = OFF');
      // No connection but this one sees the file before the link: the rollback journal in memory and
      // the file locked for this connection alone, so no -journal, -wal or -shm is made and removed
      // while it is built (four new inodes, each about a millisecond of a busy ext4's CPU); WAL, which
      // the file's header keeps, is turned on last.
      sql.pragma('locking_mode = EXCLUSIVE');
      sql.pragma('journal_mode = MEMORY');
      migrate(sql, file);
      sql.pragma('journal_mode = WAL');
    } finally {
      sql.close();
    }
    linkNewFileSync(temp, file);
    fsyncFoldersUpSync(hostDirOf(file), hostDirOf(file));
  } catch {
    // EEXIST: another process made it first, and it is opened like any existing database. Otherwise
    // (no hard links here, ...) the open below creates it in place, and says what is wrong if it cannot.
  } finally {
    for (const f of [temp, `${temp}-wal`, `${temp}-shm`, `${temp}-journal`]) removeIfPresent(f);
  }
}

/**
 * The database's folder, created with its missing parents, each new entry synced: a small transaction
 * makes only what its steps touched durable (engine/transaction.ts), so nothing else syncs these.
 */
function ensureDurableParent(file: HostPath): void {
  const dir = hostDirOf(file);
  let existing = dir;
  while (!fs.existsSync(existing) && hostDirOf(existing) !== existing) existing = hostDirOf(existing);
  if (existing === dir) return;
  ensureParentFolderSync(file, 'create the database directory');
  fsyncFoldersUpSync(dir, existing);
}

/** SQLite's page cache per connection, in KiB (SQLite's own default). */
const CACHE_KIB = 2048;

let addonPath: string | undefined;

/**
 * The path of better-sqlite3's compiled addon (`npm rebuild`, node-gyp --release, builds it there), loaded
 * once here and then handed to better-sqlite3 (whose require of it hits the module cache), so that a
 * missing build or one for another Node is an E_NATIVE line naming the fix rather than the list of
 * places its loader tried.
 */
function sqliteAddon(): string {
  addonPath ??= loadNative('better-sqlite3', () => {
    const p = require.resolve('better-sqlite3/build/Release/better_sqlite3.node');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(p);
    return p;
  });
  return addonPath;
}

/**
 * Reads a database without touching it or anything beside it: opening an SQLite file in write-ahead-log
 * mode, even read-only, creates its `-shm` (and may need its `-wal`) next to it, which a read-only
 * filesystem refuses and a layer being inspected must not get. The file is loaded into memory (marked
 * as a rollback-journal database in the copy, which SQLite needs to load it); when a non-empty `-wal`
 * holds commits not yet in the file, both are copied to a private temporary folder and read there. The
 * copy is brought up to this overmerge's schema in memory if it is older. `fn` gets a Db that writes to
 * nothing on disk; it is closed afterwards.
 */
export async function withDetachedDatabase<T>(file: HostPath, fn: (db: Db) => T | Promise<T>): Promise<T> {
  const wal = hostPathOf(`${file}-wal`);
  if ((fs.statSync(wal, { throwIfNoEntry: false })?.size ?? 0) > 0) {
    return withScratchCopies([file, wal], async ([copy]) => {
      const db = openDatabase(copy);
      try {
        return await fn(db);
      } finally {
        db.close();
      }
    });
  }
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw dbError(err, file, 'read the database');
  }
  // Bytes 18 and 19 of the header are the file format's read and write versions: 2 means WAL.
  if (bytes.length >= 20 && bytes[18] === 2) bytes[18] = bytes[19] = 1;
  let sql: Database.Database;
  try {
    sql = new Database(bytes, { nativeBinding: sqliteAddon() });
  } catch (err) {
    throw dbError(err, file, 'read the database');
  }
  let db: Db;
  try {
    checkIdentity(sql, file);
    sql.pragma('foreign_keys = ON');
    migrate(sql, file);
    db = new Db(sql, file, true);
  } catch (err) {
    sql.close();
    throw dbError(err, file, 'read the database');
  }
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}

function isDirectory(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}


/** Reads the header fields; the first read is also where SQLite notices a file that is not a database. */
function checkIdentity(sql: Database.Database, file: string): void {
  let appId: number;
  let version: number;
  try {
    appId = sql.pragma('application_id', { simple: true }) as number;
    version = sql.pragma('user_version', { simple: true }) as number;
  } catch (err) {
    const code = sqliteCode(err);
    if (code === 'SQLITE_NOTADB' || code?.startsWith('SQLITE_CORRUPT')) {
      throw notOurs(file, code === 'SQLITE_NOTADB' ? 'not an SQLite database' : 'the file is corrupt', err);
    }
    throw err;
  }
  if (appId !== 0 && appId !== APPLICATION_ID) {
    throw notOurs(file, `SQLite application id 0x${(appId >>> 0).toString(16)} belongs to another program`);
  }
  if (appId === 0 && version === 0) {
    const tables = sql.prepare(`SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'`).get() as { n: number };
    if (tables.n > 0) throw notOurs(file, 'it holds tables of another program');
  }
  if (version > SCHEMA_VERSION) {
    throw new OvermergeError(
      'E_DB',
      `database ${file} has schema version ${version}, newer than this overmerge understands (${SCHEMA_VERSION})`,
      { op: 'open database', path: file, hint: 'use the overmerge that wrote it, or a newer one' },
    );
  }
}

function notOurs(file: string, why: string, cause?: unknown): OvermergeError {
  return new OvermergeError('E_DB', `${file} is not an overmerge database: ${why}`, {
    op: 'open database',
    path: file,
    hint: 'point --db at an overmerge database, or at a path that does not exist yet',
    cause,
  });
}

function requireCurrent(sql: Database.Database, file: string): void {
  const version = sql.pragma('user_version', { simple: true }) as number;
  if (version < SCHEMA_VERSION) {
    throw new OvermergeError(
      'E_DB',
      `database ${file} has schema version ${version}; this overmerge needs ${SCHEMA_VERSION} and cannot upgrade it read-only`,
      { op: 'open database', path: file, hint: 'run any writing command (e.g. `overmerge recover`) once to upgrade it' },
    );
  }
}

/**
 * Applies the missing migrations in order (the list is a parameter only so tests can feed broken ones), each with its version bump in one IMMEDIATE transaction. The
 * version is re-read under the write lock, so two processes opening a new database at once apply each
 * migration exactly once.
 */
export function migrate(sql: Database.Database, file: string, migrations: readonly Migration[] = MIGRATIONS): void {
  const start = sql.pragma('user_version', { simple: true }) as number;
  // Up to date (the usual case): no write lock taken.
  for (let target = start + 1; target <= migrations.length; target++) {
    const step = sql.transaction(() => {
      const current = sql.pragma('user_version', { simple: true }) as number;
      if (current >= target) return;
      if (current !== target - 1) {
        throw new OvermergeError('E_DB', `database ${file}: schema version ${current} changed while migrating`, {
          path: file,
        });
      }
      migrations[target - 1](sql);
      sql.pragma(`user_version = ${target}`);
    });
    step.immediate();
  }
}
