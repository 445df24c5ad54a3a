import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp, type BigIntStats, type Stats } from 'node:fs';
import * as path from 'node:path';
import type { Db } from '../../db/db';
import { withDetachedDatabase } from '../../db/open';
import { fsError, OvermergeError } from '../../errors';
import { hostPathOf, type HostPath } from '../../fs/host-path';
import { readOwnXattrs } from '../../fs/xattr';
import { hostPath, joinRootPath, parentOf, recordedRootPath, type Root, type RootPath } from '../../fs/rootpath';
import { kindOf } from '../layer-entry';
import type { LayerDir } from '../layers';
import { KCONFIG_DEFAULTS, parseOverlayOptions, splitLowerdir, type OverlayFeatures } from '../options';
import { OverlayView } from '../where';
import type { EntryMetadata, LowerEntry, PackageRecord, PackageSet, ReconcileFacts, UpperEntry } from './facts';
import { packageKey } from './facts';
import { originInode, parseOrigin } from './origin';
import { DPKG_ADMIN, readDpkg, type AdminInLayer } from './dpkg-gather';
import { allPackages, dirsToList, filesToHash, pathsToAsk } from './plan';

/**
 * Reads what `overlay reconcile` decides from: the upper layer folder entry by entry, the new lower layers
 * at the paths that matter (through where.ts, as overlayfs would merge them), and the overmerge databases
 * of both (read detached: nothing is written beside them). Read-only: nothing here changes a layer.
 */

/** overmerge's database inside a root (and so inside each layer). */
export const DB_PATH = 'var/lib/overmerge/db.sqlite' as RootPath;

/** dpkg's files the file rules leave alone: status is rewritten as a whole (dpkg-status.ts), the rest is dpkg's at run time. */
const DPKG_FILES: readonly RootPath[] = ['status', 'status-old', 'lock', 'lock-frontend', 'updates'].map((n) => `${DPKG_ADMIN}/${n}` as RootPath);

/** overmerge's own files in a layer: the reconcile leaves them alone (the database is rewritten by the commit). */
export const ADMIN_FILES: readonly RootPath[] = [DB_PATH, `${DB_PATH}-wal`, `${DB_PATH}-shm`, 'var/lib/overmerge/lock', 'var/lib/overmerge/staging', 'var/lib/overmerge/backups'] as RootPath[];

export interface ReconcileLayers {
  upper: Root;
  lower: LayerDir[];
  data: LayerDir[];
}

export interface Gathered {
  facts: ReconcileFacts;
  /** `trusted.overlay.` or, for layers of a `userxattr` mount, `user.overlay.`. */
  prefix: string;
  /** Where the databases are (host paths), when there. */
  upperDbFile?: HostPath;
  imageDbFile?: HostPath;
}

/**
 * The layers a command line names: `--upper DIR` and `--lower DIR[:DIR...]` (topmost first; `::` starts
 * data-only layers, as in overlayfs' lowerdir). Each must be a folder; the upper may not be among the lowers.
 */
export async function openLayers(upperArg: string, lowerArg: string): Promise<ReconcileLayers> {
  const split = splitLowerdir(lowerArg);
  if (split.lower.length === 0) throw usage('--lower names no folder');
  const upperHost = await folder(upperArg, '--upper');
  const lower: LayerDir[] = [];
  const data: LayerDir[] = [];
  for (const [role, list, into] of [['lower', split.lower, lower], ['data', split.data, data]] as const) {
    for (const [index, p] of list.entries()) {
      const host = await folder(p, '--lower');
      if (host === upperHost) throw usage(`${p} is the upper layer; --lower names the new image's layers`);
      const st = await fsp.stat(host);
      into.push({ role, index, path: host, reachable: true, dev: st.dev });
    }
  }
  return { upper: { host: upperHost }, lower, data };
}

async function folder(p: string, option: string): Promise<HostPath> {
  if (p === '') throw usage(`${option} names an empty path`);
  let real: string;
  try {
    real = await fsp.realpath(p);
  } catch (err) {
    throw fsError(`open ${option} folder`, err, p);
  }
  if (!(await fsp.stat(real)).isDirectory()) throw new OvermergeError('E_FS', `${p} (${option}) is not a folder`, { op: 'open layer', path: p });
  return hostPathOf(real);
}

function usage(message: string): OvermergeError {
  return new OvermergeError('E_USAGE', message, { op: 'overlay reconcile' });
}

/**
 * Everything the planner needs. `upperDb` is the upper layer's database when the caller holds it open
 * (for --apply, the writer's connection); otherwise it is read detached.
 */
export async function gatherFacts(layers: ReconcileLayers, opts: { upperDb?: Db } = {}): Promise<Gathered> {
  const raw = await walkUpper(layers.upper.host);
  const prefix = detectPrefix(raw);
  const lowerView = new OverlayView({ lower: layers.lower, data: layers.data }, featuresFor(prefix));
  const fsMagic = await statfsType(layers.lower[0].path);
  const upper = raw.map((r) => upperEntry(r, prefix, fsMagic));
  markAlternativeWhiteouts(upper, new Set(raw.filter((r) => r.xattrs.some(([n]) => n === `${prefix}whiteout`)).map((r) => r.path)));
  const upperDbFile = await existing(hostPath(layers.upper, DB_PATH));
  const imageDbFile = await lowerFile(lowerView, layers, DB_PATH);
  const upperDb = opts.upperDb ? readPackages(opts.upperDb) : upperDbFile ? await withDetachedDatabase(upperDbFile, readPackages) : undefined;
  const imageDb = imageDbFile ? await withDetachedDatabase(imageDbFile, readPackages) : undefined;
  const imageStatus = await lowerFile(lowerView, layers, `${DPKG_ADMIN}/status` as RootPath);
  const imageAdmin: AdminInLayer | undefined = imageStatus ? { layer: layerOf(layers, imageStatus), admin: hostPathOf(path.dirname(imageStatus)) } : undefined;
  const dpkg = await readDpkg({ layer: layers.upper.host, admin: hostPath(layers.upper, DPKG_ADMIN) }, imageAdmin);
  const all = allPackages({ upperDb, imageDb, dpkg });
  const lower = new Map<RootPath, LowerEntry>();
  for (const p of pathsToAsk(upper, all.upper, all.image)) {
    const l = await lowerEntry(lowerView, layers, p);
    if (l) lower.set(p, l);
  }
  const lowerChildren = new Map<RootPath, string[]>();
  for (const d of dirsToList(all.upper, all.image)) {
    if (lower.get(d)?.kind === 'directory') lowerChildren.set(d, await listLower(lowerView, layers, d));
  }
  const hash = filesToHash(upper, lower, all.upper, all.image);
  const byPath = new Map(upper.map((e) => [e.path, e]));
  for (const p of hash.upper) Object.assign(byPath.get(p)!, await digests(hostPath(layers.upper, p)));
  for (const p of hash.lower) {
    const l = lower.get(p)!;
    Object.assign(l, await digests(lowerHost(layers, l)));
  }
  return {
    facts: { upper, lower, lowerChildren, upperDb, imageDb, leaveAlone: dpkg ? [...ADMIN_FILES, ...DPKG_FILES] : ADMIN_FILES, dpkg },
    prefix,
    upperDbFile,
    imageDbFile,
  };
}

// ---- the upper layer -------------------------------------------------------------------------------

interface RawEntry {
  path: RootPath;
  st: BigIntStats;
  xattrs: Array<[string, Buffer]>;
  target?: string;
}

/** Every entry of the upper layer folder, parents before children, names in order. */
async function walkUpper(top: HostPath): Promise<RawEntry[]> {
  const out: RawEntry[] = [];
  const visit = async (p: RootPath): Promise<void> => {
    const host = hostPath({ host: top }, p);
    const st = await fsp.lstat(host, { bigint: true }).catch((err: unknown) => {
      throw fsError('read upper layer entry', err, host);
    });
    const entry: RawEntry = { path: p, st, xattrs: await readOwnXattrs(host) };
    if (st.isSymbolicLink()) entry.target = await fsp.readlink(host);
    out.push(entry);
    if (!st.isDirectory()) return;
    const names = await fsp.readdir(host).catch((err: unknown) => {
      throw fsError('read upper layer folder', err, host);
    });
    for (const n of names.sort()) await visit(joinRootPath(p, n));
  };
  await visit('' as RootPath);
  return out;
}

/** The layers of a `userxattr` mount carry `user.overlay.*`; all others `trusted.overlay.*`. */
function detectPrefix(entries: readonly RawEntry[]): string {
  let user = false;
  for (const e of entries) {
    for (const [n] of e.xattrs) {
      if (n.startsWith('trusted.overlay.')) return 'trusted.overlay.';
      if (n.startsWith('user.overlay.')) user = true;
    }
  }
  return user ? 'user.overlay.' : 'trusted.overlay.';
}

function featuresFor(prefix: string): Pick<OverlayFeatures, 'userxattr' | 'redirectDir' | 'metacopy'> {
  const f = parseOverlayOptions([], KCONFIG_DEFAULTS).features;
  return { userxattr: { value: prefix === 'user.overlay.', source: 'default' }, redirectDir: f.redirectDir, metacopy: { value: true, source: 'default' } };
}

function upperEntry(r: RawEntry, prefix: string, fsMagic: number | undefined): UpperEntry {
  const overlay = new Map<string, Buffer>();
  const others: Record<string, string> = {};
  for (const [n, v] of r.xattrs) {
    if (n.startsWith(prefix)) overlay.set(n.slice(prefix.length), v);
    else if (!n.startsWith('trusted.overlay.') && !n.startsWith('user.overlay.')) others[n] = v.toString('hex');
  }
  const kind = kindOf(r.st as unknown as Stats);
  const e: UpperEntry = {
    ...metadataOf(r.st, others, r.target),
    path: r.path,
    whiteout: kind === 'char' && r.st.rdev === 0n,
    metacopy: kind === 'file' && overlay.has('metacopy'),
    otherOverlayAttrs: [...overlay.keys()].filter((k) => !['opaque', 'redirect', 'metacopy', 'origin'].includes(k)),
    bytes: Number(r.st.blocks) * 512,
    inode: `${r.st.dev}:${r.st.ino}`,
    nlink: Number(r.st.nlink),
  };
  const opaque = overlay.get('opaque')?.toString();
  if (kind === 'directory' && (opaque === 'y' || opaque === 'x')) e.opaque = opaque;
  const redirect = overlay.get('redirect');
  if (redirect !== undefined && (kind === 'directory' || e.metacopy)) e.redirect = redirect.toString();
  const origin = overlay.get('origin');
  if (origin !== undefined) {
    const handle = parseOrigin(origin);
    e.origin = { raw: origin.toString('hex'), handle, inode: originInode(handle, fsMagic) };
  }
  return e;
}

function metadataOf(st: BigIntStats, xattrs: Record<string, string>, target: string | undefined): EntryMetadata {
  const m: EntryMetadata = {
    kind: kindOf(st as unknown as Stats),
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: Number(st.size),
    mtimeNs: st.mtimeNs.toString(),
    rdev: Number(st.rdev),
    xattrs,
  };
  if (target !== undefined) m.target = target;
  return m;
}

/** An alternative whiteout (`overlay.whiteout` on an empty file in an `opaque=x` folder) is a whiteout too. */
function markAlternativeWhiteouts(upper: UpperEntry[], whiteoutAttr: ReadonlySet<RootPath>): void {
  const byPath = new Map(upper.map((e) => [e.path, e]));
  for (const p of whiteoutAttr) {
    const e = byPath.get(p);
    if (e && e.kind === 'file' && e.size === 0 && byPath.get(parentOf(p))?.opaque === 'x') e.whiteout = true;
  }
}

// ---- the new lower layers ----------------------------------------------------------------------------

async function lowerEntry(view: OverlayView, layers: ReconcileLayers, p: RootPath): Promise<LowerEntry | undefined> {
  const w = await view.where(p);
  if (w.class !== 'lower' || !w.from) return undefined;
  const layer = layers.lower[w.from.index];
  const host = hostPath({ host: hostPathOf(layer.path) }, w.from.path);
  const st = await fsp.lstat(host, { bigint: true }).catch((err: unknown) => {
    throw fsError('read lower layer entry', err, host);
  });
  const xattrs: Record<string, string> = {};
  for (const [n, v] of await readOwnXattrs(host)) if (!n.startsWith('trusted.overlay.') && !n.startsWith('user.overlay.')) xattrs[n] = v.toString('hex');
  const target = st.isSymbolicLink() ? await fsp.readlink(host) : undefined;
  return { ...metadataOf(st, xattrs, target), path: w.from.path, ino: Number(st.ino), layer: w.from.index };
}

/** The lower layer folder a host path found in the lower layers is in. */
function layerOf(layers: ReconcileLayers, host: HostPath): HostPath {
  const l = layers.lower.find((x) => host.startsWith(`${x.path}/`));
  return hostPathOf(l!.path);
}

function lowerHost(layers: ReconcileLayers, l: LowerEntry): HostPath {
  return hostPath({ host: hostPathOf(layers.lower[l.layer].path) }, l.path);
}

async function lowerFile(view: OverlayView, layers: ReconcileLayers, p: RootPath): Promise<HostPath | undefined> {
  const l = await lowerEntry(view, layers, p);
  return l?.kind === 'file' ? lowerHost(layers, l) : undefined;
}

/** The names the new lower shows in folder `d` (whiteouts between lower layers applied). */
async function listLower(view: OverlayView, layers: ReconcileLayers, d: RootPath): Promise<string[]> {
  const names = new Set<string>();
  for (const layer of layers.lower) {
    const host = hostPath({ host: hostPathOf(layer.path) }, d);
    const found = await fsp.readdir(host).catch(() => [] as string[]);
    for (const n of found) names.add(n);
  }
  const visible: string[] = [];
  for (const n of [...names].sort()) if ((await view.where(joinRootPath(d, n))).class === 'lower') visible.push(n);
  return visible;
}

async function statfsType(p: string): Promise<number | undefined> {
  try {
    return (await fsp.statfs(p)).type;
  } catch {
    return undefined;
  }
}

async function existing(p: HostPath): Promise<HostPath | undefined> {
  const st = await fsp.lstat(p).catch(() => undefined);
  return st?.isFile() ? p : undefined;
}

async function digests(host: string): Promise<{ sha256: string; md5: string }> {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  try {
    for await (const chunk of createReadStream(host)) {
      sha.update(chunk as Buffer);
      md5.update(chunk as Buffer);
    }
  } catch (err) {
    throw fsError('read', err, host);
  }
  return { sha256: sha.digest('hex'), md5: md5.digest('hex') };
}

// ---- databases -------------------------------------------------------------------------------------------

/** Every package of a database with its files. */
export function readPackages(db: Db): PackageSet {
  const out = new Map<string, PackageRecord>();
  for (const r of db.packages.list()) {
    const files = [...db.files.filesOf(r.id)];
    for (const f of files) recordedRootPath(f.path);
    out.set(packageKey(r), { name: r.name, architecture: r.architecture, version: r.version, status: r.status, control: r.control, installedSize: r.installedSize, files });
  }
  return out;
}
