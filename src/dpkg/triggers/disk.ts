import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { errnoOf, fsError } from '../../errors';
import { atomicWrite, ensureFileSync, fsyncDir, makeFoldersSync, readIfPresent, removeIfPresent } from '../../fs/atomic-file';
import {
  addToUnincorp,
  formatExplicitInterests,
  formatFileInterests,
  formatUnincorp,
  parseExplicitInterests,
  parseFileInterests,
  parseUnincorp,
  type UnincorpEntry,
} from './formats';
import { changedExplicitNames } from './interests';
import type { TriggerInterests } from './model';
import { triggerKind } from './names';

/**
 * ADMINDIR/triggers/ on disk, read and written with dpkg's names and steps (lib/dpkg/triglib.c,
 * trigdeferred.c, atomic-file.c):
 * - `File` and each `NAME` are replaced through `File-new` / `NAME-new` (mode 0644, fsynced, renamed, the
 *   folder fsynced); one left without lines is deleted;
 * - `Unincorp` is replaced through `Unincorp.new` (dpkg does not fsync that one; we do, it is cheap);
 * - `Lock` is the fcntl lock dpkg and dpkg-trigger take around these writes. It is created here as dpkg
 *   creates it (mode 0600) but not locked: Node has no fcntl locks, and the engine holds dpkg's database
 *   lock for the whole run, so only an administrator's dpkg-trigger could race us.
 * A folder that does not exist reads as empty; dpkg creates it (0755) the first time it writes.
 */
export const TRIGGERS_DIR = 'triggers';
const FILE = 'File';
const UNINCORP = 'Unincorp';
const LOCK = 'Lock';
const NOT_INTEREST_FILES = new Set([FILE, UNINCORP, LOCK, `${FILE}-new`, `${UNINCORP}.new`]);

export interface TriggerFiles {
  interests: TriggerInterests;
  unincorp: UnincorpEntry[];
  /** Unincorp exists. dpkg treats a missing one as "triggers never set up" (its transitional mode). */
  unincorpPresent: boolean;
}

function triggersDir(adminDir: string): string {
  return path.join(adminDir, TRIGGERS_DIR);
}

/**
 * Reads File, every explicit trigger's interest file and Unincorp. dpkg never lists the folder: it opens
 * `triggers/NAME` when NAME is activated. So every file named like an explicit trigger is that trigger's
 * interest file, as far as dpkg is concerned — even `foo-new`, which is also the name dpkg writes `foo`
 * under before renaming it (a leftover of an interrupted write is, to dpkg, trigger foo-new's interests).
 * Left out: File, Unincorp, Lock, and the side names of the first two (`File-new`, `Unincorp.new`).
 */
export async function readTriggerState(adminDir: string): Promise<TriggerFiles> {
  const dir = triggersDir(adminDir);
  let names: string[];
  try {
    names = (await fsp.readdir(dir)).sort();
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return { interests: { file: [], explicit: {} }, unincorp: [], unincorpPresent: false };
    throw fsError('read directory', err, dir);
  }
  const fileText = readText(path.join(dir, FILE));
  const unincorpText = readText(path.join(dir, UNINCORP));
  const explicit: TriggerInterests['explicit'] = {};
  for (const name of names) {
    if (NOT_INTEREST_FILES.has(name) || triggerKind(name) !== 'explicit') continue;
    const text = readText(path.join(dir, name));
    if (text === undefined) continue;
    const lines = parseExplicitInterests(text, path.join(dir, name));
    if (lines.length > 0) explicit[name] = lines;
  }
  return {
    interests: { file: parseFileInterests(fileText ?? '', path.join(dir, FILE)), explicit },
    unincorp: parseUnincorp(unincorpText ?? '', path.join(dir, UNINCORP)),
    unincorpPresent: unincorpText !== undefined,
  };
}

/**
 * Writes the interest files that differ between `before` (what is on disk) and `after`, as dpkg writes
 * them after an unpack or a removal.
 */
export async function writeTriggerInterests(adminDir: string, before: TriggerInterests, after: TriggerInterests): Promise<void> {
  const dir = triggersDir(adminDir);
  makeFoldersSync(dir);
  const fileText = formatFileInterests(after.file);
  if (fileText !== formatFileInterests(before.file)) await writeOrRemove(dir, FILE, `${FILE}-new`, fileText);
  for (const name of changedExplicitNames(before, after)) {
    await writeOrRemove(dir, name, `${name}-new`, formatExplicitInterests(after.explicit[name] ?? []));
  }
}

async function writeOrRemove(dir: string, name: string, side: string, text: string): Promise<void> {
  if (text === '') {
    removeIfPresent(path.join(dir, name));
    fsyncDir(dir);
    return;
  }
  atomicWrite(path.join(dir, name), Buffer.from(text, 'latin1'), { mode: 0o644, side: path.join(dir, side) });
}

/** A trigger file as dpkg reads it (one character per byte), or undefined when it is absent. */
function readText(file: string): string | undefined {
  return readIfPresent(file)?.toString('latin1');
}

/**
 * Brings the folder from `before` (what `readTriggerState` read) to `after`: the interest files that
 * changed, then Unincorp if it changed (dpkg leaves it empty once incorporated).
 */
export async function writeTriggerState(adminDir: string, before: TriggerFiles, after: Pick<TriggerFiles, 'interests' | 'unincorp'>): Promise<void> {
  await writeTriggerInterests(adminDir, before.interests, after.interests);
  if (!before.unincorpPresent || formatUnincorp(before.unincorp) !== formatUnincorp(after.unincorp)) await writeUnincorp(adminDir, after.unincorp);
}

/** Replaces Unincorp (empty after dpkg incorporates it), creating the folder and Lock as dpkg does. */
export async function writeUnincorp(adminDir: string, entries: readonly UnincorpEntry[]): Promise<void> {
  const dir = triggersDir(adminDir);
  makeFoldersSync(dir);
  ensureFileSync(path.join(dir, LOCK), 0o600);
  atomicWrite(path.join(dir, UNINCORP), Buffer.from(formatUnincorp(entries), 'latin1'), { mode: 0o644, side: path.join(dir, `${UNINCORP}.new`) });
}

/**
 * What `dpkg-trigger [--no-await] [--by-package=BY] TRIGGER` does to the state on disk: one activation added
 * to Unincorp (`by` null for --no-await), to be incorporated by the next dpkg (or overmerge) run. Like
 * dpkg-trigger, it records nothing (and says so: false) where dpkg never set triggers up, that is where
 * there is no Unincorp.
 */
export async function recordTriggerActivation(adminDir: string, trigger: string, by: string | null): Promise<boolean> {
  const { unincorp, unincorpPresent } = await readTriggerState(adminDir);
  const entries = addToUnincorp(unincorp, trigger, by); // checks the name first, as dpkg-trigger does
  if (!unincorpPresent) return false;
  await writeUnincorp(adminDir, entries);
  return true;
}
