import { OvermergeError } from '../errors';
import { displayPath, foldersOf, parentOf, type RootPath } from '../fs/rootpath';
import type { DiskState } from '../model/disk';
import type { EntryType, ManifestEntry } from '../model/entry';
import type { StagedPackage } from '../model/staged-package';
import { ADMIN_DIR } from './admin-dir';
import type { PlanInput } from './plan-model';

/**
 * Checks, before the plan, where the transaction's members land after the root's directory symlinks were
 * followed (inside the root). Pure: it reads only `input`.
 *
 * Staging already refuses a member beneath a symlink of the same archive by name. Through the root's own
 * directory symlinks two different names can meet: with `lib -> usr/lib` in the root, symlink `./lib/sub`
 * and file `./usr/lib/sub/x` land at `usr/lib/sub` and beneath it, and placing them in order would write
 * the file through the link just placed, out of the root. So no member may land beneath a non-directory
 * any member of the transaction lands at.
 *
 * Nor may any land in overmerge's own folder (database, lock, staging, backups): a package could swap
 * the live database, or plant a symlink where the next transaction stages its files.
 *
 * And every member must land in a folder that the root has or the transaction makes: otherwise the write
 * fails halfway with a bare ENOENT (typically a member under an absolute symlink of the root, which is
 * followed inside the root, where its target does not exist).
 */
export function checkLanding(input: PlanInput): void {
  const folders = new Set<RootPath>();
  // The folders members land beneath: only a non-directory landing at one of them can be written through,
  // so only those are kept (a map entry per member cost 7 MiB of 116,010 members, in one synchronous call).
  const above = new Set<RootPath>();
  for (const { type, at } of landings(input)) {
    if (type === 'directory') folders.add(at);
    // A folder's own folders were added with it: the next member of a big folder stops at the first.
    for (let f = parentOf(at); f !== '' && !above.has(f); f = parentOf(f)) above.add(f);
  }
  const placed = new Map<RootPath, Landed>();
  for (const { staged, index, type, at } of landings(input)) {
    if (type !== 'directory' && above.has(at) && !placed.has(at)) placed.set(at, { staged, index });
  }
  for (const { staged, index, type, at } of landings(input)) {
    if (at === '') continue;
    if (isAdmin(at) && !(at === ADMIN_DIR && type === 'directory')) throw intoAdmin(staged, staged.entries.at(index), at);
    const through = landedAncestor(at, placed);
    if (through) throw writesThrough(staged, staged.entries.at(index), at, through);
    const parent = parentOf(at);
    if (parent !== '' && !folders.has(parent)) {
      const d = input.disk.get(parent) ?? { type: 'absent' };
      if (d.type !== 'directory') throw noFolder(staged, staged.entries.at(index), parent, d);
    }
  }
}

/**
 * Where each member that is written lands (filtered ones are never written: they make no folder and need
 * none), read by index, path and kind only: an entry is decoded whole only to word an error.
 */
function* landings(input: PlanInput): Generator<Landed & { type: EntryType; at: RootPath }> {
  for (const req of input.installs) {
    const m = req.staged.entries;
    for (let index = 0; index < m.length; index++) {
      const { type, filtered } = m.kindAt(index);
      if (filtered) continue;
      const p = m.pathAt(index);
      yield { staged: req.staged, index, type, at: req.resolved.get(p) ?? p };
    }
  }
}

/** A non-directory member by its archive and index (its entry decoded only to word an error). */
interface Landed {
  staged: StagedPackage;
  index: number;
}

function landedAncestor(at: RootPath, placed: Map<RootPath, Landed>): (Landed & { at: RootPath }) | undefined {
  for (const anc of foldersOf(at)) {
    const hit = placed.get(anc);
    if (hit) return { ...hit, at: anc };
  }
  return undefined;
}

function isAdmin(p: RootPath): boolean {
  return p === ADMIN_DIR || p.startsWith(`${ADMIN_DIR}/`);
}

function intoAdmin(staged: StagedPackage, entry: ManifestEntry, at: RootPath): OvermergeError {
  return new OvermergeError(
    'E_UNSAFE_PATH',
    `${staged.archive}: member ${member(entry)} lands at '${displayPath(at)}', in overmerge's own folder /${ADMIN_DIR}; refusing it`,
    { op: 'plan', path: displayPath(at) },
  );
}

const member = (e: ManifestEntry): string => `'./${e.path}'`;

function writesThrough(staged: StagedPackage, entry: ManifestEntry, at: RootPath, through: Landed & { at: RootPath }): OvermergeError {
  const whose = through.staged === staged ? 'the archive' : `${through.staged.archive}`;
  const there = through.staged.entries.at(through.index);
  return new OvermergeError(
    'E_UNSAFE_PATH',
    `${staged.archive}: member ${member(entry)} lands at '${displayPath(at)}', beneath '${displayPath(through.at)}', where ${whose} places ` +
      `${there.type === 'symlink' ? 'symlink' : `a ${there.type}`} ${member(there)} ` +
      `(the root's directory symlinks join the two paths); refusing to write through it`,
    { op: 'plan', path: displayPath(at) },
  );
}

function noFolder(staged: StagedPackage, entry: ManifestEntry, parent: RootPath, d: DiskState): OvermergeError {
  const what = d.type === 'absent' ? 'does not exist' : `is a ${d.type}, not a folder`;
  return new OvermergeError(
    'E_FS',
    `${staged.archive}: member ${member(entry)} would go into '${displayPath(parent)}', which ${what} in the root ` +
      `(symlinks followed inside the root) and which the package does not ship`,
    { op: 'plan', path: displayPath(parent), errno: d.type === 'absent' ? 'ENOENT' : 'ENOTDIR' },
  );
}
