import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { openDatabase } from '../../src/db/open';
import { FILE_SQL } from '../../src/db/files';
import { JOURNAL_SQL } from '../../src/db/journal';
import { PACKAGE_SQL } from '../../src/db/packages';
import { TXN_SQL } from '../../src/db/transactions';
import type { FileInput } from '../../src/db/types';
import { tempDir } from '../helpers/temp';

const PACKAGES = 200;
const FILES_PER_PACKAGE = 1000; // 200,000 file rows in all

/** Package i owns usr/lib/pkgI/ (999 files in 9 subdirectories) and shares the directories usr and usr/lib. */
function* filesOfPackage(i: number): Generator<FileInput> {
  yield { path: 'usr', type: 'directory', mode: 0o755, uid: 0, gid: 0 };
  yield { path: 'usr/lib', type: 'directory', mode: 0o755, uid: 0, gid: 0 };
  for (let j = 0; j < FILES_PER_PACKAGE - 2; j++) {
    yield {
      path: `usr/lib/pkg${i}/d${j % 9}/f${j}`,
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: j,
      sha256: j.toString(16).padStart(64, '0'),
    };
  }
}

/** No step reads a whole table: every table access is a SEARCH through an index (or the rowid). */
function assertIndexed(plan: string[], what: string): void {
  // json_each is the small exclusion list passed in, not a table.
  const scans = plan.filter((l) => /^SCAN (?!json_each)/.test(l));
  assert.deepEqual(scans, [], `${what} scans a table:\n${plan.join('\n')}`);
  assert.ok(
    plan.some((l) => /^SEARCH \w+ USING (COVERING )?INDEX|^SEARCH \w+ USING (INTEGER )?PRIMARY KEY/.test(l)),
    `${what} does not search an index:\n${plan.join('\n')}`,
  );
}

test('200,000 file rows: lookups stay index searches and answer correctly', (context) => {
  const dir = tempDir('db-scale', context);
  const db = openDatabase(path.join(dir, 'db.sqlite'));
  try {
    const t = db.txns.begin('install', ['many.deb']);
    const ids: number[] = [];
    db.transaction(() => {
      for (let i = 0; i < PACKAGES; i++) {
        const id = db.packages.upsert(
          { name: `pkg${i}`, architecture: 'amd64', version: '1', status: 'installed', control: `Package: pkg${i}\n` },
          t,
        );
        ids.push(id);
        assert.equal(db.files.insertFiles(id, filesOfPackage(i)), FILES_PER_PACKAGE);
      }
      db.txns.commit(t);
    });
    // A sibling whose name extends a package directory must not count as under it.
    const sibling = db.packages.upsert(
      { name: 'sibling', architecture: 'amd64', version: '1', status: 'installed', control: 'Package: sibling\n' },
      t,
    );
    db.files.insertFiles(sibling, [
      { path: 'usr/lib/pkg7.d', type: 'file', mode: 0o644, uid: 0, gid: 0 },
      { path: 'usr/lib/pkg70/x', type: 'file', mode: 0o644, uid: 0, gid: 0 },
    ]);

    assert.equal(db.files.ownersOf('usr/lib').length, PACKAGES);
    assert.deepEqual(
      db.files.ownersOf('usr/lib/pkg42/d3/f12').map((o) => o.name),
      ['pkg42'],
    );
    assert.deepEqual(db.files.otherOwnersUnder('usr/lib/pkg7', ids[7]), []);
    assert.deepEqual(db.files.otherOwnersUnder('usr/lib/pkg7/d1', ids[7]), []);
    assert.deepEqual(
      db.files.otherOwnersUnder('usr/lib/pkg70', ids[70]).map((o) => o.path),
      ['usr/lib/pkg70/x'],
    );
    assert.equal(db.files.otherOwnersUnder('usr/lib', ids[0])[0].name, 'pkg1');
    assert.equal(db.files.otherOwnersUnder('usr/lib/pkg7', ids[8]).length, 1);

    let n = 0;
    let last = '';
    for (const f of db.files.filesOf(ids[199])) {
      assert.ok(f.path > last, 'path order');
      last = f.path;
      n++;
    }
    assert.equal(n, FILES_PER_PACKAGE);

    const plans: Array<[string, string[]]> = [
      ['ownersOf', db.queryPlan(FILE_SQL.ownersOf, 'usr/lib/pkg1/d1/f1')],
      ['otherOwnersUnder', db.queryPlan(FILE_SQL.otherOwnersUnder, 'usr/lib/', 'usr/lib0', '[1]', 1)],
      ['otherOwnersUnderRoot', db.queryPlan(FILE_SQL.otherOwnersUnderRoot, '[1]', 1)],
      ['fileRow', db.queryPlan(FILE_SQL.fileRow, 1, 'usr')],
      ['filesOf', db.queryPlan(FILE_SQL.filesOf, 1)],
      ['countOf', db.queryPlan(FILE_SQL.countOf, 1)],
      ['deletePath', db.queryPlan(FILE_SQL.deletePath, 1, 'usr')],
      ['deleteOf', db.queryPlan(FILE_SQL.deleteOf, 1)],
      ['packages.get', db.queryPlan(PACKAGE_SQL.byNameArch, 'pkg1', 'amd64')],
      ['packages.byName', db.queryPlan(PACKAGE_SQL.byName, 'pkg1')],
      ['journal.steps', db.queryPlan(JOURNAL_SQL.steps, t)],
      ['journal.intend', db.queryPlan(JOURNAL_SQL.intend, t, 'place', '{}', t)],
    ];
    for (const [what, plan] of plans) assertIndexed(plan, what);
    // Unfinished transactions come from a partial index holding only the open ones, not from the history.
    assert.deepEqual(db.queryPlan(TXN_SQL.open), ['SCAN transactions USING INDEX transactions_open']);
    assert.match(plans[0][1].join('\n'), /SEARCH f USING (COVERING )?INDEX files_path \(path=\?\)/);
    assert.match(plans[1][1].join('\n'), /SEARCH f USING (COVERING )?INDEX files_path \(path>\? AND path<\?\)/);

    // Deleting a package's files is proportional to that package, and cascades leave others alone.
    db.packages.delete(ids[3]);
    assert.equal(db.files.ownersOf('usr/lib').length, PACKAGES - 1);
    assert.equal(db.files.countOf(ids[4]), FILES_PER_PACKAGE);
  } finally {
    db.close();
  }
});
