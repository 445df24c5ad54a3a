import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { migrate, openDatabase } from '../../src/db/open';
import { APPLICATION_ID, SCHEMA_VERSION, type Migration } from '../../src/db/schema';
import { OvermergeError } from '../../src/errors';
import { withTempDirSync } from '../helpers/temp';

// These tests build hostile database files with better-sqlite3 directly: that is the point of them.

function isDbError(pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof OvermergeError, `expected an OvermergeError, got ${String(err)}`);
    assert.equal(err.code, 'E_DB');
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  };
}

const TABLES = ['backups', 'dpkg_mirror', 'files', 'journal', 'packages', 'transactions', 'txn_backups', 'txn_extras', 'txn_packages', 'txn_snapshots'];

function tablesOf(file: string): string[] {
  const raw = new Database(file, { readonly: true });
  try {
    return (raw.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).all() as Array<{ name: string }>).map(
      (r) => r.name,
    );
  } finally {
    raw.close();
  }
}

test('a new database is created with its directories, in WAL mode, at the current schema version', () => {
  withTempDirSync('db-schema', (dir) => {
    const file = path.join(dir, 'var/lib/overmerge/db.sqlite');
    const db = openDatabase(file);
    try {
      assert.equal(db.schemaVersion, SCHEMA_VERSION);
      assert.deepEqual(db.settings(), { journalMode: 'wal', synchronous: 'full', foreignKeys: true, busyTimeoutMs: 5000 });
      assert.equal(db.readonly, false);
    } finally {
      db.close();
    }
    assert.deepEqual(tablesOf(file), TABLES);
    const raw = new Database(file, { readonly: true });
    try {
      assert.equal(raw.pragma('application_id', { simple: true }), APPLICATION_ID);
      assert.equal(raw.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    } finally {
      raw.close();
    }
  });
});

test('re-opening keeps the data and the version, and migrates nothing twice', () => {
  withTempDirSync('db-schema', (dir) => {
    const file = path.join(dir, 'db.sqlite');
    const first = openDatabase(file);
    const txn = first.txns.begin('install', ['a.deb']);
    first.close();
    for (let i = 0; i < 3; i++) {
      const db = openDatabase(file);
      try {
        assert.equal(db.schemaVersion, SCHEMA_VERSION);
        assert.equal(db.txns.get(txn)?.args[0], 'a.deb');
        assert.equal(db.txns.list().length, 1);
      } finally {
        db.close();
      }
    }
  });
});

test('a migration that fails leaves the database at the previous version with nothing half-applied', () => {
  withTempDirSync('db-schema', (dir) => {
    const file = path.join(dir, 'db.sqlite');
    const raw = new Database(file);
    try {
      const good: Migration = (sql) => sql.exec('CREATE TABLE one (x)');
      const bad: Migration = (sql) => {
        sql.exec('CREATE TABLE two (x)');
        throw new Error('boom');
      };
      assert.throws(() => migrate(raw, file, [good, bad]), /boom/);
      assert.equal(raw.pragma('user_version', { simple: true }), 1);
      const names = (raw.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table'`).all() as Array<{ name: string }>).map(
        (r) => r.name,
      );
      assert.deepEqual(names, ['one']);
      // Fixed code picks up where it stopped.
      migrate(raw, file, [good, (sql) => sql.exec('CREATE TABLE two (x)')]);
      assert.equal(raw.pragma('user_version', { simple: true }), 2);
    } finally {
      raw.close();
    }
  });
});

test('a database from a newer overmerge is refused and left alone', () => {
  withTempDirSync('db-schema', (dir) => {
    const file = path.join(dir, 'db.sqlite');
    openDatabase(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const before = fs.readFileSync(file);
    assert.throws(() => openDatabase(file), isDbError(/schema version \d+, newer than this overmerge understands/));
    assert.throws(() => openDatabase(file, { readonly: true }), isDbError(/newer than this overmerge/));
    assert.deepEqual(fs.readFileSync(file), before);
  });
});

test('a file that is not SQLite is refused with one line and not changed', () => {
  withTempDirSync('db-schema', (dir) => {
    const file = path.join(dir, 'db.sqlite');
    const junk = Buffer.alloc(8192);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919 + 13) & 0xff;
    fs.writeFileSync(file, junk);
    assert.throws(() => openDatabase(file), isDbError(/is not an overmerge database: not an SQLite database/));
    assert.deepEqual(fs.readFileSync(file), junk);
    assert.deepEqual(fs.readdirSync(dir), ['db.sqlite'], 'no -wal or -shm left behind');
  });
});

test('an SQLite file with a damaged header is refused', () => {
  withTempDirSync('db-schema', (dir) => {
    const file = path.join(dir, 'db.sqlite');
    openDatabase(file).close();
    const bytes = fs.readFileSync(file);
    // Keep the magic string, wreck the page size and the rest of the header.
    bytes.fill(0xee, 16, 100);
    fs.writeFileSync(file, bytes);
    assert.throws(() => openDatabase(file), isDbError(/is not an overmerge database/));
  });
});

test("another program's SQLite database is refused, whether or not it set an application id", () => {
  withTempDirSync('db-schema', (dir) => {
    const plain = path.join(dir, 'plain.sqlite');
    let raw = new Database(plain);
    raw.exec('CREATE TABLE bookmarks (url TEXT)');
    raw.close();
    assert.throws(() => openDatabase(plain), isDbError(/not an overmerge database: it holds tables of another program/));
    assert.deepEqual(tablesOf(plain), ['bookmarks']);

    const tagged = path.join(dir, 'tagged.sqlite');
    raw = new Database(tagged);
    raw.pragma('application_id = 1234');
    raw.close();
    assert.throws(() => openDatabase(tagged), isDbError(/application id 0x4d2 belongs to another program/));
  });
});

test('read-only opening: missing file, old schema, reads allowed, writes refused', () => {
  withTempDirSync('db-schema', (dir) => {
    const file = path.join(dir, 'sub/db.sqlite');
    assert.throws(() => openDatabase(file, { readonly: true }), isDbError(/no overmerge database at/));
    assert.equal(fs.existsSync(path.dirname(file)), false, 'a reader creates nothing');

    fs.mkdirSync(path.dirname(file));
    new Database(file).close();
    assert.throws(() => openDatabase(file, { readonly: true }), isDbError(/cannot upgrade it read-only/));

    const w = openDatabase(file);
    const txn = w.txns.begin('install', []);
    w.packages.upsert({ name: 'a', architecture: 'all', version: '1', status: 'installed', control: 'Package: a\n' }, txn);
    // The writer stays open: WAL lets a reader in beside it.
    const r = openDatabase(file, { readonly: true });
    try {
      assert.equal(r.readonly, true);
      assert.equal(r.packages.get('a', 'all')?.version, '1');
      assert.throws(
        () => r.txns.begin('remove', ['a']),
        (err: unknown) => err instanceof OvermergeError && err.code === 'E_DB' && /read-only/.test(err.message),
      );
    } finally {
      r.close();
      w.close();
    }
  });
});

test('a directory where the database should be is a clear error', () => {
  withTempDirSync('db-schema', (dir) => {
    assert.throws(() => openDatabase(dir), isDbError(/is a directory, not a database file/));
  });
});
