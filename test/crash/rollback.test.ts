import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { captureSide, copyRoot, leftoverTemporaries, storeBlobs, type SideState } from '../helpers/crash-harness';
import { buildCrashFixtures, makeScratch, mustRun, type CrashFixtures, type Scratch } from '../helpers/crash-scenarios';
import { buildAdHocDeb } from '../helpers/fixtures';
import { ADMIN_REL, assertSameTree } from '../helpers/root-state';
import { gate } from '../helpers/gate';
import { om } from '../helpers/run-cli';

/**
 * `rollback` of transactions made with --keep-backups: the exact old tree and database come back;
 * `history` tells which transactions can be rolled back; refusals are one clear line and change nothing;
 * the backup store keeps each content once and lets go of what --backup-retention no longer covers.
 */

let scratch: Scratch | undefined;
let workDir = '';
let fx: CrashFixtures;
let n = 0;

before(async () => {
  scratch = await makeScratch('rollback');
  workDir = scratch.dir;
  fx = await buildCrashFixtures(workDir);
});

after(async () => {
  await scratch?.dispose();
});

async function withRoot(template: string, fn: (root: string) => Promise<void>): Promise<void> {
  const root = path.join(workDir, `root-${n++}`);
  await copyRoot(template, root);
  try {
    await fn(root);
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
}

/** `history` lines of transaction `id` (its header line). */
async function historyLine(root: string, id: number): Promise<string> {
  const r = await om(root, ['history'], { quiet: true });
  assert.equal(r.status, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => l.startsWith(`#${id} `));
  assert.ok(line, `history has no transaction ${id}:\n${r.stdout}`);
  return line;
}

async function newestTxn(root: string): Promise<number> {
  const r = await om(root, ['history', '--json'], { quiet: true });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<{ id: number }>)[0].id;
}

/** Same tree, same list/files, same verify as `before`; nothing left over. */
async function assertBackTo(root: string, before: SideState, what: string): Promise<void> {
  const now = await captureSide(root);
  assertSameTree(now.tree, before.tree, what);
  assert.equal(now.db.list, before.db.list, `${what}: list`);
  assert.deepEqual(now.db.files, before.db.files, `${what}: files`);
  assert.deepEqual(now.verify, before.verify, `${what}: verify`);
  assert.deepEqual(await leftoverTemporaries(root), [], `${what}: temporaries`);
}

/** A refused command: exit 1, one line naming the reason, and the root and database untouched. */
async function assertRefused(root: string, argv: string[], reason: RegExp, what: string): Promise<void> {
  const before = await captureSide(root);
  const r = await om(root, argv, { quiet: true });
  assert.equal(r.status, 1, `${what}: exit ${r.status}, ${r.stderr}`);
  assert.match(r.stderr, /^overmerge: [^\n]+\n$/, `${what}: not one line: ${JSON.stringify(r.stderr)}`);
  assert.match(r.stderr, reason, what);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, `${what}: stack trace`);
  const after = await captureSide(root);
  assertSameTree(after.tree, before.tree, `${what}: the tree changed`);
  assert.deepEqual(after.db, before.db, `${what}: the database changed`);
}

test('rollback of an upgrade (dir -> file, modified conffile) restores the exact old tree and list', async (t) => {
  if (gate(t, { root: 'installed files are owned by root' })) return;
  await withRoot(fx.templates.modified, async (root) => {
    const before = await captureSide(root);
    await mustRun(root, ['install', '--keep-backups', fx.debs['hello-2.0']]);
    const upgrade = await newestTxn(root);
    assert.match(await historyLine(root, upgrade), /committed \(can roll back\)$/);
    assert.ok((await storeBlobs(root)).length > 0, 'the upgrade kept nothing in the backup store');
    const r = await om(root, ['rollback'], { quiet: true });
    assert.equal(r.status, 0, r.stderr);
    await assertBackTo(root, before, 'after rollback of the upgrade');
    const line = await historyLine(root, upgrade);
    assert.match(line, /rolled-back/);
    assert.doesNotMatch(line, /can roll back/);
    assert.match(await historyLine(root, await newestTxn(root)), /rollback\s+committed$/);
    assert.deepEqual(await storeBlobs(root), [], 'a rolled-back transaction keeps no backups');
    await assertRefused(root, ['rollback', String(upgrade)], /transaction \d+ .*not a committed change|rolled-back/, 'a second rollback');
  });
});

test('rollback of a removal restores the exact old tree and list', async (t) => {
  if (gate(t, { root: 'installed files are owned by root' })) return;
  await withRoot(fx.templates.modified, async (root) => {
    // The administrator also tightened the edited conffile's mode: a rollback must bring that back too.
    await fsp.chmod(path.join(root, 'etc', 'hello.conf'), 0o600);
    const before = await captureSide(root);
    assert.match(before.verify.stdout, /M.* c \/etc\/hello.conf/, 'verify reports the changed mode');
    await mustRun(root, ['remove', '--keep-backups', 'greet']);
    await mustRun(root, ['purge', '--keep-backups', 'hello']);
    const purge = await newestTxn(root);
    assert.match(await historyLine(root, purge), /\(can roll back\)/);
    assert.match(await historyLine(root, purge - 1), /\(can roll back\)/);
    await mustRun(root, ['rollback']);
    await mustRun(root, ['rollback', String(purge - 1)]);
    await assertBackTo(root, before, 'after rolling back the purge and the removal');
    for (const id of [purge, purge - 1]) assert.match(await historyLine(root, id), /rolled-back$/);
  });
});

test('rollback is refused, with one line and nothing changed, when it cannot be done', async (t) => {
  if (gate(t, { root: 'installed files are owned by root' })) return;
  await withRoot(fx.templates.installed, async (root) => {
    await mustRun(root, ['install', fx.debs['hello-2.0']]);
    const plain = await newestTxn(root);
    assert.doesNotMatch(await historyLine(root, plain), /can roll back/);
    await assertRefused(root, ['rollback', String(plain)], /did not keep its backups/, 'backups not kept');
    await assertRefused(root, ['rollback'], /did not keep its backups/, 'newest transaction without backups');
    await assertRefused(root, ['rollback', '999'], /there is no transaction 999/, 'a transaction that does not exist');

    await mustRun(root, ['remove', '--keep-backups', 'greet']);
    const kept = await newestTxn(root);
    await mustRun(root, ['install', fx.debs['greet-1.0']]);
    assert.match(await historyLine(root, kept), /can roll back/);
    await assertRefused(root, ['rollback', String(kept)], /package greet changed after transaction/, 'a later transaction changed the package');
  });
});

test('identical content is stored once; --backup-retention lets go of older backups and their blobs', async (t) => {
  if (gate(t, { root: 'installed files are owned by root' })) return;
  const same = 'the same bytes in two packages\n';
  const twin = (name: string) =>
    buildAdHocDeb(workDir, {
      name,
      version: '1',
      entries: [
        { path: `usr/share/${name}/shared`, type: 'file', content: same },
        { path: `usr/share/${name}/own`, type: 'file', content: `only in ${name}\n` },
      ],
    });
  const [a, b] = [await twin('twin-a'), await twin('twin-b')];
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const blob = (s: string) => `${sha(s).slice(0, 2)}/${sha(s)}`;
  await withRoot(fx.templates.installed, async (root) => {
    await mustRun(root, ['install', a, b]);
    const before = await captureSide(root);
    await mustRun(root, ['remove', '--keep-backups', 'twin-a', 'twin-b']);
    const removal = await newestTxn(root);
    assert.deepEqual(await storeBlobs(root), [blob(same), blob('only in twin-a\n'), blob('only in twin-b\n')].sort(), 'one blob per distinct content');
    const stored = path.join(root, ADMIN_REL, 'backups', blob(same));
    assert.equal(await fsp.readFile(stored, 'utf8'), same);

    // Retention 1: the next transaction that keeps backups takes the only place.
    await mustRun(root, ['remove', '--keep-backups', '--backup-retention', '1', 'greet']);
    const greetRemoval = await newestTxn(root);
    assert.doesNotMatch(await historyLine(root, removal), /can roll back/);
    assert.match(await historyLine(root, greetRemoval), /can roll back/);
    const greetBlobs = [
      blob(await fsp.readFile(path.join(fx.templates.installed, 'usr/bin/goodbye'), 'utf8')),
      blob(await fsp.readFile(path.join(fx.templates.installed, 'usr/share/doc/greet/copyright'), 'utf8')),
    ];
    assert.deepEqual(await storeBlobs(root), [...new Set(greetBlobs)].sort(), "the older transaction's blobs are gone");
    await assertRefused(root, ['rollback', String(removal)], /did not keep its backups/, 'rollback of a pruned transaction');

    await mustRun(root, ['rollback', String(greetRemoval)]);
    await mustRun(root, ['install', a, b]);
    await assertBackTo(root, before, 'twins reinstalled, greet rolled back');
  });
});
