import * as fs from 'node:fs';
import { errnoOf, fsError, OvermergeError } from '../errors';
import { atomicWrite, fsyncDir, makeFoldersSync, readIfPresent, removeFolderSync, removeIfPresent, renameSync, writeDeferred, type DeferredSyncs } from '../fs/atomic-file';
import { adminPath, INFO_TMP_DIR, infoPath, type AdminDir } from './admindir';
import { corrupt } from './corrupt';
import { INFO_FORMAT_LEGACY, INFO_FORMAT_MULTIARCH, parseInfoFormat, splitInfoName } from './info-names';

/**
 * Reading and writing `info/`. A change to a package's info files is described first as data — the
 * complete wanted content of every file name it touches (`InfoState`) — and then applied; the same
 * function applies the state from before, which is the undo. Both are idempotent, so the engine can
 * journal the two states, apply, and after a crash apply either one again.
 *
 * Applying follows dpkg's order for installing a package (src/main/unpack.c):
 *   1. the `.list` is written as `PKG.list-new`, fsync'ed, renamed (atomic_file, no backup);
 *   2. the other files are staged in a folder beside info/ (dpkg uses `ADMIN/tmp.ci/`, where it extracts
 *      the control members; overmerge `ADMIN/tmp.ci.info/`, see admindir.ts), each fsync'ed, then renamed
 *      over `info/PKG.TYPE`; files that must go are unlinked;
 *   3. `info/` is fsync'ed.
 * With `defer` (an overmerge transaction), the fsyncs of steps 1–3 are left to the transaction's sync
 * before its commit record (DeferredSyncs).
 * dpkg does all this before it records the new version in status (the package stays half-installed with
 * the reinstreq flag until then); see dpkg-db.ts for what a crash in between looks like.
 */
export interface InfoFile {
  readonly mode: number;
  /** The file's bytes, base64: the state is plain JSON so that the engine can journal it as is. */
  readonly base64: string;
}

/** File name in info/ → its content, or null for "absent". */
export type InfoState = Readonly<Record<string, InfoFile | null>>;

/** info/format as dpkg reads it: 0 when absent, one more while a conversion is unfinished. */
export function readInfoFormat(admin: AdminDir): number {
  const file = infoPath(admin, 'format');
  const text = readIfPresent(file);
  let format = INFO_FORMAT_LEGACY;
  if (text !== null) {
    const n = parseInfoFormat(text.toString('latin1'));
    if (n === undefined) throw corrupt(file, undefined, `corrupt info database format file '${file}'`);
    format = n;
  }
  if (fs.existsSync(`${file}-new`)) format++;
  if (format > INFO_FORMAT_MULTIARCH) {
    throw corrupt(file, undefined, `info database format (${format}) is bogus or too new; try getting a newer dpkg`);
  }
  return format;
}

/** The info files present, by prefix (package name or name:arch) → types. A missing info/ is empty. */
export function listInfoFiles(admin: AdminDir): Map<string, Set<string>> {
  const dir = infoPath(admin);
  const out = new Map<string, Set<string>>();
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return out;
    throw fsError('read directory', err, dir);
  }
  for (const name of names) {
    const split = splitInfoName(name);
    if (!split) continue;
    let types = out.get(split.prefix);
    if (!types) out.set(split.prefix, (types = new Set()));
    types.add(split.type);
  }
  return out;
}

/** The current content of each of `names` in info/ (null when absent). */
export function snapshotInfo(admin: AdminDir, names: Iterable<string>): Record<string, InfoFile | null> {
  const out: Record<string, InfoFile | null> = {};
  for (const name of names) {
    const f = readRegular(infoPath(admin, name));
    out[name] = f && { mode: f.mode, base64: f.bytes.toString('base64') };
  }
  return out;
}

/** The bytes of `name` in info/, null when absent (what is not a regular file is refused, as by snapshotInfo). */
export function readInfoBytes(admin: AdminDir, name: string): Buffer | null {
  return readRegular(infoPath(admin, name))?.bytes ?? null;
}

function readRegular(file: string): { mode: number; bytes: Buffer } | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw fsError('stat', err, file);
    return null;
  }
  if (!st.isFile()) throw new OvermergeError('E_DPKG_DB', `${file}: not a regular file`, { op: 'read dpkg database', path: file });
  return { mode: st.mode & 0o7777, bytes: fs.readFileSync(file) };
}

/** Makes info/ hold exactly `state` for the names it lists (see the order above). */
export function applyInfoState(admin: AdminDir, state: InfoState, defer?: DeferredSyncs): void {
  const dir = infoPath(admin);
  makeFoldersSync(dir);
  const names = Object.keys(state);
  for (const name of names.filter((n) => n.endsWith('.list'))) {
    const f = state[name];
    if (f) atomicWrite(infoPath(admin, name), Buffer.from(f.base64, 'base64'), { mode: f.mode }, defer);
  }
  const staged = names.filter((n) => !n.endsWith('.list') && state[n] !== null);
  if (staged.length > 0) {
    const tmp = adminPath(admin, INFO_TMP_DIR);
    removeFolderSync(tmp);
    makeFoldersSync(tmp);
    for (const name of staged) writeDeferred(`${tmp}/${name}`, Buffer.from(state[name]!.base64, 'base64'), state[name]!.mode, defer);
    for (const name of staged) {
      renameSync(`${tmp}/${name}`, infoPath(admin, name));
      defer?.addFile(infoPath(admin, name));
    }
    removeFolderSync(tmp);
  }
  for (const name of names) if (state[name] === null) removeIfPresent(infoPath(admin, name));
  if (defer) defer.addDir(dir);
  else fsyncDir(dir);
}

/**
 * Writes info/format, as dpkg does when it finds none: format-new, fsync, rename, fsync. Only for a
 * database without `Multi-Arch: same` files under their bare names (the caller checks); those would first
 * need dpkg's conversion, which links each to its `name:arch` name.
 */
export function writeInfoFormat(admin: AdminDir, format: number): void {
  makeFoldersSync(infoPath(admin));
  atomicWrite(infoPath(admin, 'format'), Buffer.from(`${format}\n`));
}


