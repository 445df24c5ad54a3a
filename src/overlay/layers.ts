import { promises as fsp, readFileSync, statSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { OvermergeError, errnoOf, fsError } from '../errors';
import { isRootPath, type RootPath } from '../fs/rootpath';
import { mountContaining, parseMountInfo, pathInMount, type MountInfoEntry } from './mountinfo';
import { MODULE_PARAMETER_FILES, moduleDefaults, parseOverlayOptions, type OverlayOptions } from './options';

/**
 * Which overlay a root is on, read from this process's view of the system: /proc/self/mountinfo, the
 * overlay module's parameters, and the layer folders themselves. The parsing is in mountinfo.ts and
 * options.ts; this module only reads.
 */

export const MOUNTINFO = '/proc/self/mountinfo';
export const MODULE_PARAMETERS = '/sys/module/overlay/parameters';

export interface OverlayMount {
  /** The overlay's mount point, as this process sees it. */
  mountPoint: string;
  mountId: number;
  source: string;
  /** Where the root lies inside the overlay's merged tree ('' when the root is the overlay's own root). */
  rootOffset: RootPath;
  options: OverlayOptions;
  /** Writes are refused: the superblock or the mount is read-only, or there is no upper layer. */
  readOnly: boolean;
  /** Where the defaults of the features mountinfo does not print came from. */
  defaultsFrom: 'sysfs' | 'kconfig';
}

/** What a root is on: an overlay, or another filesystem (named so an error can say which). */
export type MountOfRoot = { kind: 'overlay'; overlay: OverlayMount } | { kind: 'other'; mount?: MountInfoEntry };

/** The mount that holds `rootHost` (absolute, realpath'd) and, if it is an overlay, its layers and features. */
export async function mountOfRoot(rootHost: string): Promise<MountOfRoot> {
  // Read synchronously: a page of /proc and one stat, asked at every transaction's start, waited for
  // behind whatever fills the thread pool then (a bootstrap's staging ahead) when asked through it.
  let text: string;
  let st: Stats;
  try {
    text = readFileSync(MOUNTINFO, 'utf8');
  } catch (err) {
    throw fsError('read', err, MOUNTINFO);
  }
  try {
    st = statSync(rootHost);
  } catch (err) {
    throw fsError('stat', err, rootHost);
  }
  const dev = { major: devMajor(st.dev), minor: devMinor(st.dev) };
  const mount = mountContaining(parseMountInfo(text), rootHost, dev);
  if (!mount || mount.fsType !== 'overlay') return { kind: 'other', mount };
  const params = await readModuleParameters();
  const options = parseOverlayOptions(mount.superOptions, moduleDefaults(params ?? {}));
  const offset = pathInMount(mount, rootHost).replace(/^\/+/, '');
  return {
    kind: 'overlay',
    overlay: {
      mountPoint: mount.mountPoint,
      mountId: mount.id,
      source: mount.source,
      rootOffset: (isRootPath(offset) ? offset : '') as RootPath,
      options,
      readOnly: options.readOnly || mount.mountOptions.includes('ro'),
      defaultsFrom: params ? 'sysfs' : 'kconfig',
    },
  };
}

/** Like mountOfRoot, but a root that is not on an overlay is an error the CLI prints as one line. */
export async function requireOverlay(rootHost: string): Promise<OverlayMount> {
  const m = await mountOfRoot(rootHost);
  if (m.kind === 'overlay') return m.overlay;
  const on = m.mount ? `: it is on ${m.mount.fsType} (${m.mount.source}) mounted at ${m.mount.mountPoint}` : '';
  throw new OvermergeError('E_NOT_OVERLAY', `${rootHost} is not on an overlay mount${on}`, {
    op: 'overlay status',
    path: rootHost,
    hint: '--root names the merged folder of an overlayfs mount',
  });
}

async function readModuleParameters(): Promise<Record<string, string> | undefined> {
  const out: Record<string, string> = {};
  let any = false;
  for (const name of MODULE_PARAMETER_FILES) {
    try {
      out[name] = await fsp.readFile(path.join(MODULE_PARAMETERS, name), 'utf8');
      any = true;
    } catch {
      // An older kernel lacks some; a missing one keeps the Kconfig default.
    }
  }
  return any ? out : undefined;
}

/** glibc's major()/minor() for a Node st_dev number. */
export function devMajor(dev: number): number {
  return ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
}

export function devMinor(dev: number): number {
  return (dev & 0xff) | ((dev >>> 12) & ~0xff);
}

export type LayerRole = 'upper' | 'lower' | 'data';

/** One layer folder as this process can reach it. */
export interface LayerDir {
  role: LayerRole;
  /** Position within its role: lower 0 is the topmost lower layer. */
  index: number;
  /** The path mountinfo gives: as the process that mounted the overlay saw it. */
  path: string;
  reachable: boolean;
  /** Why it is not reachable (or why it is doubtful). */
  why?: string;
  /** st_dev of the folder, when reachable. */
  dev?: number;
}

export interface Layers {
  upper?: LayerDir;
  lower: LayerDir[];
  data: LayerDir[];
  /** All reachable layers are on one filesystem: the kernel then ignores xino and does not print it. */
  sameFilesystem: boolean;
}

/**
 * Checks each layer folder. mountinfo's layer paths are those the mounting process saw — in its own mount
 * namespace, perhaps chrooted — so from here a path may be missing or, worse, lead somewhere else. The
 * upper layer is checked against the overlay itself: statfs of the merged root answers with the upper
 * filesystem's numbers, so a folder whose filesystem reports other numbers is not this overlay's upper.
 */
export async function reachLayers(overlay: OverlayMount): Promise<Layers> {
  const { layers } = overlay.options;
  const check = async (role: LayerRole, index: number, p: string): Promise<LayerDir> => {
    const base = { role, index, path: p };
    if (!path.isAbsolute(p)) return { ...base, reachable: false, why: 'not an absolute path' };
    try {
      const st = await fsp.stat(p);
      if (!st.isDirectory()) return { ...base, reachable: false, why: 'not a directory here' };
      return { ...base, reachable: true, dev: st.dev };
    } catch (err) {
      const errno = errnoOf(err);
      return { ...base, reachable: false, why: errno === 'ENOENT' ? 'no such folder in this mount namespace' : `cannot stat it: ${errno ?? String(err)}` };
    }
  };
  const lower = await Promise.all(layers.lower.map((p, i) => check('lower', i, p)));
  const data = await Promise.all(layers.data.map((p, i) => check('data', i, p)));
  let upper = layers.upper === undefined ? undefined : await check('upper', 0, layers.upper);
  if (upper?.reachable && !(await sameStatfs(upper.path, overlay.mountPoint))) {
    upper = { ...upper, reachable: false, why: 'the folder at that path is on another filesystem than the overlay writes to (the path is as the mounting namespace saw it)' };
  }
  const all = [upper, ...lower, ...data].filter((l): l is LayerDir => l !== undefined);
  const devs = new Set(all.map((l) => l.dev));
  return { upper, lower, data, sameFilesystem: all.every((l) => l.reachable) && devs.size === 1 };
}

async function sameStatfs(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([fsp.statfs(a), fsp.statfs(b)]);
    return x.bsize === y.bsize && x.blocks === y.blocks && x.files === y.files;
  } catch {
    return false;
  }
}

/** The layers where.ts reads; refuses, naming the layer and why, when one of them cannot be read from here. */
export function readableLayers(l: Layers): { upper?: LayerDir; lower: LayerDir[]; data: LayerDir[] } {
  for (const layer of [l.upper, ...l.lower, ...l.data]) {
    if (layer && !layer.reachable) {
      throw new OvermergeError('E_LAYER_UNREACHABLE', `cannot read the overlay's ${layerName(layer)} ${layer.path}: ${layer.why}`, {
        op: 'read overlay layers',
        path: layer.path,
        hint: 'run overmerge in the mount namespace that mounted the overlay (e.g. nsenter -m -t PID), where its layer paths lead to the layers',
      });
    }
  }
  return l;
}

export function layerName(l: Pick<LayerDir, 'role' | 'index'>): string {
  return l.role === 'upper' ? 'upper layer' : `${l.role === 'lower' ? 'lower' : 'data-only'} layer ${l.index}`;
}
