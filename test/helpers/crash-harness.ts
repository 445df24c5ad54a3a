import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { openDatabase } from '../../src/db/open';
import { ADMIN_REL, rootState } from './root-state';
import { BIN, om, omArgv, type OmOptions } from './run-cli';
import { diffSnapshots, type EntrySnapshot, type TreeSnapshot } from './tree';

const execFileP = promisify(execFile);

/**
 * Shared machinery of the crash tests (test/crash/*): run a command in a child that kills itself at a
 * crash point, and decide whether a recovered root is exactly the old or exactly the new state.
 */

/** How a child run ended: its exit status, or the signal that killed it. */
export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** What a crash child runs: om's command line and options (env: undefined unsets a variable). */
export type ChildOptions = Pick<OmOptions, 'globals' | 'quiet' | 'env'>;

/**
 * bin/overmerge on `root` in a child that may die by a signal (its own crash point, or the test's kill):
 * unlike om's spawn, the result keeps the signal, and this process's OVERMERGE_DEBUG_* variables are not
 * passed on unless `env` names them.
 */
export function spawnOm(root: string, argv: string[], opts: ChildOptions = {}): Promise<ChildResult> {
  return startOm(root, argv, opts).done;
}

/** Like spawnOm, but hands out the child so the caller can kill it. */
export function startOm(
  root: string,
  argv: string[],
  opts: ChildOptions = {},
): { pid: number | undefined; kill: (sig: NodeJS.Signals) => void; done: Promise<ChildResult> } {
  const env = opts.env ?? {};
  const full: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete full[k];
    else full[k] = v;
  }
  // Debug variables of the test process itself must not leak into a child that did not ask for them.
  for (const k of Object.keys(full)) if (k.startsWith('OVERMERGE_DEBUG_') && !(k in env)) delete full[k];
  const child = spawn(process.execPath, [BIN, ...omArgv(root, argv, opts)], { env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) =>
      resolve({ status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
  return { pid: child.pid, kill: (sig) => child.kill(sig), done };
}

/**
 * How many crash points a successful run of `argv` passes; it changes `root`. A child process, because
 * in-process runs would set the variable for everything else this process runs at the same time.
 */
export async function countPoints(root: string, argv: string[], countFile: string, opts: Pick<ChildOptions, 'globals' | 'env'> = {}): Promise<number> {
  await fsp.rm(countFile, { force: true });
  const r = await spawnOm(root, argv, { quiet: true, globals: opts.globals, env: { ...opts.env, OVERMERGE_DEBUG_COUNT_POINTS: countFile } });
  assert.equal(r.status, 0, `uninterrupted ${argv.join(' ')}: ${r.signal ?? ''} ${r.stderr}`);
  const n = Number(await fsp.readFile(countFile, 'utf8'));
  assert.ok(Number.isInteger(n) && n > 0, `point count ${n}`);
  return n;
}

/** A copy of `template` at `dest` (which must not exist), owners, modes, times and hard links kept. */
export async function copyRoot(template: string, dest: string): Promise<void> {
  await execFileP('cp', ['-a', '--', template, dest]);
}

/** Every `.overmerge-*` name below `dir`, and every half-stored blob (`*.tmp`) in the backup store. */
export async function leftoverTemporaries(dir: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(d: string, rel: string): Promise<void> {
    let names: string[];
    try {
      names = await fsp.readdir(d);
    } catch {
      return;
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      if (name.startsWith('.overmerge-') || (r.startsWith(`${ADMIN_REL}/backups/`) && name.endsWith('.tmp'))) found.push(r);
      const st = await fsp.lstat(path.join(d, name)).catch(() => undefined);
      if (st?.isDirectory()) await walk(path.join(d, name), r);
    }
  }
  await walk(dir, '');
  return found.sort();
}

/** Temporaries that only the copy fallback of a move-aside makes: proof that a crash hit it. */
export function copyFallbackTemporaries(names: string[]): string[] {
  return names.filter((n) => /(^|\/)\.overmerge-(incomplete|pending)-/.test(n));
}

/** What the database has left to do: open transactions and committed ones with journal rows. */
export function pendingTransactions(root: string): number {
  const file = path.join(root, ADMIN_REL, 'db.sqlite');
  const db = openDatabase(file, { readonly: true });
  try {
    return db.txns.open().length + db.txns.unfinished().length;
  } finally {
    db.close();
  }
}

/** Everything that must match between a recovered root and the reference run of the same side. */
export interface SideState {
  tree: TreeSnapshot;
  /**
   * `list --json` and `files NAME` of every package; the transactions `history` offers to roll back; the
   * blobs in the backup store.
   */
  db: { list: string; files: Record<string, string>; rollbackable: number[]; store: string[] };
  verify: { status: number; stdout: string };
}

/**
 * `quick`: the tree by hashState and no `verify` run, for trees of thousands of files (random kills).
 * Equal trees and equal database rows give equal verify output, so nothing is lost but a cross-check.
 */
export interface CaptureOptions {
  globals?: string[];
  quick?: boolean;
}

export async function captureSide(root: string, opts: CaptureOptions = {}): Promise<SideState> {
  const globals = opts.globals ?? [];
  return {
    tree: opts.quick ? hashState(root) : await rootState(root),
    db: await dbView(root, globals),
    verify: opts.quick ? { status: -1, stdout: 'not run' } : await verifyView(root, globals),
  };
}

/**
 * rootState's view (admin folder and directory mtimes left out) without xattrs, read synchronously: a
 * content-hash snapshot fast enough for a few thousand files per kill.
 */
export function hashState(root: string): TreeSnapshot {
  const entries: EntrySnapshot[] = [];
  const inodes = new Map<string, string[]>();
  const visit = (abs: string, rel: string): void => {
    const st = fs.lstatSync(abs, { bigint: true });
    const type: EntrySnapshot['type'] = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : 'socket';
    const e: EntrySnapshot = { path: rel, type, mode: (st.mode & 0o7777n).toString(8), uid: Number(st.uid), gid: Number(st.gid), xattrs: {} };
    if (type !== 'dir') e.mtimeNs = st.mtimeNs.toString();
    if (type === 'file') {
      e.size = st.size.toString();
      e.sha256 = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
    }
    if (type === 'symlink') e.target = fs.readlinkSync(abs, { encoding: 'buffer' }).toString('hex');
    if (type === 'char' || type === 'block') e.rdev = st.rdev.toString();
    entries.push(e);
    if (type !== 'dir' && st.nlink > 1n) inodes.set(`${st.dev}:${st.ino}`, [...(inodes.get(`${st.dev}:${st.ino}`) ?? []), rel]);
    if (type !== 'dir') return;
    for (const name of fs.readdirSync(abs).sort()) {
      const r = rel === '.' ? name : `${rel}/${name}`;
      if (r !== ADMIN_REL) visit(path.join(abs, name), r);
    }
  };
  visit(root, '.');
  const linkGroups = [...inodes.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return { entries, linkGroups };
}

async function dbView(root: string, globals: string[]): Promise<SideState['db']> {
  return (await dbViewAndOpen(root, globals)).view;
}

async function dbViewAndOpen(root: string, globals: string[]): Promise<{ view: SideState['db']; open: number[] }> {
  const list = await om(root, ['list', '--json'], { quiet: true, globals });
  assert.equal(list.status, 0, list.stderr);
  const files: Record<string, string> = {};
  for (const p of JSON.parse(list.stdout) as Array<{ name: string }>) {
    const r = await om(root, ['files', p.name], { quiet: true, globals });
    assert.equal(r.status, 0, r.stderr);
    files[p.name] = r.stdout;
  }
  const history = await om(root, ['history', '--json'], { quiet: true, globals });
  assert.equal(history.status, 0, history.stderr);
  const txns = JSON.parse(history.stdout) as Array<{ id: number; state: string; rollbackable: boolean }>;
  const rollbackable = txns.filter((t) => t.rollbackable).map((t) => t.id);
  return {
    view: { list: list.stdout, files, rollbackable, store: await storeBlobs(root) },
    open: txns.filter((t) => t.state === 'open').map((t) => t.id),
  };
}

/** The files of the backup store (ROOT/var/lib/overmerge/backups), relative to it. */
export async function storeBlobs(root: string): Promise<string[]> {
  const dir = path.join(root, ADMIN_REL, 'backups');
  const out: string[] = [];
  for (const sub of await fsp.readdir(dir).catch(() => [] as string[])) {
    for (const name of await fsp.readdir(path.join(dir, sub)).catch(() => [] as string[])) out.push(`${sub}/${name}`);
  }
  return out.sort();
}

async function verifyView(root: string, globals: string[]): Promise<SideState['verify']> {
  const r = await om(root, ['verify'], { quiet: true, globals });
  assert.ok(r.status === 0 || r.status === 1, `verify: ${r.stderr}`);
  assert.equal(r.stderr, '', 'verify wrote to stderr');
  return { status: r.status, stdout: r.stdout };
}

export type Side = 'old' | 'new';

/** Which reference the tree equals exactly, or a failure listing the first differences from both. */
export function whichSide(tree: TreeSnapshot, refs: Record<Side, SideState>, what: string): Side {
  const dOld = diffSnapshots(refs.old.tree, tree);
  if (dOld.length === 0) return 'old';
  const dNew = diffSnapshots(refs.new.tree, tree);
  if (dNew.length === 0) return 'new';
  assert.fail(`${what}: the root is neither the old nor the new state\n  vs old: ${dOld.slice(0, 12).join('\n    ')}\n  vs new: ${dNew.slice(0, 12).join('\n    ')}`);
}

export interface ConsistencyOptions extends CaptureOptions {
  /** The staging folder (default ROOT/var/lib/overmerge/staging). */
  stagingBase?: string;
  /** A small package that a further install (without --auto-recover) must accept; skipped if undefined. */
  probeDeb?: string;
}

/**
 * After `recover`: the root is exactly one side (tree, database, verify output), no temporary is left,
 * staging is empty, nothing is open or unfinished, and the root takes a further install. Returns the side.
 */
export async function assertConsistent(root: string, refs: Record<Side, SideState>, what: string, opts: ConsistencyOptions = {}): Promise<Side> {
  const globals = opts.globals ?? [];
  const side = whichSide(opts.quick ? hashState(root) : await rootState(root), refs, what);
  const { view, open } = await dbViewAndOpen(root, globals);
  assert.deepEqual(view, refs[side].db, `${what}: the database disagrees with the ${side} tree`);
  assert.deepEqual(open, [], `${what}: history shows open transactions`);
  if (!opts.quick) assert.deepEqual(await verifyView(root, globals), refs[side].verify, `${what}: verify differs from the ${side} reference run`);
  assert.deepEqual(await leftoverTemporaries(root), [], `${what}: temporaries left in the root`);
  const staging = opts.stagingBase ?? path.join(root, ADMIN_REL, 'staging');
  assert.deepEqual(await fsp.readdir(staging).catch(() => []), [], `${what}: staging not empty`);
  const again = await om(root, ['recover', '--json'], { quiet: true, globals });
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout), [], `${what}: a second recover still found work`);
  if (opts.probeDeb) {
    const r = await om(root, ['install', opts.probeDeb], { quiet: true, globals });
    assert.equal(r.status, 0, `${what}: a further install failed: ${r.stderr}`);
  }
  return side;
}

/** Sides in crash-point order must be old…old new…new: once committed, never back. */
export function assertMonotonic(sides: Side[], what: string): void {
  const firstNew = sides.indexOf('new');
  if (firstNew < 0) return;
  const back = sides.findIndex((s, i) => i > firstNew && s === 'old');
  assert.equal(back, -1, `${what}: point ${back + 1} recovered to old after point ${firstNew + 1} recovered to new`);
}

/** Recovers in this process and returns what `recover --json` reported. */
export async function recoverIn(root: string, globals: string[] = []): Promise<Array<{ txnId: number; kind: string; outcome: Side }>> {
  const r = await om(root, ['recover', '--json'], { quiet: true, globals });
  assert.equal(r.status, 0, `recover: ${r.stderr}`);
  return JSON.parse(r.stdout) as Array<{ txnId: number; kind: string; outcome: Side }>;
}

/**
 * Runs fn(1..count) with at most `width` at once (each on its own root: a crash child runs while this
 * process checks another root); results in order. The first failure stops new work and is rethrown.
 */
export async function forEachPoint<T>(count: number, width: number, fn: (n: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(count);
  let next = 1;
  let failure: { err: unknown } | undefined;
  async function worker(): Promise<void> {
    while (!failure && next <= count) {
      const n = next++;
      try {
        out[n - 1] = await fn(n);
      } catch (err) {
        failure ??= { err };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, width) }, () => worker()));
  if (failure) throw failure.err;
  return out;
}

/** Parallel crash runs: one per core, at least two (a child and this process's checks overlap). */
export function sweepWidth(): number {
  return Math.max(2, (os.availableParallelism?.() ?? os.cpus().length));
}
