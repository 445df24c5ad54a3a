import type { Db } from '../db/db';
import type { JournalStep } from '../db/types';
import { OvermergeError } from '../errors';
import {
  createSpecial,
  kindAt,
  makeDirectory,
  removeTree,
  renameOver,
  rmdirIfEmpty,
  rmdirIfPresent,
  unlinkIfPresent,
  type SpecialEntry,
} from '../fs/entries';
import { backupState, discardBackup, moveAside, planMoveAside, restoreBackup, type BackupHandle } from '../fs/move-aside';
import { place, planPlace, undoPlace, type PlaceMode } from '../fs/place';
import { hostPath, type Root } from '../fs/rootpath';
import type { StepHooks } from '../fs/steps';
import { SyncBatch } from '../fs/sync';
import { newTempId, tempSibling } from '../fs/tempname';
import type { CrashPoints } from './crash';
import type { JournaledStep } from './journaled';
import type { BackupKeeper } from './keep-backups';
import type { Step } from './model';

export interface ExecOptions {
  root: Root;
  mode: PlaceMode;
  asRoot: boolean;
  crash: CrashPoints;
  /** Journal intents written per SQLite transaction (1 = one durable write per step). */
  batchSize: number;
  /** Called after each step, for progress. */
  onStep?: (done: number, total: number) => void;
}

/**
 * Makes one plan step concrete (host paths, temporary and backup names) without touching anything. Done a
 * batch at a time, right before the batch is journaled: the concrete form carries several host paths a
 * step, too much to hold for every member of a huge archive at once.
 */
export function concretize(root: Root, s: Step, mode: PlaceMode): JournaledStep {
  const target = hostPath(root, s.path);
  switch (s.kind) {
    case 'mkdir':
      return { op: 'mkdir', target, meta: s.meta, backup: s.aside === 'none' ? undefined : planMoveAside(target) };
    case 'remove':
      return s.directory ? { op: 'rmdir', target } : { op: 'remove', target, backup: planMoveAside(target) };
    case 'place': {
      const backup = s.aside === 'none' ? undefined : planMoveAside(target, { keepOriginal: s.aside === 'link' });
      const e = s.entry;
      if (e.type === 'file') {
        if (e.staged === undefined) throw noContent(target);
        return { op: 'place-file', target, plan: planPlace(e.staged, target, mode), backup };
      }
      if (e.type === 'directory') {
        throw new OvermergeError('E_INTERNAL', `a directory cannot be placed as a file: ${target}`, { op: 'plan' });
      }
      const entry: SpecialEntry = {
        type: e.type,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        mtime: e.mtime,
        target: e.target,
        devmajor: e.devmajor,
        devminor: e.devminor,
        linkFrom: s.linkTo === undefined ? undefined : hostPath(root, s.linkTo),
      };
      return { op: 'place-special', target, temp: tempSibling(target, 'new', newTempId()), entry, backup };
    }
  }
}

/** Refuses, before anything is done, a plan with a file whose content is not at hand (a rollback without it). */
export function checkContent(root: Root, steps: readonly Step[]): void {
  for (const s of steps) {
    if (s.kind === 'place' && s.entry.type === 'file' && s.entry.staged === undefined) throw noContent(hostPath(root, s.path));
  }
}

function noContent(target: string): OvermergeError {
  return new OvermergeError('E_CANNOT_ROLLBACK', `no content kept for ${target}; it cannot be restored`, { op: 'plan', path: target });
}

/**
 * Runs plan steps, a batch at a time: the batch is made concrete, its intents durable before any of them
 * acts, and marked done after. On a failure everything done so far is undone, newest first, and the
 * error is rethrown; the root is then as it was. The commit is not this module's business: the caller
 * flushes `sync` and commits once `run` resolves.
 */
export class Executor {
  readonly sync = new SyncBatch();

  constructor(
    private readonly db: Db,
    private readonly txnId: number,
    private readonly opts: ExecOptions,
  ) {}

  private get hooks(): StepHooks {
    return { step: (name, detail) => this.opts.crash.step(name, detail.path) };
  }

  async run(steps: readonly Step[]): Promise<void> {
    for (let i = 0; i < steps.length; i += this.opts.batchSize) {
      const batch = steps.slice(i, i + this.opts.batchSize).map((s) => concretize(this.opts.root, s, this.opts.mode));
      const ids = this.db.journal.intendMany(
        this.txnId,
        batch.map((s) => ({ kind: s.op, data: s as unknown as Record<string, unknown> })),
      );
      this.opts.crash.tick();
      for (let j = 0; j < batch.length; j++) {
        await doStep(batch[j], this.opts, this.hooks, this.sync);
        this.opts.crash.tick();
        this.opts.onStep?.(i + j + 1, steps.length);
      }
      this.db.journal.doneMany(ids);
      this.opts.crash.tick();
    }
  }
}

async function doStep(s: JournaledStep, opts: ExecOptions, hooks: StepHooks, sync: SyncBatch): Promise<void> {
  switch (s.op) {
    case 'staging':
      return; // created before the journal began; recorded so undo and finish remove it
    case 'mkdir':
      if (s.backup) await moveAside(s.backup, { hooks, sync });
      await makeDirectory(s.target, s.meta, opts.asRoot);
      sync.addDir(parentDir(s.target));
      return;
    case 'place-file':
      if (s.backup) await moveAside(s.backup, { hooks, sync });
      await place(s.plan, { hooks, sync });
      return;
    case 'place-special':
      if (s.backup) await moveAside(s.backup, { hooks, sync });
      await createSpecial(s.temp, s.entry, opts.asRoot);
      hooks.step?.('special:created', { path: s.temp });
      await renameOver(s.temp, s.target);
      sync.addDir(parentDir(s.target));
      return;
    case 'remove':
      await moveAside(s.backup, { hooks, sync });
      return;
    case 'rmdir':
      return; // see finishStep
  }
}

/**
 * Undoes one step from whatever point it reached (or had not reached): idempotent, so recovery can run
 * it again after a crash during recovery.
 */
export async function undoStep(s: JournaledStep, hooks: StepHooks, sync: SyncBatch): Promise<void> {
  switch (s.op) {
    case 'staging':
      await removeTree(s.dir);
      return;
    case 'mkdir': {
      // The new directory is at the target only if nothing (else) is there any more: no backup at all,
      // or a move-aside that completed. Its children were undone before it (reverse order).
      const moved = s.backup === undefined || (await backupState(s.backup)) === 'aside';
      if (moved && (await kindAt(s.target)) === 'dir') await rmdirIfPresent(s.target);
      if (s.backup) await restoreBackup(s.backup, { hooks, sync });
      return;
    }
    case 'place-file': {
      const removeTarget = await placedAlone(s.backup);
      await undoPlace(s.plan, { hooks, removeTarget, sync });
      if (s.backup) await restoreBackup(s.backup, { hooks, sync });
      return;
    }
    case 'place-special': {
      await unlinkIfPresent(s.temp);
      if ((await placedAlone(s.backup)) && (await kindAt(s.target)) === 'other') await unlinkIfPresent(s.target);
      if (s.backup) await restoreBackup(s.backup, { hooks, sync });
      return;
    }
    case 'remove':
      await restoreBackup(s.backup, { hooks, sync });
      return;
    case 'rmdir':
      return; // nothing happens before the commit
  }
}

/**
 * Whether what is at the target can only be the newly placed entry: nothing was there before, or the
 * old entry was moved aside completely. A hard-link backup leaves the old entry at the target until the
 * new one replaces it, so restoring the link is what undoes it.
 */
async function placedAlone(backup: BackupHandle | undefined): Promise<boolean> {
  if (backup === undefined) return true;
  if (backup.keepOriginal) return false;
  return (await backupState(backup)) === 'aside';
}

/**
 * After the commit: let go of backups and the staging folder (keeping backed-up content first, if asked).
 * Idempotent. A placement's temporary needs nothing: the commit comes only after every step completed,
 * and a completed placement renamed its temporary over the target (looking anyway would cost a failing
 * unlink per file).
 */
export async function finishStep(s: JournaledStep, hooks: StepHooks, keeper?: BackupKeeper): Promise<void> {
  switch (s.op) {
    case 'staging':
      await removeTree(s.dir);
      return;
    case 'rmdir':
      await rmdirIfEmpty(s.target);
      return;
    default:
  }
  if ('backup' in s && s.backup) {
    await keeper?.keep(s.backup);
    await discardBackup(s.backup, { hooks });
  }
}

/**
 * Undoes every journaled step of `txnId`, newest first. Intents of a batch that never got to run are
 * undone too (there is nothing to find, so nothing happens); their directories may not exist, which is
 * why syncs are collected and a vanished path is skipped at the flush.
 */
export async function undoJournal(db: Db, txnId: number, crash: CrashPoints): Promise<void> {
  const hooks: StepHooks = { step: () => crash.tick() };
  const sync = new SyncBatch();
  for (const page of journalPages(db, txnId, true)) {
    for (const j of page) {
      if (j.state === 'undone') continue;
      await undoStep(j.data as unknown as JournaledStep, hooks, sync);
      await sync.flush();
      db.journal.undone(j.id);
      crash.tick();
    }
  }
}

/** Finishes every journaled step of a committed `txnId`, oldest first, then forgets the journal. */
export async function finishJournal(db: Db, txnId: number, crash: CrashPoints, keeper?: BackupKeeper): Promise<void> {
  const hooks: StepHooks = { step: () => crash.tick() };
  for (const page of journalPages(db, txnId, false)) {
    for (const j of page) {
      await finishStep(j.data as unknown as JournaledStep, hooks, keeper);
      crash.tick();
    }
  }
  db.journal.clear(txnId);
  crash.tick();
}

/** Journal steps read per page: enough to keep SQLite busy, few enough that memory does not follow the journal. */
const JOURNAL_PAGE = 512;

/**
 * The journal of `txnId` oldest first (newest first with `reverse`), a page at a time: better-sqlite3
 * refuses writes while an iterator is open, and reading the whole journal would hold every step of a
 * huge transaction in memory.
 */
function* journalPages(db: Db, txnId: number, reverse: boolean): Generator<JournalStep[]> {
  let from = reverse ? Number.MAX_SAFE_INTEGER : 0;
  for (;;) {
    const page = db.journal.page(txnId, from, JOURNAL_PAGE, { reverse });
    if (page.length === 0) return;
    yield page;
    from = page[page.length - 1].seq;
  }
}

function parentDir(p: string): string {
  return p.slice(0, p.lastIndexOf('/')) || '/';
}
