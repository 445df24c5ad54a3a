import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readDebControl } from '../archive/deb';
import { parseRelations, relationMatches } from '../control/relations';
import type { Db } from '../db/db';
import type { TxnKind } from '../db/types';
import { OvermergeError, fsError } from '../errors';
import type { PlaceMode } from '../fs/place';
import { syncFilesystem } from '../fs/sync';
import { DEFAULT_MAX_MEMBERS, stageArchive } from '../stage/stage';
import type { StagedPackage } from '../stage/manifest';
import { commitPlan } from './commit';
import { blobStore, type Writer } from './context';
import { BackupKeeper, snapshotJson } from './keep-backups';
import type { BlobStore } from '../fs/blob-store';
import type { RootPath } from '../fs/rootpath';
import type { CrashPoints } from './crash';
import { checkContent, Executor, finishJournal, undoJournal } from './execute';
import { checkGuarded } from './guarded';
import { checkLanding } from './landing';
import { parentOf } from './pathops';
import type { ConffilePolicy, InstallRequest, Plan, PlanInput, RemoveRequest, PackageRef } from './model';
import { plan as makePlan } from './plan';
import { checkInstalledSize, checkSpace, expansionLimit, explainNoSpace, freeSpace } from './space';
import { conffileCompanions, Probe } from './probe';
import { recoverAll } from './recover';

export interface TxnOptions {
  mode: PlaceMode;
  forceOverwrite: boolean;
  conffiles: ConffilePolicy;
  /** Journal intents per SQLite commit. */
  batchSize: number;
  crash: CrashPoints;
  autoRecover: boolean;
  asRoot: boolean;
  /** Keep what this transaction replaces in the backup store, so it can be rolled back. */
  keepBackups: boolean;
  /** How many transactions keep their backups; older ones lose them (and the ability to roll back). */
  backupRetention: number;
  /** Members the archives of one transaction may have in all (default DEFAULT_MAX_MEMBERS). */
  maxMembers?: number;
  /** Progress callback: what is happening and how far along. */
  progress?: (phase: string, done: number, total: number) => void;
}

export interface TxnOutcome {
  txnId: number;
  plan: Plan;
}

/** `install`/`unpack`: all archives of one call form one transaction. */
export async function installArchives(w: Writer, archives: string[], status: 'installed' | 'unpacked', opts: TxnOptions): Promise<TxnOutcome> {
  // Read every control paragraph first: a broken archive is refused before anything is recorded.
  const limits: Array<number | undefined> = [];
  for (const a of archives) limits.push(expansionLimit(await readDebControl(a), a));
  await checkInstalledSize(w.loc.root.host, archives, limits);
  return runTransaction(w, 'install', archives.map((a) => path.resolve(a)), opts, async (probe, stagingDir) => {
    const installs: InstallRequest[] = [];
    const memberLimit = opts.maxMembers ?? DEFAULT_MAX_MEMBERS;
    let members = 0;
    for (let i = 0; i < archives.length; i++) {
      opts.progress?.('stage', i, archives.length);
      const dir = path.join(stagingDir, String(i));
      await fsp.mkdir(dir, { mode: 0o700 });
      const freeBytes = limits[i] === undefined ? await freeSpace(w.loc.root.host) : undefined;
      const staged = await stageArchive(archives[i], dir, {
        asRoot: opts.asRoot,
        maxBytes: limits[i],
        freeBytes,
        members: { left: memberLimit - members, limit: memberLimit },
      });
      members += staged.entries.length;
      opts.crash.tick();
      const resolved = await probe.resolveAll(staged);
      const old = probe.installed(staged.name, staged.architecture);
      installs.push({ staged, resolved, old, status });
    }
    opts.progress?.('stage', archives.length, archives.length);
    return { installs, removals: [] };
  });
}

/** `remove`/`purge`: one transaction for all named packages. */
export async function removePackages(w: Writer, names: string[], purge: boolean, opts: TxnOptions): Promise<TxnOutcome> {
  const rows = names.map((n) => {
    const found = w.db.packages.byName(n);
    if (found.length === 0 || (!purge && found.every((r) => r.status === 'config-files'))) {
      throw new OvermergeError('E_NOT_INSTALLED', `package '${n}' is not installed`, { op: purge ? 'purge' : 'remove' });
    }
    return found;
  });
  return runTransaction(w, purge ? 'purge' : 'remove', names, opts, async (probe) => {
    const removals: RemoveRequest[] = rows.flat().map((row) => ({ pkg: probe.withFiles(row), purge }));
    return { installs: [], removals };
  });
}

/** What a transaction changes, and what else it must do at its commit. */
export interface Prepared {
  installs: InstallRequest[];
  removals: RemoveRequest[];
  /** Unowned paths to remove (a rollback removes the `.dpkg-dist` files its transaction made). */
  extraRemovals?: RootPath[];
  /** Database writes that belong to the commit (same SQLite transaction). */
  onCommit?: () => void;
  /** Work after the clean-up (letting go of another transaction's backups). */
  afterFinish?: () => Promise<void>;
}

export type Prepare = (probe: Probe, stagingDir: string) => Promise<Prepared>;

/**
 * The one shape of every transaction: begin (durable), journal the staging folder, stage and probe, plan
 * (pure), check space, execute the journaled steps, sync, commit in one SQLite transaction, let go of
 * backups. Any failure before the commit undoes what was done and forgets the transaction, so the root
 * and the database are exactly as before.
 */
export async function runTransaction(
  w: Writer,
  kind: TxnKind,
  args: string[],
  opts: TxnOptions,
  prepare: Prepare,
  targetTxn?: number,
): Promise<TxnOutcome> {
  const { db, loc } = w;
  await ensureNothingUnfinished(w, opts);
  const keepBackups = opts.keepBackups && kind !== 'rollback';
  const txnId = db.txns.begin(kind, args, { backupsKept: keepBackups, targetTxn });
  const stagingDir = path.join(loc.stagingBase, `txn-${txnId}`);
  let committed = false;
  try {
    // Inside the try: a failure right after `begin` must forget the transaction like any other.
    opts.crash.tick();
    db.journal.intend(txnId, 'staging', { op: 'staging', dir: stagingDir });
    opts.crash.tick();
    await fsp.mkdir(loc.stagingBase, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
      throw fsError('create staging folder', err, loc.stagingBase);
    });
    await fsp.mkdir(stagingDir, { mode: 0o700 }).catch((err: unknown) => {
      throw fsError('create staging folder', err, stagingDir);
    });
    const probe = new Probe(loc.root, db);
    const requests = await prepare(probe, stagingDir);
    const input = await gather(probe, db, requests, opts);
    input.extraRemovals = requests.extraRemovals;
    checkLanding(input);
    const plan = makePlan(input);
    checkGuarded(plan.steps, input.disk, { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 });
    await checkSpace(loc.root.host, stagingDir, opts.mode, plan);
    checkContent(loc.root, plan.steps);
    const exec = new Executor(db, txnId, {
      root: loc.root,
      mode: opts.mode,
      asRoot: opts.asRoot,
      crash: opts.crash,
      batchSize: opts.batchSize,
      onStep: (done, total) => opts.progress?.('merge', done, total),
    });
    await exec.run(plan.steps);
    // Everything the commit record describes must be on disk before it: one syncfs, not an fsync per file.
    await exec.sync.flush();
    await syncFilesystem(loc.root.host);
    opts.crash.tick();
    db.transaction(() => {
      commitPlan(db, txnId, plan);
      if (keepBackups) recordSnapshots(db, txnId, requests, plan, input.disk);
      requests.onCommit?.();
    });
    committed = true;
    opts.crash.tick();
    await finishJournal(db, txnId, opts.crash, keepBackups ? new BackupKeeper(db, txnId, loc.root, blobStore(loc)) : undefined);
    await requests.afterFinish?.();
    if (keepBackups) await pruneBackups(db, blobStore(loc), opts.backupRetention);
    return { txnId, plan };
  } catch (err) {
    if (committed) throw cleanUpFailed(txnId, err);
    await rollBack(db, txnId, err, opts);
    throw err instanceof OvermergeError && err.code === 'E_NO_SPACE' ? await explainNoSpace(err, loc.root.host, args, kind) : err;
  }
}

/**
 * After the commit the change is in; only letting go of backups and staging was cut short. The user must
 * hear both, and that writers refuse to start until `recover` has finished the clean-up.
 */
function cleanUpFailed(txnId: number, cause: unknown): OvermergeError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new OvermergeError('E_UNFINISHED', `transaction ${txnId} is committed, but its clean-up failed: ${why}`, {
    op: 'finish',
    hint: 'run `overmerge recover` to finish it',
    cause,
  });
}

/** Undoes a failed transaction and forgets it; if undoing fails too, both errors are told and recover is needed. */
async function rollBack(db: Db, txnId: number, cause: unknown, opts: TxnOptions): Promise<void> {
  try {
    await undoJournal(db, txnId, opts.crash);
    db.txns.forget(txnId);
  } catch (undoErr) {
    const first = cause instanceof Error ? cause.message : String(cause);
    const second = undoErr instanceof Error ? undoErr.message : String(undoErr);
    throw new OvermergeError('E_UNFINISHED', `${first}; undoing transaction ${txnId} failed too: ${second}`, {
      op: 'roll back',
      hint: 'fix the cause, then run `overmerge recover`',
      cause: undoErr,
    });
  }
}

async function ensureNothingUnfinished(w: Writer, opts: TxnOptions): Promise<void> {
  const pending = [...w.db.txns.open(), ...w.db.txns.unfinished()];
  if (pending.length === 0) return;
  if (opts.autoRecover) {
    await recoverAll(w, opts.crash);
    return;
  }
  throw new OvermergeError('E_UNFINISHED', `transaction ${pending[0].id} (${pending[0].kind}) was interrupted`, {
    op: 'begin',
    hint: 'run `overmerge recover` first, or pass --auto-recover',
  });
}

/** Probes everything the planner will ask about: disk states, owners, directory contents. */
async function gather(
  probe: Probe,
  db: Db,
  req: Prepared,
  opts: TxnOptions,
): Promise<PlanInput> {
  const txnIds = [...req.installs.map((r) => r.old), ...req.removals.map((r) => r.pkg)]
    .filter((p): p is NonNullable<typeof p> => p !== undefined)
    .map((p) => db.packages.get(p.name, p.architecture)?.id)
    .filter((id): id is number => id !== undefined);
  for (const r of req.installs) {
    for (const e of r.staged.entries) {
      const at = r.resolved.get(e.path) ?? e.path;
      const d = await probe.look(at, { digest: e.conffile });
      if (at !== '') await probe.look(parentOf(at)); // checkLanding: the folder it goes into
      probe.ownersOf(at);
      if (e.type !== 'directory' && d.type === 'directory') {
        await probe.look(at, { beneath: true });
        probe.ownersBeneath(at, txnIds);
      }
      if (e.conffile) for (const c of conffileCompanions(at)) await probe.look(c);
    }
    if (r.old) await gatherOld(probe, r.old.files, txnIds, false);
  }
  for (const r of req.removals) await gatherOld(probe, r.pkg.files, txnIds, r.purge);
  for (const p of req.extraRemovals ?? []) await probe.look(p);
  for (const p of [...probe.disk.keys()]) await probe.lookAncestors(p); // checkGuarded
  return {
    installs: req.installs,
    removals: req.removals,
    disk: probe.disk,
    owners: probe.owners,
    ownedBeneath: probe.ownedBeneath,
    replaces: replacesOwner,
    options: { forceOverwrite: opts.forceOverwrite, conffiles: opts.conffiles },
  };
}

async function gatherOld(probe: Probe, files: { path: RootPath; type: string; conffile: boolean }[], txnIds: number[], purge: boolean): Promise<void> {
  for (const f of files) {
    probe.ownersOf(f.path);
    const d = await probe.look(f.path);
    if (d.type === 'directory' && f.type === 'directory') {
      // Listing a directory is only worth it if no other package keeps it anyway.
      probe.ownersBeneath(f.path, txnIds);
      await probe.look(f.path, { children: true });
    }
    if (purge && f.conffile) for (const c of conffileCompanions(f.path)) await probe.look(c);
  }
}

/** Whether `staged` declares Replaces on `owner` (name, and version constraint if any). */
function replacesOwner(staged: StagedPackage, owner: PackageRef): boolean {
  const field = staged.control.get('Replaces');
  if (!field) return false;
  return parseRelations('Replaces', field).some((group) => group.some((rel) => relationMatches(rel, owner)));
}

/**
 * With --keep-backups: each package's rows as they were before, and the unowned paths this transaction
 * created, so that `rollback` can rebuild the old state. Part of the commit.
 */
function recordSnapshots(db: Db, txnId: number, req: Prepared, plan: Plan, disk: PlanInput['disk']): void {
  for (const r of req.installs) {
    db.snapshots.add(txnId, r.staged.name, r.staged.architecture, r.old ? snapshotJson(r.old, disk) : null);
  }
  for (const r of req.removals) db.snapshots.add(txnId, r.pkg.name, r.pkg.architecture, snapshotJson(r.pkg, disk));
  const owned = new Set<string>();
  for (const rec of plan.records) for (const f of rec.files) owned.add(f.path);
  for (const step of plan.steps) {
    if (step.kind === 'place' && step.aside === 'none' && !owned.has(step.path)) db.snapshots.addExtra(txnId, step.path);
  }
}

/** Keeps the backups of the newest `retention` transactions that kept any; older ones are let go of. */
export async function pruneBackups(db: Db, store: BlobStore, retention: number): Promise<void> {
  const keeping = db.txns.list().filter((t) => t.backupsKept);
  for (const t of keeping.slice(Math.max(0, retention))) await releaseBackups(db, store, t.id);
}

/** Forgets what transaction `txnId` kept: its snapshots, its blob references, and blobs nobody else uses. */
export async function releaseBackups(db: Db, store: BlobStore, txnId: number): Promise<void> {
  await removeBlobs(store, releaseBackupRows(db, txnId));
}

/**
 * The database half of releaseBackups, usable inside a commit; returns the blobs nobody refers to any
 * more, for removeBlobs after the commit. A crash in between leaves only unreferenced blobs, which
 * `recover` collects (collectOrphanBlobs).
 */
export function releaseBackupRows(db: Db, txnId: number): string[] {
  return db.transaction(() => {
    db.snapshots.drop(txnId);
    db.txns.setBackupsKept(txnId, false);
    return db.backups.release(txnId);
  });
}

export async function removeBlobs(store: BlobStore, hashes: string[]): Promise<void> {
  for (const h of hashes) await store.remove(h);
}
