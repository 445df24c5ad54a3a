import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { withTempDir } from '../helpers/temp';

/**
 * SQLite keeps a statement's (or a savepoint's) old page contents in a statement journal, and above
 * 64 KiB it spills that journal to a temporary file of the host's /var/tmp (named etilqs_*, unlinked at
 * once): a write outside the root. A bootstrap made 38 of them. What overmerge writes in its big
 * transactions — a run of journal steps marked done, a package's file rows recorded and then replaced —
 * must make none.
 *
 * SQLite takes its temporary folder from SQLITE_TMPDIR when it starts, so each side runs in a child
 * process with SQLITE_TMPDIR set to a watched folder; the files are gone before anyone could list them,
 * but inotify (fs.watch) sees each one made. Three sides:
 *   - the control: SQLite's default temp_store, and a savepoint around a bulk write (a nested
 *     transaction, as insertFiles took one inside the commit's): it must make temporary files, or the
 *     watch proves nothing;
 *   - the bulk writes as overmerge makes them, under SQLite's default: they keep no statement journal
 *     at all, so they hold no memory for one either (the reinstall of 116,010 files: +24 MiB of peak RSS
 *     when they did, in memory);
 *   - the database as openDatabase makes it (temp_store = MEMORY), savepoint included: no file.
 */
const OPEN = path.resolve(__dirname, '..', '..', 'src', 'db', 'open.js');

const WORKLOAD = `
  const db = require(${JSON.stringify(OPEN)}).openDatabase(process.argv[1]);
  // A private field read on purpose: two sides need SQLite's default back.
  if (process.argv[2] === 'default') db.sql.pragma('temp_store = DEFAULT');
  const t = db.txns.begin('install', ['many.deb']);
  const steps = [];
  for (let i = 0; i < 5000; i++) steps.push({ kind: 'place', data: { path: 'usr/share/many/' + i, from: 'staging/' + i } });
  db.journal.doneMany(db.journal.intendMany(t, steps));
  const rows = (v) => Array.from({ length: 20000 }, (_, i) => ({
    path: 'usr/share/many/' + String(i).padStart(6, '0'), type: 'file', mode: 0o644, uid: 0, gid: 0, size: i,
    sha256: (i + v).toString(16).padStart(64, '0'),
  }));
  const control = { name: 'many', architecture: 'all', version: '1', status: 'installed', control: 'Package: many\\n' };
  db.transaction(() => db.files.insertFiles(db.packages.upsert(control, t), rows(0)));
  // A reinstall: the package's rows forgotten and recorded again, in one transaction (or, for the
  // control, under a savepoint inside it).
  db.transaction(() => {
    const id = db.packages.upsert(control, t);
    const reinstall = () => {
      db.files.deleteFilesOf(id);
      db.files.insertFiles(id, rows(1));
    };
    if (process.argv[3] === 'savepoint') db.transaction(reinstall);
    else reinstall();
    db.txns.commit(t);
  });
  db.close();
`;

async function tempFilesMade(dir: string, side: string, tempStore: 'default' | 'as-opened', nested: 'savepoint' | 'flat'): Promise<string[]> {
  const watched = path.join(dir, `tmp-${side}`);
  fs.mkdirSync(watched);
  const made: string[] = [];
  const watcher = fs.watch(watched, (_event, name) => {
    if (name !== null && !made.includes(name)) made.push(name);
  });
  try {
    const child = spawn(process.execPath, ['-e', WORKLOAD, path.join(dir, `${side}.sqlite`), tempStore, nested], {
      env: { ...process.env, SQLITE_TMPDIR: watched, TMPDIR: watched },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stderr);
    // inotify's events of the last files may still be on their way to this process.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return made;
  } finally {
    watcher.close();
  }
}

test('big transactions make no SQLite temporary file outside the root, and their bulk writes keep no statement journal', async () => {
  await withTempDir('db-temp-files', async (dir) => {
    const control = await tempFilesMade(dir, 'control', 'default', 'savepoint');
    assert.ok(
      control.some((n) => n.startsWith('etilqs_')),
      `the control (SQLite's default temp_store, a savepoint) made no temporary file, so the watch proves nothing: ${JSON.stringify(control)}`,
    );
    assert.deepEqual(await tempFilesMade(dir, 'bulk', 'default', 'flat'), [], 'the bulk writes keep a statement journal');
    assert.deepEqual(await tempFilesMade(dir, 'overmerge', 'as-opened', 'savepoint'), [], 'a temporary file was made outside the root');
  });
});
