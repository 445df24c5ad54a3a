import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { formatVersion } from '../../control/version';
import type { FileRow } from '../../db/types';
import { nativeArchOf } from '../../dpkg/arch';
import { byteString, toText, type ByteString } from '../../dpkg/bytes';
import { infoPrefix, parseFileList, parseInfoFormat, splitInfoName, INFO_FORMAT_LEGACY } from '../../dpkg/info-names';
import type { PkgEntry } from '../../dpkg/model';
import { readEntries } from '../../dpkg/status-file';
import { OvermergeError } from '../../errors';
import type { HostPath } from '../../fs/host-path';
import { hostJoin } from '../../fs/host-path';
import { isRootPath, type RootPath } from '../../fs/rootpath';
import { dpkgKey, type DpkgFacts, type PackageRecord } from './facts';

/**
 * dpkg's database in the layers, read for `overlay reconcile` (read-only). The upper layer's `status` is
 * the live system's whole status file (copied up at its first change); its `info/` holds only what the
 * live system wrote: the info files of the packages it installed or upgraded. That is how a package
 * touched on the live system is told from one the old image had: its `.list` is in the upper layer. Those
 * are the upper layer's packages; every package of the new image's status is the image's; a package of the
 * upper's status that nobody touched and the image lacks was the old image's, and goes with it.
 *
 * Each package becomes a PackageRecord like overmerge's own (files from its `.list`, each with its type as
 * the layer holds it, md5sums, conffiles, and its info files as files of its own), so the same planner
 * decides dpkg's packages and overmerge's.
 */

export const DPKG_ADMIN = 'var/lib/dpkg' as RootPath;

/** Where dpkg's admin folder is in one layer (a host path), if that layer has a status file there. */
export interface AdminInLayer {
  /** The layer's top folder. */
  layer: HostPath;
  admin: HostPath;
}

export async function readDpkg(upper: AdminInLayer, image: AdminInLayer | undefined): Promise<DpkgFacts | undefined> {
  const upperStatusText = await readText(hostJoin(upper.admin, 'status'));
  if (upperStatusText === undefined) return undefined;
  const pending = (await fsp.readdir(hostJoin(upper.admin, 'updates')).catch(() => [] as string[])).filter((n) => /^[0-9]+$/.test(n));
  if (pending.length > 0) {
    throw new OvermergeError('E_UNFINISHED', `dpkg's database in the upper layer has ${pending.length} pending update entries: dpkg was interrupted on the live system`, {
      op: 'overlay reconcile',
      path: hostJoin(upper.admin, 'updates'),
      hint: 'boot the old image and run `dpkg --configure -a` there, then reconcile',
    });
  }
  const nativeArch = nativeArchOf();
  const upperStatus = readEntries(upperStatusText, hostJoin(upper.admin, 'status'), 'status').entries.map((e) => e.entry);
  const imageStatusText = image ? await readText(hostJoin(image.admin, 'status')) : undefined;
  const imageStatus = image && imageStatusText !== undefined ? readEntries(imageStatusText, hostJoin(image.admin, 'status'), 'status').entries.map((e) => e.entry) : [];
  const layers = [upper, ...(image ? [image] : [])];
  const upperSet = new Map<string, PackageRecord>();
  const upperFormat = (await infoFormat(upper.admin)) ?? (image ? await infoFormat(image.admin) : undefined) ?? INFO_FORMAT_LEGACY;
  const upperInfo = await infoNames(upper.admin);
  for (const e of upperStatus) {
    const prefix = infoPrefix({ name: e.name, arch: e.arch, multiArch: e.multiArch }, upperFormat);
    if (!upperInfo.has(`${prefix}.list`)) continue;
    upperSet.set(dpkgKey(e.name, e.arch), await record(e, prefix, upper, upperInfo, layers));
  }
  const imageSet = new Map<string, PackageRecord>();
  if (image) {
    const format = (await infoFormat(image.admin)) ?? INFO_FORMAT_LEGACY;
    const info = await infoNames(image.admin);
    for (const e of imageStatus) {
      const prefix = infoPrefix({ name: e.name, arch: e.arch, multiArch: e.multiArch }, format);
      imageSet.set(dpkgKey(e.name, e.arch), await record(e, prefix, image, info, [image]));
    }
  }
  return { upper: upperSet, image: imageSet, upperStatus, imageStatus, imageStatusText, upperStatusText, nativeArch };
}

/** A package as the planner's records have it: its `.list` paths typed as `where` holds them, its info files, conffiles. */
async function record(e: PkgEntry, prefix: string, at: AdminInLayer, info: ReadonlySet<string>, where: readonly AdminInLayer[]): Promise<PackageRecord> {
  const listed = await listOf(hostJoin(at.admin, 'info', `${prefix}.list`));
  const md5 = await md5sumsOf(hostJoin(at.admin, 'info', `${prefix}.md5sums`));
  const conffiles = new Map(e.conffiles.map((c) => [rootPathOf(toText(c.path)), toText(c.hash)]));
  const files: FileRow[] = [];
  for (const p of listed) {
    const kind = await kindIn(where, p);
    const c = conffiles.get(p);
    files.push(row(p, kind.type, { md5: md5.get(p) ?? (c && /^[0-9a-f]{32}$/.test(c) ? c : null), linkTarget: kind.target ?? null, conffile: c !== undefined, conffileHash: c ?? null }));
  }
  const adminRel = path.relative(at.layer, at.admin);
  for (const name of info) {
    if (splitInfoName(name)?.prefix !== prefix) continue;
    files.push(row(`${adminRel}/info/${name}` as RootPath, 'file', {}));
  }
  const version = e.version ? toText(formatVersion(e.version) as ByteString) : '';
  return { name: toText(e.name), architecture: toText(e.arch), version, status: e.status.state, control: '', installedSize: null, files, db: 'dpkg' };
}

function row(p: RootPath, type: FileRow['type'], extra: Partial<FileRow>): FileRow {
  return { id: 0, packageId: 0, path: p, type, mode: 0, uid: 0, gid: 0, size: 0, sha256: null, md5: null, mtime: null, linkTarget: null, devMajor: null, devMinor: null, conffile: false, conffileHash: null, ...extra };
}

/** A `.list` path (`/usr/bin/x`, `/.`) as a root path; undefined for the root and for names that cannot be one. */
function rootPathOf(p: string): RootPath {
  return p.replace(/^\/+/, '').replace(/\/+$/, '') as RootPath;
}

async function listOf(file: HostPath): Promise<RootPath[]> {
  const text = await readText(file);
  if (text === undefined) return [];
  return parseFileList(text)
    .map((p) => rootPathOf(toText(p)))
    .filter((p) => p !== '' && p !== '.' && isRootPath(p));
}

async function md5sumsOf(file: HostPath): Promise<Map<RootPath, string>> {
  const out = new Map<RootPath, string>();
  const text = await readText(file);
  for (const line of toText(text ?? ('' as ByteString)).split('\n')) {
    const m = /^([0-9a-f]{32}) [ *]?(.+)$/.exec(line);
    if (m) out.set(rootPathOf(m[2]), m[1]);
  }
  return out;
}

/** What the first of `layers` that has `p` holds there (a whiteout or nothing: a file, to be judged by content). */
async function kindIn(layers: readonly AdminInLayer[], p: RootPath): Promise<{ type: FileRow['type']; target?: string }> {
  for (const l of layers) {
    const host = hostJoin(l.layer, ...p.split('/'));
    const st = await fsp.lstat(host).catch(() => undefined);
    if (!st || (st.isCharacterDevice() && st.rdev === 0)) continue;
    if (st.isDirectory()) return { type: 'directory' };
    if (st.isSymbolicLink()) return { type: 'symlink', target: await fsp.readlink(host) };
    return { type: 'file' };
  }
  return { type: 'file' };
}

async function infoFormat(admin: HostPath): Promise<number | undefined> {
  const text = await readText(hostJoin(admin, 'info', 'format'));
  return text === undefined ? undefined : parseInfoFormat(toText(text));
}

/** The names in a layer's info/ folder that are files (whiteouts left out). */
async function infoNames(admin: HostPath): Promise<Set<string>> {
  const dir = hostJoin(admin, 'info');
  const out = new Set<string>();
  for (const e of await fsp.readdir(dir, { withFileTypes: true }).catch(() => [])) if (e.isFile()) out.add(e.name);
  return out;
}

async function readText(file: HostPath): Promise<ByteString | undefined> {
  try {
    return byteString(await fsp.readFile(file));
  } catch {
    return undefined;
  }
}
