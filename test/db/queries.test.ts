import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Db } from '../../src/db/db';
import { OWNER_BATCH } from '../../src/db/files';
import { openDatabase } from '../../src/db/open';
import type { FileInput, PackageInput } from '../../src/db/types';
import { OvermergeError } from '../../src/errors';
import { withTempDirSync } from '../helpers/temp';

/** A fresh database in a temporary folder for the duration of `fn`; `file` is its path. */
function withDb(fn: (db: Db, file: string) => void): void {
  withTempDirSync('db-queries', (dir) => {
    const file = path.join(dir, 'db.sqlite');
    const db = openDatabase(file);
    try {
      fn(db, file);
    } finally {
      db.close();
    }
  });
}

function pkg(name: string, version = '1.0', arch = 'amd64'): PackageInput {
  return {
    name,
    architecture: arch,
    version,
    status: 'installed',
    control: `Package: ${name}\nVersion: ${version}\nArchitecture: ${arch}\nDescription: test\n multi-line\n`,
    installedSize: 12,
  };
}

function dir(p: string): FileInput {
  return { path: p, type: 'directory', mode: 0o755, uid: 0, gid: 0 };
}

function file(p: string, extra: Partial<FileInput> = {}): FileInput {
  return { path: p, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 3, sha256: 'ab'.repeat(32), md5: 'cd'.repeat(16), mtime: 1700000000, ...extra };
}

function names(owners: Array<{ name: string }>): string[] {
  return owners.map((o) => o.name);
}

test('packages: upsert inserts, then updates in place keeping id, files and installedAt', () => {
  withDb((db) => {
    const t1 = db.txns.begin('install', ['hello.deb']);
    const id = db.packages.upsert(pkg('hello'), t1, 1000);
    db.files.insertFiles(id, [file('usr/bin/hello')]);
    const row = db.packages.get('hello', 'amd64');
    assert.deepEqual(row, {
      id,
      name: 'hello',
      architecture: 'amd64',
      version: '1.0',
      status: 'installed',
      control: pkg('hello').control,
      installedSize: 12,
      installedAt: 1000,
      changedAt: 1000,
      txnId: t1,
    });
    const t2 = db.txns.begin('install', ['hello_2.deb']);
    assert.equal(db.packages.upsert({ ...pkg('hello', '2.0'), installedSize: null }, t2, 2000), id);
    const up = db.packages.byId(id);
    assert.equal(up?.version, '2.0');
    assert.equal(up?.installedSize, null);
    assert.equal(up?.installedAt, 1000);
    assert.equal(up?.changedAt, 2000);
    assert.equal(up?.txnId, t2);
    assert.equal(db.files.countOf(id), 1);
    assert.equal(db.packages.get('hello', 'i386'), undefined);
    assert.equal(db.packages.get('nope', 'amd64'), undefined);
  });
});

test('packages: one row per architecture; byName, list with globs, count', () => {
  withDb((db) => {
    const t = db.txns.begin('install', []);
    for (const p of [pkg('libfoo1'), pkg('libfoo1', '1.0', 'i386'), pkg('libbar'), pkg('zsh'), pkg('LibUpper')]) db.packages.upsert(p, t);
    assert.deepEqual(
      db.packages.byName('libfoo1').map((p) => p.architecture),
      ['amd64', 'i386'],
    );
    assert.equal(db.packages.count(), 5);
    assert.deepEqual(
      db.packages.list().map((p) => `${p.name}:${p.architecture}`),
      ['LibUpper:amd64', 'libbar:amd64', 'libfoo1:amd64', 'libfoo1:i386', 'zsh:amd64'],
    );
    assert.deepEqual(names(db.packages.list('lib*')), ['libbar', 'libfoo1', 'libfoo1']);
    assert.deepEqual(names(db.packages.list('libfoo?')), ['libfoo1', 'libfoo1']);
    assert.deepEqual(names(db.packages.list('[Lz]*')), ['LibUpper', 'zsh']);
    assert.deepEqual(names(db.packages.list('%')), [], 'SQL LIKE wildcards mean nothing');
  });
});

test('packages: setStatus and delete (which takes the files along); stale ids are reported', () => {
  withDb((db) => {
    const t = db.txns.begin('install', []);
    const a = db.packages.upsert(pkg('a'), t);
    const b = db.packages.upsert(pkg('b'), t);
    db.files.insertFiles(a, [dir('usr'), file('usr/a')]);
    db.files.insertFiles(b, [dir('usr'), file('usr/b')]);
    db.packages.setStatus(a, 'half-installed', t, 5);
    assert.equal(db.packages.byId(a)?.status, 'half-installed');
    assert.equal(db.packages.byId(a)?.changedAt, 5);
    db.packages.delete(a);
    assert.equal(db.packages.byId(a), undefined);
    assert.equal(db.files.countOf(a), 0);
    assert.deepEqual(names(db.files.ownersOf('usr')), ['b']);
    assert.throws(() => db.packages.delete(a), (e: unknown) => e instanceof OvermergeError && e.code === 'E_INTERNAL');
    assert.throws(() => db.packages.setStatus(a, 'installed', t), (e: unknown) => e instanceof OvermergeError && e.code === 'E_INTERNAL');
    assert.throws(
      () => db.packages.upsert({ ...pkg('c'), status: 'bogus' as never }, t),
      (e: unknown) => e instanceof OvermergeError && e.code === 'E_DB' && /CHECK constraint/.test(e.message),
    );
  });
});

test('files: every column round-trips, including conffiles, links and devices', () => {
  withDb((db) => {
    const t = db.txns.begin('install', []);
    const id = db.packages.upsert(pkg('base'), t);
    const rows: FileInput[] = [
      dir('etc'),
      file('etc/base.conf', { conffile: true, conffileHash: 'ee'.repeat(16), mode: 0o600, uid: 7, gid: 8 }),
      { path: 'usr/bin/sh', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkTarget: 'dash' },
      { path: 'usr/bin/hard', type: 'hardlink', mode: 0o755, uid: 0, gid: 0, linkTarget: 'usr/bin/dash' },
      { path: 'dev/null', type: 'char', mode: 0o666, uid: 0, gid: 0, devMajor: 1, devMinor: 3 },
      { path: 'run/fifo', type: 'fifo', mode: 0o4755, uid: 0, gid: 0, size: 0 },
      file('usr/share/doc/base/\u00fcber \u2603 name'),
    ];
    assert.equal(db.files.insertFiles(id, rows), rows.length);
    const conf = db.files.fileRow(id, 'etc/base.conf');
    assert.deepEqual(conf, {
      id: conf?.id,
      packageId: id,
      path: 'etc/base.conf',
      type: 'file',
      mode: 0o600,
      uid: 7,
      gid: 8,
      size: 3,
      sha256: 'ab'.repeat(32),
      md5: 'cd'.repeat(16),
      mtime: 1700000000,
      linkTarget: null,
      devMajor: null,
      devMinor: null,
      conffile: true,
      conffileHash: 'ee'.repeat(16),
    });
    assert.equal(db.files.fileRow(id, 'usr/bin/sh')?.linkTarget, 'dash');
    assert.equal(db.files.fileRow(id, 'usr/bin/sh')?.conffile, false);
    assert.equal(db.files.fileRow(id, 'dev/null')?.devMinor, 3);
    assert.equal(db.files.fileRow(id, 'run/fifo')?.mode, 0o4755);
    assert.equal(db.files.fileRow(id, 'usr/share/doc/base/\u00fcber \u2603 name')?.type, 'file');
    assert.equal(db.files.fileRow(id, 'nope'), undefined);
  });
});

test('files: filesOf streams in path order and frees the connection when abandoned', () => {
  withDb((db) => {
    const t = db.txns.begin('install', []);
    const a = db.packages.upsert(pkg('a'), t);
    const b = db.packages.upsert(pkg('b'), t);
    db.files.insertFiles(a, [file('usr/z'), dir('usr'), file('usr/a'), file('usr/a b'), file('usr/a/b')]);
    db.files.insertFiles(b, [file('usr/b')]);
    assert.deepEqual(
      [...db.files.filesOf(a)].map((f) => f.path),
      ['usr', 'usr/a', 'usr/a b', 'usr/a/b', 'usr/z'],
    );
    for (const f of db.files.filesOf(a)) {
      // Reads are fine mid-iteration.
      assert.deepEqual(names(db.files.ownersOf(f.path)), ['a']);
      break;
    }
    // The early break returned the iterator, so writes work again.
    db.files.insertFiles(b, [file('usr/c')]);
    assert.equal(db.files.countOf(b), 2);
    assert.deepEqual([...db.files.filesOf(999)], []);
  });
});

test('files: a duplicate path in one batch fails the whole batch with E_DB', () => {
  withDb((db) => {
    const t = db.txns.begin('install', []);
    const a = db.packages.upsert(pkg('a'), t);
    assert.throws(
      () => db.files.insertFiles(a, [file('usr/x'), file('usr/y'), file('usr/x')]),
      (e: unknown) => e instanceof OvermergeError && e.code === 'E_DB' && /UNIQUE constraint failed/.test(e.message),
    );
    assert.equal(db.files.countOf(a), 0);
    assert.throws(
      () => db.files.insertFiles(a, [{ ...file('usr/x'), type: 'socket' as never }]),
      (e: unknown) => e instanceof OvermergeError && e.code === 'E_DB',
    );
  });
});

test('files: ownersOf finds every owner of a shared path and nothing for a near miss', () => {
  withDb((db) => {
    const t = db.txns.begin('install', []);
    const a = db.packages.upsert(pkg('a'), t);
    const b = db.packages.upsert(pkg('b', '1', 'all'), t);
    db.files.insertFiles(a, [dir('usr'), dir('usr/lib'), file('usr/lib/liba.so')]);
    db.files.insertFiles(b, [dir('usr'), dir('usr/lib'), file('usr/lib/libb.so')]);
    const owners = db.files.ownersOf('usr/lib');
    assert.deepEqual(owners, [
      { packageId: a, name: 'a', architecture: 'amd64', path: 'usr/lib', type: 'directory' },
      { packageId: b, name: 'b', architecture: 'all', path: 'usr/lib', type: 'directory' },
    ]);
    assert.deepEqual(names(db.files.ownersOf('usr/lib/libb.so')), ['b']);
    assert.deepEqual(db.files.ownersOf('usr/lib/'), []);
    assert.deepEqual(db.files.ownersOf('/usr/lib'), []);
    assert.deepEqual(db.files.ownersOf('usr/li'), []);
    assert.deepEqual(db.files.ownersOf('USR/LIB'), [], 'paths are case-sensitive');
  });
});

test('files: ownersOfMany answers as ownersOf does, for paths asked twice and across batches', () => {
  withDb((db) => {
    const t = db.txns.begin('install', []);
    const a = db.packages.upsert(pkg('a'), t);
    const b = db.packages.upsert(pkg('b', '1', 'all'), t);
    const many = Array.from({ length: OWNER_BATCH + 5 }, (_, i) => file(`usr/share/a/${String(i).padStart(5, '0')}`));
    db.files.insertFiles(a, [dir('usr'), dir('usr/lib'), file('usr/lib/liba.so'), ...many]);
    db.files.insertFiles(b, [dir('usr'), dir('usr/lib'), file('usr/lib/libb.so'), file('usr/lib/l\u00e9')]);
    const asked = ['usr/lib', 'usr/lib/', 'USR/LIB', 'usr/li', 'usr/lib/l\u00e9', 'usr/lib', 'nothing', ...many.map((f) => f.path), 'usr/lib/libb.so'];
    const got = db.files.ownersOfMany(asked);
    for (const p of new Set(asked)) assert.deepEqual(got.get(p) ?? [], db.files.ownersOf(p), p);
    assert.equal(got.size, 3 + many.length, 'only paths with owners have an entry');
    assert.deepEqual(db.files.ownersOfMany([]), new Map());
  });
});

test('files: otherOwnersUnder tells usr/lib from usr/lib2, usr/lib0, usr/lib.d and usr/lib\u00e9', () => {
  withDb((db) => {
    const t = db.txns.begin('install', []);
    const me = db.packages.upsert(pkg('me'), t);
    const lib2 = db.packages.upsert(pkg('lib2'), t);
    const inside = db.packages.upsert(pkg('inside'), t);
    const deep = db.packages.upsert(pkg('deep'), t);
    db.files.insertFiles(me, [dir('usr'), dir('usr/lib'), file('usr/lib/mine'), dir('usr/lib/x'), file('usr/lib/x/mine')]);
    db.files.insertFiles(lib2, [
      dir('usr'),
      dir('usr/lib2'),
      file('usr/lib2/a'),
      file('usr/lib0'),
      file('usr/lib.d'),
      file('usr/lib-x/a'),
      file('usr/lib\u00e9/a'),
      file('usr/lib'), // a path equal to the directory itself is not "under" it
    ]);
    assert.deepEqual(db.files.otherOwnersUnder('usr/lib', me), []);
    assert.deepEqual(db.files.otherOwnersUnder('usr/lib/', [me]), [], 'a trailing slash changes nothing');

    db.files.insertFiles(inside, [dir('usr/lib/x')]);
    assert.deepEqual(db.files.otherOwnersUnder('usr/lib', me), [
      { packageId: inside, name: 'inside', architecture: 'amd64', path: 'usr/lib/x', type: 'directory' },
    ]);
    assert.deepEqual(db.files.otherOwnersUnder('usr/lib', [me, inside]), []);
    assert.deepEqual(db.files.otherOwnersUnder('usr/lib/x', me), [], 'the directory itself is not under itself');

    db.files.insertFiles(deep, [file('usr/lib/x/y/z/deep')]);
    assert.deepEqual(
      db.files.otherOwnersUnder('usr/lib', me, 10).map((o) => `${o.name}:${o.path}`),
      ['inside:usr/lib/x', 'deep:usr/lib/x/y/z/deep'],
    );
    assert.equal(db.files.otherOwnersUnder('usr/lib', me).length, 1, 'limit defaults to one');
    assert.deepEqual(
      db.files.otherOwnersUnder('usr', [me, inside, deep], 100).map((o) => o.path),
      ['usr', 'usr/lib', 'usr/lib-x/a', 'usr/lib.d', 'usr/lib0', 'usr/lib2', 'usr/lib2/a', 'usr/lib\u00e9/a'].filter(
        (p) => p !== 'usr',
      ),
    );
    // The root: everything except the root entry itself, however the root is spelled.
    assert.equal(db.files.otherOwnersUnder('', [], 1000).length, 15);
    assert.equal(db.files.otherOwnersUnder('.', [lib2, inside, deep], 1000).length, 5);
  });
});

test('transactions: begin, list newest first, open ones, commit, finish, markState', () => {
  withDb((db) => {
    const t1 = db.txns.begin('install', ['a.deb', 'b c.deb'], { backupsKept: true }, 100);
    const t2 = db.txns.begin('remove', ['a'], {}, 200);
    const t3 = db.txns.begin('rollback', [], { targetTxn: t1, pid: 4242 }, 300);
    assert.deepEqual(db.txns.get(t1), {
      id: t1,
      kind: 'install',
      args: ['a.deb', 'b c.deb'],
      state: 'open',
      startedAt: 100,
      finishedAt: null,
      backupsKept: true,
      pid: process.pid,
      targetTxn: null,
      error: null,
    });
    assert.equal(db.txns.get(t3)?.targetTxn, t1);
    assert.equal(db.txns.get(t3)?.pid, 4242);
    assert.deepEqual(
      db.txns.open().map((t) => t.id),
      [t1, t2, t3],
    );
    db.txns.commit(t1, 150);
    db.txns.finish(t2, 'aborted', 'disk full', 250);
    assert.deepEqual(
      db.txns.open().map((t) => t.id),
      [t3],
    );
    assert.deepEqual(
      db.txns.list().map((t) => [t.id, t.state]),
      [
        [t3, 'open'],
        [t2, 'aborted'],
        [t1, 'committed'],
      ],
    );
    assert.deepEqual(
      db.txns.list(2).map((t) => t.id),
      [t3, t2],
    );
    assert.equal(db.txns.get(t1)?.finishedAt, 150);
    assert.equal(db.txns.get(t2)?.error, 'disk full');
    assert.throws(() => db.txns.commit(t1), (e: unknown) => e instanceof OvermergeError && e.code === 'E_INTERNAL');
    db.txns.markState(t1, 'rolled-back', null, 999);
    assert.equal(db.txns.get(t1)?.state, 'rolled-back');
    assert.equal(db.txns.get(t1)?.finishedAt, 150, 'the first finish time stays');
    db.txns.setBackupsKept(t1, false);
    assert.equal(db.txns.get(t1)?.backupsKept, false);
    assert.equal(db.txns.get(12345), undefined);
  });
});

test('transactions: package changes are kept in order for history', () => {
  withDb((db) => {
    const t = db.txns.begin('install', ['x.deb', 'y.deb']);
    const other = db.txns.begin('remove', ['z']);
    db.txns.addPackageChange(t, { name: 'x', architecture: 'amd64', action: 'upgrade', oldVersion: '1', newVersion: '2' });
    db.txns.addPackageChange(other, { name: 'z', architecture: 'all', action: 'purge', oldVersion: '3' });
    db.txns.addPackageChange(t, { name: 'y', architecture: 'all', action: 'install', newVersion: '0.1' });
    assert.deepEqual(db.txns.packageChanges(t), [
      { txnId: t, seq: 1, name: 'x', architecture: 'amd64', action: 'upgrade', oldVersion: '1', newVersion: '2' },
      { txnId: t, seq: 2, name: 'y', architecture: 'all', action: 'install', oldVersion: null, newVersion: '0.1' },
    ]);
    assert.equal(db.txns.packageChanges(other)[0].action, 'purge');
    assert.throws(
      () => db.txns.addPackageChange(t, { name: 'q', architecture: 'all', action: 'explode' as never }),
      (e: unknown) => e instanceof OvermergeError && e.code === 'E_DB',
    );
  });
});

test('Db.transaction: the commit is all or nothing, and nests', () => {
  withDb((db, dbFile) => {
    const t = db.txns.begin('install', ['a.deb']);
    assert.throws(
      () =>
        db.transaction(() => {
          const id = db.packages.upsert(pkg('a'), t);
          db.files.insertFiles(id, [file('usr/a')]);
          db.txns.commit(t);
          throw new OvermergeError('E_CRASH_INJECTED', 'injected');
        }),
      (e: unknown) => e instanceof OvermergeError && e.code === 'E_CRASH_INJECTED',
    );
    assert.equal(db.packages.get('a', 'amd64'), undefined);
    assert.deepEqual(db.files.ownersOf('usr/a'), []);
    assert.equal(db.txns.get(t)?.state, 'open');
    assert.equal(db.inTransaction, false);

    const result = db.transaction(() => {
      const id = db.packages.upsert(pkg('a'), t);
      // An inner failure rolls back only the inner part.
      assert.throws(() =>
        db.transaction(() => {
          db.files.insertFiles(id, [file('usr/inner')]);
          throw new Error('inner');
        }),
      );
      db.files.insertFiles(id, [file('usr/a')]);
      db.txns.commit(t);
      return id;
    });
    db.close();
    const again = openDatabase(dbFile);
    try {
      assert.equal(again.packages.get('a', 'amd64')?.id, result);
      assert.deepEqual(names(again.files.ownersOf('usr/a')), ['a']);
      assert.deepEqual(again.files.ownersOf('usr/inner'), []);
      assert.equal(again.txns.get(t)?.state, 'committed');
    } finally {
      again.close();
    }
  });
});

test('backups: blobs are shared between transactions and released when the last reference goes', () => {
  withDb((db) => {
    const t1 = db.txns.begin('install', [], { backupsKept: true });
    const t2 = db.txns.begin('install', [], { backupsKept: true });
    const h1 = '11'.repeat(32);
    const h2 = '22'.repeat(32);
    db.backups.add(t1, 'etc/a', h1, 10);
    db.backups.add(t1, 'etc/b', h2, 20);
    db.backups.add(t2, 'etc/a', h1, 10);
    assert.equal(db.backups.has(h1), true);
    assert.equal(db.backups.has('33'.repeat(32)), false);
    assert.deepEqual(
      [...db.backups.ofTxn(t1)],
      [
        { txnId: t1, path: 'etc/a', sha256: h1, size: 10 },
        { txnId: t1, path: 'etc/b', sha256: h2, size: 20 },
      ],
    );
    assert.deepEqual(db.backups.release(t1), [h2]);
    assert.deepEqual([...db.backups.ofTxn(t1)], []);
    assert.equal(db.backups.has(h1), true);
    assert.equal(db.backups.has(h2), false);
    assert.deepEqual(db.backups.release(t2), [h1]);
    assert.equal(db.backups.has(h1), false);
    assert.deepEqual(db.backups.release(t2), []);
  });
});

test('two Db instances on one file keep separate statement caches and see each other', () => {
  withDb((db, dbFile) => {
    const other = openDatabase(dbFile);
    try {
      const t = db.txns.begin('install', []);
      other.packages.upsert(pkg('seen'), t);
      assert.equal(db.packages.get('seen', 'amd64')?.name, 'seen');
      other.close();
      // Closing one leaves the other usable.
      assert.equal(db.packages.count(), 1);
    } finally {
      other.close();
    }
  });
});
