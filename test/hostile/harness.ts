import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hostileCases } from '../../fixtures/hostile/cases';
import { openForWriting } from '../../src/engine/context';
import { installArchives } from '../../src/engine/install';
import { OvermergeError } from '../../src/errors';
import { dbState, type DbState } from '../helpers/root-state';
import { om, type CliResult } from '../helpers/run-cli';
import { makeTempDir } from '../helpers/temp';
import { testTxnOptions } from '../helpers/txn-options';
import { diffSnapshots, snapshotTree, type TreeSnapshot } from '../helpers/tree';

/**
 * A sandbox for installing hostile archives: one temporary folder holding canaries (folders that decoy
 * symlinks and escaping archives point at), the archives, and a box per root. Laid out so that every
 * escape the corpus can attempt lands inside the sandbox, where a snapshot sees it:
 *
 *   WORK/canary/            absolute decoys and the corpus's "outside" point here
 *   WORK/canary-rel/        ROOT/rel-outside -> ../../../canary-rel
 *   WORK/debs/
 *   WORK/box/N/root/        ROOT/b -> ../../.. reaches WORK itself
 */
export interface Sandbox {
  work: string;
  canary: string;
  canaryRel: string;
  debs: string;
}

export const ADMIN = 'var/lib/overmerge';

export async function makeSandbox(prefix: string): Promise<Sandbox> {
  const work = await makeTempDir(prefix);
  const sb: Sandbox = {
    work,
    canary: path.join(work, 'canary'),
    canaryRel: path.join(work, 'canary-rel'),
    debs: path.join(work, 'debs'),
  };
  // Names the corpus writes or links through (x, etc/x, passwd) exist, so a followed link changes a file.
  await fsp.mkdir(path.join(sb.canary, 'etc'), { recursive: true });
  await fsp.writeFile(path.join(sb.canary, 'passwd'), 'canary passwd\n');
  await fsp.writeFile(path.join(sb.canary, 'x'), 'canary x\n');
  await fsp.writeFile(path.join(sb.canary, 'etc', 'passwd'), 'canary etc/passwd\n');
  await fsp.writeFile(path.join(sb.canary, 'etc', 'x'), 'canary etc/x\n');
  await fsp.mkdir(sb.canaryRel);
  await fsp.writeFile(path.join(sb.canaryRel, 'x'), 'canary-rel x\n');
  await fsp.mkdir(sb.debs);
  await fsp.mkdir(path.join(work, 'box'));
  return sb;
}

export async function removeSandbox(sb: Sandbox | undefined): Promise<void> {
  if (sb) await fsp.rm(sb.work, { recursive: true, force: true });
}

let baselineDeb: Buffer | undefined;

/** The corpus's own benign package: installed first, so the admin folder exists before the case. */
function baseline(): Buffer {
  baselineDeb ??= hostileCases().find((c) => c.id === 'valid-baseline')!.deb;
  return baselineDeb;
}

/**
 * A fresh root in its own box: the baseline package installed, then decoy symlinks planted (absolute and
 * relative ones leading out of the root, a chain climbing out, and a merged-/usr style `lib -> usr/lib`).
 */
export async function makeRoot(sb: Sandbox, name: string): Promise<string> {
  const root = path.join(sb.work, 'box', name, 'root');
  await fsp.mkdir(root, { recursive: true });
  const base = path.join(sb.debs, 'baseline.deb');
  await fsp.writeFile(base, baseline());
  const r = await om(root, ['install', base]);
  assert.equal(r.status, 0, `baseline install: ${r.stderr}`);
  await fsp.symlink(sb.canary, path.join(root, 'etc-outside'));
  await fsp.symlink('../../../canary-rel', path.join(root, 'rel-outside'));
  await fsp.symlink(sb.canary, path.join(root, 'usr', 'lib', 'evil'));
  await fsp.symlink('b', path.join(root, 'a'));
  await fsp.symlink('../../..', path.join(root, 'b'));
  await fsp.symlink('usr/lib', path.join(root, 'lib'));
  return root;
}

/**
 * The root, every entry with type, mode, owner, content and mtime, the root folder's own mtime included.
 * overmerge's admin folder is compared too, except what a forgotten transaction changes by design: the
 * database file's bytes (its content is compared through the CLI instead), its -wal/-shm, and the admin
 * folders' mtimes (the lock file and the transaction's staging folder come and go).
 */
export async function rootSnapshot(root: string): Promise<TreeSnapshot> {
  const snap = await snapshotTree(root, { rootMtime: true });
  const db = `${ADMIN}/db.sqlite`;
  const entries = snap.entries
    .filter((e) => e.path !== `${db}-wal` && e.path !== `${db}-shm`)
    .map((e) => {
      if (e.path === db) return { ...e, size: undefined, sha256: undefined, mtimeNs: undefined };
      if (e.type === 'dir' && (e.path === ADMIN || e.path.startsWith(`${ADMIN}/`))) return { ...e, mtimeNs: undefined };
      return e;
    });
  return { entries, linkGroups: snap.linkGroups };
}

/** Everything in the sandbox except `root` itself: canaries, boxes, archives. */
export async function outsideSnapshot(sb: Sandbox, root: string): Promise<TreeSnapshot> {
  const rel = path.relative(sb.work, root);
  const snap = await snapshotTree(sb.work);
  const inRoot = (p: string) => p === rel || p.startsWith(`${rel}/`);
  return {
    entries: snap.entries.filter((e) => !inRoot(e.path)),
    linkGroups: snap.linkGroups.map((g) => g.filter((p) => !inRoot(p))).filter((g) => g.length > 1),
  };
}

/** Hard links from inside the root to a canary file show up as a link count, not in the snapshot. */
export async function canaryLinkCounts(sb: Sandbox): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const dir of [sb.canary, path.join(sb.canary, 'etc'), sb.canaryRel]) {
    for (const name of await fsp.readdir(dir)) {
      const st = await fsp.lstat(path.join(dir, name));
      if (st.isFile()) out[path.relative(sb.work, path.join(dir, name))] = st.nlink;
    }
  }
  return out;
}

export function assertSame(before: TreeSnapshot, after: TreeSnapshot, what: string): void {
  const diff = diffSnapshots(before, after);
  assert.deepEqual(diff, [], `${what} changed:\n  ${diff.slice(0, 40).join('\n  ')}`);
}

/**
 * Names an escape from these archives would leave directly in the system's temporary folder (their
 * members' base names, and movefile's temporaries). Other processes share that folder, so only these are
 * looked for there; everything the corpus aims outside the root lands in the sandbox, which is compared
 * whole.
 */
const ESCAPE_NAMES = new Set([
  'x', 'ab', 'a', 'b', 'h', 'f', 'ok', 'safe', 'short', 'later', 'after', 'before', 'neg', 'huge', 'sized',
  'ztype', 'bomb', 'noise', 'etc', 'passwd', 'dir', 'twice-x', 'twice-d', 'link-to-dir', 'a-dir', 'usr', 'var',
]);

export async function tmpNames(): Promise<Set<string>> {
  return new Set(await fsp.readdir(os.tmpdir()));
}

export function newEscapeNames(before: Set<string>, after: Set<string>): string[] {
  return [...after].filter((n) => !before.has(n) && (ESCAPE_NAMES.has(n) || n.startsWith('.overmerge-')));
}

/** Everything a refusal must leave exactly as it was. */
export interface World {
  root: TreeSnapshot;
  outside: TreeSnapshot;
  links: Record<string, number>;
  db: DbState;
  tmp: Set<string>;
}

/** `rootToo: false` leaves the root out (after an accepted install of 200,000 files, say). */
export async function world(sb: Sandbox, root: string, { rootToo = true } = {}): Promise<World> {
  return {
    root: rootToo ? await rootSnapshot(root) : { entries: [], linkGroups: [] },
    outside: await outsideSnapshot(sb, root),
    links: await canaryLinkCounts(sb),
    db: await dbState(root),
    tmp: await tmpNames(),
  };
}

export function assertUnchanged(before: World, after: World, what: string): void {
  assertSame(before.root, after.root, `${what}: the root`);
  assertSame(before.outside, after.outside, `${what}: the sandbox outside the root (canaries)`);
  assert.deepEqual(after.links, before.links, `${what}: link counts of canary files`);
  assert.deepEqual(after.db, before.db, `${what}: the database (list, files, history)`);
  assert.deepEqual(newEscapeNames(before.tmp, after.tmp), [], `${what}: new names in ${os.tmpdir()}`);
}

/** Only the outside and the canaries (after an accepted install the root has changed, as it should). */
export function assertOutsideUnchanged(before: World, after: World, what: string): void {
  assertSame(before.outside, after.outside, `${what}: the sandbox outside the root (canaries)`);
  assert.deepEqual(after.links, before.links, `${what}: link counts of canary files`);
  assert.deepEqual(newEscapeNames(before.tmp, after.tmp), [], `${what}: new names in ${os.tmpdir()}`);
}

/**
 * A refusal as the user sees it: exit 1, nothing on stdout, exactly one line on stderr, `overmerge: `
 * and the archive's path, no stack. Returns the message without the prefix.
 */
export function assertOneLineRefusal(r: CliResult, deb: string, what: string): string {
  assert.equal(r.status, 1, `${what}: exit status (stderr: ${r.stderr})`);
  assert.equal(r.stdout, '', `${what}: stdout`);
  assert.match(r.stderr, /^overmerge: [^\n]+\n$/, `${what}: one line on stderr, got ${JSON.stringify(r.stderr)}`);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at |Error: /, `${what}: no stack or internal error`);
  const message = r.stderr.slice('overmerge: '.length, -1);
  assert.ok(message.includes(deb), `${what}: the message names the archive ${deb}: ${message}`);
  return message;
}

/**
 * The refusal's error code, which the CLI does not print: the same install through the engine's API, on
 * the same root (a second refusal, which must leave it unchanged too).
 */
export async function refusalOf(root: string, deb: string): Promise<OvermergeError> {
  const w = await openForWriting({ root, lockWait: 0 });
  try {
    await installArchives(w, [deb], 'installed', testTxnOptions());
  } catch (err) {
    assert.ok(err instanceof OvermergeError, `not an OvermergeError: ${(err as Error)?.stack ?? String(err)}`);
    return err;
  } finally {
    w.close();
  }
  assert.fail(`${deb} was installed through the API`);
}
