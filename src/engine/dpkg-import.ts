import { createHash } from 'node:crypto';
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { formatParagraph } from '../control/deb822';
import { Paragraph } from '../control/paragraph';
import type { Db } from '../db/db';
import type { FileInput, PackageStatus } from '../db/types';
import type { DpkgDb, DpkgPackage } from '../dpkg/dpkg-db';
import { errnoOf, fsError } from '../errors';
import { resolveParentInRoot } from '../fs/resolve-in-root';
import { hostPath, joinRootPath, parseRootPath, ROOT_ITSELF, type Root, type RootPath } from '../fs/rootpath';
import type { EntryType } from '../model/entry';
import type { Plan } from './plan-model';

/**
 * dpkg's database → overmerge's: the packages dpkg, apt or a maintainer script installed, changed or
 * removed behind overmerge's back. Each package's stanza is fingerprinted; only the packages whose
 * fingerprint differs from the one overmerge recorded (when it last wrote or read that stanza) are read
 * again — their file lists from info/PKG.list, the files' metadata from the root itself, md5 from
 * info/PKG.md5sums, conffiles from the stanza — and packages dpkg no longer has are forgotten. An
 * unchanged database costs a fingerprint per package, no file read.
 *
 * Where the two disagree, dpkg's database wins: it is the one apt and every other tool read, and overmerge
 * writes each of its own changes there first (dpkg-export.ts), so a difference can only come from them.
 */
export interface ImportReport {
  /** `name:arch` of packages read again from dpkg's database. */
  imported: string[];
  /** `name:arch` of packages dpkg no longer has, forgotten. */
  forgotten: string[];
}

export async function importFromDpkg(db: Db, dpkg: DpkgDb, root: Root): Promise<ImportReport> {
  dpkg.refresh();
  const report: ImportReport = { imported: [], forgotten: [] };
  const fingerprints = db.dpkgMirror.fingerprints();
  const ours = new Map(db.packages.list().map((p) => [`${p.name}:${p.architecture}`, p]));
  const seen = new Set<string>();
  for (const p of dpkg.packages()) {
    if (p.status.state === 'not-installed') continue;
    const k = `${p.name}:${archOf(p)}`;
    seen.add(k);
    const fp = dpkgFingerprint(p);
    const row = ours.get(k);
    if (row !== undefined && fingerprints.get(row.id) === fp) continue;
    const files = await filesOf(dpkg, p, root);
    db.transaction(() => {
      const id = db.packages.upsert(
        { name: p.name, architecture: archOf(p), version: p.version ?? '', status: p.status.state as PackageStatus, control: controlText(p), installedSize: installedSize(p) },
        null,
      );
      db.files.deleteFilesOf(id);
      db.files.insertFiles(id, files);
      db.dpkgMirror.set(id, fp);
    });
    report.imported.push(k);
  }
  for (const [k, row] of ours) {
    if (seen.has(k)) continue;
    db.transaction(() => {
      db.files.deleteFilesOf(row.id);
      db.packages.delete(row.id);
    });
    report.forgotten.push(k);
  }
  return report;
}

/**
 * After a commit: the fingerprints of the stanzas this transaction wrote, so that the next command does
 * not take overmerge's own changes for dpkg's. Part of the commit's SQLite transaction.
 */
export function recordDpkgFingerprints(db: Db, dpkg: DpkgDb, plan: Plan): void {
  for (const rec of plan.records) {
    const row = db.packages.get(rec.ref.name, rec.ref.architecture);
    const now = dpkg.get(rec.ref.name, rec.ref.architecture);
    if (row !== undefined && now !== undefined) db.dpkgMirror.set(row.id, dpkgFingerprint(now));
  }
}

/** A stanza's fingerprint: its fields as dpkg's database holds them. */
export function dpkgFingerprint(p: DpkgPackage): string {
  const para = p.paragraph;
  let fp = fingerprints.get(para);
  if (fp === undefined) {
    fp = createHash('sha256').update(JSON.stringify(para.fields)).digest('hex');
    fingerprints.set(para, fp);
  }
  return fp;
}

/**
 * A memo by the paragraph itself: dpkg's database makes each stanza's paragraph once and freezes it
 * (package-view.ts), and every transaction fingerprints every installed package (importFromDpkg).
 */
const fingerprints = new WeakMap<Paragraph, string>();

/** dpkg gives an instance without an architecture '' (very old packages): overmerge's rows need one. */
function archOf(p: DpkgPackage): string {
  return p.arch === '' ? 'all' : p.arch;
}

/** The stanza's control fields: everything but the state dpkg keeps beside them. */
const STATE_FIELDS = new Set(['status', 'conffiles', 'config-version', 'triggers-pending', 'triggers-awaited']);

function controlText(p: DpkgPackage): string {
  return formatParagraph(new Paragraph(p.paragraph.fields.filter(([n]) => !STATE_FIELDS.has(n.toLowerCase()))));
}

function installedSize(p: DpkgPackage): number | null {
  const n = Number(p.paragraph.get('Installed-Size') ?? '');
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * The package's rows: each path of its `.list` where it lands in the root (directory symlinks followed, as
 * overmerge records paths), with what the root holds there now.
 */
async function filesOf(dpkg: DpkgDb, p: DpkgPackage, root: Root): Promise<FileInput[]> {
  const ref = { name: p.name, arch: p.arch };
  const md5 = md5sumsOf(dpkg.readInfoFile(ref, 'md5sums'));
  const conffiles = new Map(p.conffiles.map((c) => [c.path, c.hash]));
  const rows = new Map<RootPath, FileInput>();
  for (const listed of dpkg.files(ref)) {
    const shipped = listed === '/.' ? ROOT_ITSELF : parseRootPath(listed);
    const at = shipped === ROOT_ITSELF ? ROOT_ITSELF : await landing(root, shipped);
    if (at === undefined || rows.has(at)) continue;
    const st = lstatOrUndefined(hostPath(root, at));
    const hash = conffiles.get(listed);
    rows.set(at, {
      path: at,
      type: st ? typeOf(st) : 'file',
      mode: st ? st.mode & 0o7777 : 0,
      uid: st?.uid ?? 0,
      gid: st?.gid ?? 0,
      size: st?.isFile() ? st.size : 0,
      mtime: st ? Math.floor(st.mtimeMs / 1000) : null,
      md5: md5.get(listed.slice(1)) ?? (hash !== undefined && hash !== 'newconffile' ? hash : null),
      linkTarget: st?.isSymbolicLink() ? readlinkSync(hostPath(root, at)) : null,
      conffile: hash !== undefined,
      conffileHash: hash === undefined || hash === 'newconffile' ? null : hash,
    });
  }
  return [...rows.values()];
}

/** Where a shipped path lands: its folder resolved inside the root (merged /usr), or undefined if it cannot. */
async function landing(root: Root, shipped: RootPath): Promise<RootPath | undefined> {
  try {
    const { parent, name } = await resolveParentInRoot(root, shipped);
    return joinRootPath(parent, name);
  } catch {
    return undefined; // a parent that is not a folder: the path is not there, whatever the list says
  }
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p, { throwIfNoEntry: false });
  } catch (err) {
    if (errnoOf(err) === 'ENOTDIR') return undefined;
    throw fsError('inspect', err, p);
  }
}

function typeOf(st: Stats): EntryType {
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  return 'file';
}

/** info/PKG.md5sums: `HASH  path` (path without its leading slash), by path. */
function md5sumsOf(data: Buffer | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (data?.toString('utf8') ?? '').split('\n')) {
    const m = /^([0-9a-f]{32}) [ *]?(.+)$/.exec(line);
    if (m) out.set(m[2].replace(/^\.?\//, ''), m[1]);
  }
  return out;
}
