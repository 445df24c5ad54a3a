import * as fs from 'node:fs';
import { compareVersions } from '../control/version';
import type { Db } from '../db/db';
import { withDetachedDatabase } from '../db/open';
import type { FileInput, FileRow, PackageStatus, TxnRow } from '../db/types';
import { OvermergeError } from '../errors';
import { atomicWrite } from '../fs/atomic-file';
import { kindAt, makeDirectory } from '../fs/entries';
import { hostPathOf } from '../fs/host-path';
import { syncFilesystem } from '../fs/sync';
import type { ChangeAction } from '../model/package';
import { DB_PATH, gatherFacts, type Gathered, type ReconcileLayers } from '../overlay/reconcile/gather';
import { refuseIfInUse } from '../overlay/reconcile/mounted';
import { planReconcile, type ReconcilePlan } from '../overlay/reconcile/plan';
import type { PackageSet } from '../overlay/reconcile/facts';
import { hostPath, joinRootPath, type RootPath } from '../fs/rootpath';
import { ADMIN_DIR } from './admin-dir';
import { blobStore, openForWriting, type Writer } from './context';
import type { CrashPoints } from './crash';
import { collectOrphanBlobs } from './keep-backups';
import { Executor, finishJournal, undoJournal } from './phases/execute';
import type { StepRegistry } from './steps/registry';

/**
 * `overlay reconcile --apply`: the plan (overlay/reconcile/plan.ts) carried out as a transaction of its
 * own, journaled like any other, on the upper layer folder as its root.
 *
 * Where the journal lives: in the upper layer's own database, `UPPER/var/lib/overmerge/db.sqlite` — the
 * database the live system used, which is also the one the reconciled database is made of (the commit
 * replaces its package rows by the new image's plus the kept ones, in the same SQLite transaction as the
 * commit record). So `overmerge recover --root UPPER` finds the transaction where it finds any other:
 * the upper layer folder is the root it was run on. The writer lock is that root's too
 * (`UPPER/var/lib/overmerge/lock`).
 *
 * The phases: refuse a layer an overlay is using → lock the upper, open its database → refuse if a
 * transaction there is unfinished → gather and plan → refuse lost data unless accepted → begin → the
 * journaled steps (mkdir, whiteout, strip-xattr, remove; rmdir at finish) → syncfs of the upper →
 * commit (rows and commit record in one SQLite transaction) → finish (backups let go of, empty
 * directories removed, blobs of transactions that can no longer be rolled back removed). A failure
 * before the commit undoes the steps and forgets the transaction: the layers are exactly as before.
 */

export interface ReconcileOptions {
  stripOrigin: boolean;
  /** Apply even when the plan finds data the reconciled layers would no longer hold. */
  acceptDataLoss: boolean;
  steps: StepRegistry;
  crash: CrashPoints;
  batchSize: number;
  asRoot: boolean;
  lockWait: number;
  /** The command line, as the transaction's record keeps it (recover reads the upper folder from it). */
  args: string[];
}

export interface ReconcileOutcome {
  txnId: number;
  plan: ReconcilePlan;
  gathered: Gathered;
}

/** The dry run: the plan, with nothing written anywhere. */
export async function planOnly(layers: ReconcileLayers, stripOrigin: boolean): Promise<{ plan: ReconcilePlan; gathered: Gathered }> {
  refuseLayersInUse(layers);
  const dbFile = hostPath(layers.upper, DB_PATH);
  if (fs.existsSync(dbFile)) await withDetachedDatabase(dbFile, (db) => refuseUnfinished(db, layers));
  const gathered = await gatherFacts(layers);
  return { plan: planReconcile(gathered.facts, { stripOrigin, prefix: gathered.prefix }), gathered };
}

export async function applyReconcile(layers: ReconcileLayers, opts: ReconcileOptions): Promise<ReconcileOutcome> {
  refuseLayersInUse(layers);
  await seedDatabase(layers, opts.asRoot);
  const w = await openForWriting({ root: layers.upper.host, lockWait: opts.lockWait });
  try {
    refuseUnfinished(w.db, layers);
    const gathered = await gatherFacts(layers, { upperDb: w.db });
    const plan = planReconcile(gathered.facts, { stripOrigin: opts.stripOrigin, prefix: gathered.prefix });
    if (plan.lost.length > 0 && !opts.acceptDataLoss) {
      throw new OvermergeError('E_DATA_LOSS', `${plan.lost.length} file(s) would lose data that lived in the replaced lower layer (first: /${plan.lost[0].path}: ${plan.lost[0].why})`, {
        op: 'overlay reconcile',
        hint: 'see the dry run; copy what matters out of the old image first, or pass --accept-data-loss',
      });
    }
    const txnId = await run(w, plan, gathered, opts);
    return { txnId, plan, gathered };
  } finally {
    w.close();
  }
}

async function run(w: Writer, plan: ReconcilePlan, gathered: Gathered, opts: ReconcileOptions): Promise<number> {
  const { db, loc } = w;
  const txnId = db.txns.begin('reconcile', opts.args);
  const exec = new Executor(db, txnId, opts.steps, { root: loc.root, mode: 'rename', asRoot: opts.asRoot, crash: opts.crash, batchSize: opts.batchSize });
  let committed = false;
  try {
    opts.crash.tick();
    await exec.run(plan.steps);
    await exec.sync.flush();
    await syncFilesystem(loc.root.host);
    opts.crash.tick();
    commitReconcile(db, txnId, plan, gathered.facts.imageDb);
    committed = true;
    opts.crash.tick();
    await finishJournal(db, txnId, opts.steps, opts.crash);
    await collectOrphanBlobs(db, blobStore(loc));
    return txnId;
  } catch (err) {
    if (committed) {
      throw new OvermergeError('E_UNFINISHED', `reconcile ${txnId} is committed, but its clean-up failed: ${(err as Error).message}`, {
        op: 'finish',
        hint: `run \`overmerge recover --root ${loc.root.host}\` to finish it`,
        cause: err,
      });
    }
    try {
      await undoJournal(db, txnId, opts.steps, opts.crash);
      db.txns.forget(txnId);
    } catch (undoErr) {
      throw new OvermergeError('E_UNFINISHED', `${(err as Error).message}; undoing reconcile ${txnId} failed too: ${(undoErr as Error).message}`, {
        op: 'roll back',
        hint: `fix the cause, then run \`overmerge recover --root ${loc.root.host}\``,
        cause: undoErr,
      });
    }
    throw err;
  }
}

/**
 * The commit: the upper's database becomes the new image's plus the kept packages, with the commit
 * record, in one SQLite transaction. Transactions from before can no longer be rolled back (their
 * backups are of files the image has replaced): their backups are let go of.
 */
export function commitReconcile(db: Db, txnId: number, plan: ReconcilePlan, imageDb: PackageSet | undefined): void {
  const d = plan.database;
  db.transaction(() => {
    for (const key of d?.fromImage ?? []) {
      const rec = imageDb?.get(key);
      if (!rec) throw new OvermergeError('E_INTERNAL', `no image row for ${key}`, { op: 'commit reconcile' });
      const id = db.packages.upsert({ name: rec.name, architecture: rec.architecture, version: rec.version, status: rec.status as PackageStatus, control: rec.control, installedSize: rec.installedSize }, txnId);
      db.files.deleteFilesOf(id);
      db.files.insertFiles(id, rec.files.map(inputOf));
    }
    for (const { key, path } of d?.disowned ?? []) {
      const [name, architecture] = splitKey(key);
      const row = db.packages.get(name, architecture);
      if (row) db.files.deletePaths(row.id, [path]);
    }
    for (const key of d?.removed ?? []) {
      const [name, architecture] = splitKey(key);
      const row = db.packages.get(name, architecture);
      if (row) db.packages.delete(row.id);
    }
    for (const p of plan.packages) {
      const action = changeOf(p.rows, p.upperVersion, p.imageVersion);
      if (action) db.txns.addPackageChange(txnId, { name: p.name, architecture: p.architecture, action, oldVersion: p.upperVersion, newVersion: p.rows === 'none' ? undefined : p.imageVersion });
    }
    for (const t of db.txns.list()) letGoOfBackups(db, t);
    db.txns.commit(txnId);
  });
}

function letGoOfBackups(db: Db, t: TxnRow): void {
  if (!t.backupsKept) return;
  db.backups.release(t.id);
  db.txns.setBackupsKept(t.id, false);
}

function changeOf(rows: 'image' | 'upper' | 'none', upper: string | undefined, image: string | undefined): ChangeAction | undefined {
  if (rows === 'none') return 'remove';
  if (rows !== 'image' || image === undefined) return undefined;
  if (upper === undefined) return 'install';
  const c = compareVersions(image, upper);
  return c > 0 ? 'upgrade' : c < 0 ? 'downgrade' : undefined;
}

function splitKey(key: string): [string, string] {
  const i = key.lastIndexOf(':');
  return [key.slice(0, i), key.slice(i + 1)];
}

function inputOf(f: FileRow): FileInput {
  const { id: _id, packageId: _p, ...rest } = f;
  return rest;
}

function refuseLayersInUse(layers: ReconcileLayers): void {
  refuseIfInUse(layers.upper.host, 'upper layer', 'overlay reconcile');
  for (const l of [...layers.lower, ...layers.data]) refuseIfInUse(l.path, `${l.role} layer ${l.index}`, 'overlay reconcile');
}

/**
 * A transaction left unfinished in the upper layer's database: a reconcile is `recover`'s (on the upper
 * folder); any other was the live system's, whose journal names paths of the old merged root, and only
 * that system can finish it.
 */
function refuseUnfinished(db: Db, layers: ReconcileLayers): void {
  const t = [...db.txns.open(), ...db.txns.unfinished()][0];
  if (!t) return;
  const hint =
    t.kind === 'reconcile'
      ? `run \`overmerge recover --root ${layers.upper.host}\` first`
      : 'it was interrupted on the live system: boot the old image and run `overmerge recover` there, then reconcile';
  throw new OvermergeError('E_UNFINISHED', `the upper layer's database has an unfinished ${t.kind} transaction (${t.id})`, { op: 'overlay reconcile', hint });
}

/**
 * The journal's home is the upper layer's database. An upper layer without one (overmerge never wrote
 * through the overlay) gets a copy of the new image's first — written whole under a temporary name and
 * renamed — so that the merged view still reads the image's rows, with the reconcile's record added.
 */
async function seedDatabase(layers: ReconcileLayers, asRoot: boolean): Promise<void> {
  const mine = hostPath(layers.upper, DB_PATH);
  if (fs.existsSync(mine)) return;
  await copyUpAdminDir(layers, asRoot);
  const image = await gatherImageDbFile(layers);
  if (!image) return;
  const bytes = await withDetachedDatabase(image, (db) => db.serialize());
  atomicWrite(mine, bytes, { mode: 0o644 });
}

/**
 * The admin folder's ancestors missing from the upper layer are made as a copy-up would make them: with
 * the lower's mode, owner and time, so that the merged view shows them as before.
 */
async function copyUpAdminDir(layers: ReconcileLayers, asRoot: boolean): Promise<void> {
  let at = '' as RootPath;
  for (const name of ADMIN_DIR.split('/')) {
    at = joinRootPath(at, name);
    const host = hostPath(layers.upper, at);
    const kind = await kindAt(host);
    if (kind === 'dir') continue;
    if (kind !== undefined) throw new OvermergeError('E_UNSAFE_PATH', `${host} is not a directory; refusing to use it as overmerge's admin folder`, { op: 'overlay reconcile', path: host });
    const below = layers.lower.map((l) => hostPath({ host: hostPathOf(l.path) }, at)).find((p) => fs.existsSync(p));
    const st = below ? fs.statSync(below) : undefined;
    const meta = st?.isDirectory() ? { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) } : { mode: 0o755, uid: 0, gid: 0, mtime: Math.floor(Date.now() / 1000) };
    await makeDirectory(host, meta, asRoot);
  }
}

async function gatherImageDbFile(layers: ReconcileLayers) {
  for (const l of layers.lower) {
    const p = hostPath({ host: hostPathOf(l.path) }, DB_PATH);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}
