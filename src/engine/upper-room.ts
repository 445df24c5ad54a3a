import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { OvermergeError } from '../errors';
import type { PlaceMode } from '../fs/place';
import { rootPathFromHost, type RootPath } from '../fs/rootpath';
import { TMPFS_MAGIC, upperFreeSpace, type UpperFree } from '../overlay/free-space';
import { mountOfRoot, reachLayers, type Layers, type OverlayMount } from '../overlay/layers';
import { upperSpaceFacts } from '../overlay/upper-probe';
import { databaseGrowth, dpkgDatabaseGrowth, estimateUpperSpace, type DatabaseFacts, type UpperCause, type UpperSpaceEstimate } from '../overlay/upper-space';
import { OverlayView } from '../overlay/where';
import type { Writer } from './context';
import type { Plan } from './plan-model';
import { stepCount, stepsOf } from './plan-steps';
import { formatBytes } from './space';

/**
 * The upper-space pre-flight of a transaction on an overlay root: what its plan will write into the upper
 * layer (overlay/upper-space.ts: new files, copy-ups, directories copied aside, whiteouts, the databases)
 * against the room the upper layer's filesystem has, so that a transaction that cannot fit is refused
 * before anything changes instead of rolled back from ENOSPC halfway through.
 */

export interface UpperSpaceReport {
  estimate: UpperSpaceEstimate;
  free: UpperFree;
  /** Bytes the transaction may use there: free blocks, those reserved for root only when running as root. */
  room: number;
  /** Of the estimate, what is still to be written: all of it before staging, less the staged bytes after. */
  need: number;
  /** The upper layer's folder, as mountinfo names it. */
  upper: string;
}

/** What a root is, for the pre-flight: not an overlay, an overlay whose layers cannot be read from here, or one to measure. */
export type UpperRoom =
  | { kind: 'not-overlay' }
  | { kind: 'unreadable'; why: string }
  | { kind: 'overlay'; report: (plan: Plan, staged: boolean) => Promise<UpperSpaceReport> };

export async function upperRoomOf(w: Writer, mode: PlaceMode): Promise<UpperRoom> {
  let m: Awaited<ReturnType<typeof mountOfRoot>>;
  try {
    m = await mountOfRoot(w.loc.root.host);
  } catch (err) {
    // Without /proc (a bare chroot) nothing says what the root is on: the transaction goes on unmeasured.
    return { kind: 'unreadable', why: err instanceof Error ? err.message : String(err) };
  }
  if (m.kind !== 'overlay') return { kind: 'not-overlay' };
  const layers = await reachLayers(m.overlay);
  const away = [layers.upper, ...layers.lower, ...layers.data].find((l) => l !== undefined && !l.reachable);
  if (!layers.upper) return { kind: 'unreadable', why: 'the overlay has no upper layer' };
  if (away) return { kind: 'unreadable', why: `${away.path}: ${away.why ?? 'cannot be read from here'}` };
  return { kind: 'overlay', report: (plan, staged) => measure(w, m.overlay, layers, mode, plan, staged) };
}

async function measure(w: Writer, overlay: OverlayMount, layers: Layers, mode: PlaceMode, plan: Plan, staged: boolean): Promise<UpperSpaceReport> {
  const { loc } = w;
  const free = await upperFreeSpace(loc.root.host, layers);
  const features = overlay.options.features;
  // A view per measurement: it caches what it read, and staging changed the upper layer since.
  const view = new OverlayView(layers, features, overlay.rootOffset);
  const directoryBytes = free.fsType === TMPFS_MAGIC ? 0 : free.blockSize;
  const redirectDir = features.redirectDir.value;
  const facts = await upperSpaceFacts(view, loc.root, stepsOf(plan.steps), { redirectDir, blockSize: free.blockSize, directoryBytes });
  const upperDev = layers.upper?.dev;
  const staging = inRoot(w, loc.stagingBase);
  const databases: DatabaseFacts[] = [];
  const fileRows = plan.records.reduce((n, r) => n + r.files.length, 0);
  const ours = await databaseFacts(w, loc.dbFile, upperDev, view);
  if (ours) databases.push({ ...ours, growth: databaseGrowth({ steps: stepCount(plan.steps), fileRows }) });
  if (w.dpkg && loc.dpkgAdmin) {
    const status = await databaseFacts(w, path.join(loc.dpkgAdmin, 'status'), upperDev, view);
    if (status) databases.push({ ...status, growth: dpkgDatabaseGrowth(dpkgPackages(plan), status.where.size ?? 0, free.blockSize) });
  }
  const estimate = estimateUpperSpace({
    steps: stepsOf(plan.steps),
    ...facts,
    features: { metacopy: features.metacopy.value, redirectDir },
    placement: {
      mode,
      stagingInUpper: staging !== undefined,
      stagingBesideUpper: staging === undefined && (await deviceOf(loc.stagingBase)) === upperDev,
    },
    databases,
    blockSize: free.blockSize,
    directoryBytes,
  });
  const room = process.geteuid?.() === 0 ? free.free : free.available;
  const need = staged ? Math.max(0, estimate.bytes - estimate.staging) : estimate.bytes;
  return { estimate, free, room, need, upper: layers.upper?.path ?? loc.root.host };
}

/** Refuses, in one line, a transaction whose estimate does not fit in the room left (bytes or inodes). */
export function checkUpperRoom(r: UpperSpaceReport): void {
  const inodesShort = r.estimate.inodes > r.free.inodesFree;
  if (r.need <= r.room && !inodesShort) return;
  const what = inodesShort && r.need <= r.room ? `${r.estimate.inodes} inodes there, ${r.free.inodesFree} free` : `${formatBytes(r.need)} there, ${formatBytes(r.room)} free`;
  throw new OvermergeError('E_UPPER_SPACE', `not enough space in the overlay's upper layer ${r.upper}: the transaction needs ${what} (${breakdown(r.estimate)}); nothing was changed`, {
    op: 'check space',
    path: r.upper,
    hint: '--dry-run shows the estimate',
  });
}

/** The estimate as lines for --dry-run (and the report of a refused transaction's causes). */
export function upperSpaceLines(r: UpperSpaceReport): string[] {
  const e = r.estimate;
  const reserved = process.geteuid?.() === 0 ? 'reserved blocks included, running as root' : 'reserved blocks left out';
  return [
    `upper layer ${r.upper}: this transaction writes about ${formatBytes(e.bytes)} and ${e.inodes} inodes there${e.staging > 0 ? ` (staging ${formatBytes(e.staging)} of it)` : ''}`,
    `upper layer free: ${formatBytes(r.room)} (${reserved}), ${r.free.inodesFree} inodes`,
    ...(e.bytes > 0 ? [`  by cause: ${breakdown(e)}`] : []),
    r.need <= r.room && e.inodes <= r.free.inodesFree ? 'upper layer: enough room' : 'upper layer: NOT enough room; the transaction would be refused',
  ];
}

const CAUSE_NAMES: Record<UpperCause, string> = {
  'staged-file': 'staged files',
  'new-file': 'new files',
  'new-directory': 'new directories',
  'new-special': 'symlinks and special files',
  'copy-up': 'copy-ups',
  'copy-aside': 'directories copied aside',
  'directory-copy-up': 'directory copy-ups',
  whiteout: 'whiteouts',
  'database-copy-up': 'database copy-ups',
  'database-growth': 'database growth',
};

/** Bytes per cause, largest first ("copy-ups 20.0 MiB, staged files 1.0 MiB"); causes of inodes only are named too. */
function breakdown(e: UpperSpaceEstimate): string {
  const by = new Map<UpperCause, { bytes: number; inodes: number }>();
  for (const i of e.items) {
    const b = by.get(i.cause) ?? { bytes: 0, inodes: 0 };
    b.bytes += i.bytes;
    b.inodes += i.inodes;
    by.set(i.cause, b);
  }
  const parts = [...by].sort((a, b) => b[1].bytes - a[1].bytes || b[1].inodes - a[1].inodes);
  return parts.map(([c, b]) => `${CAUSE_NAMES[c]} ${b.bytes > 0 ? short(b.bytes) : `${b.inodes} inode${b.inodes === 1 ? '' : 's'}`}`).join(', ') || 'nothing';
}

function short(n: number): string {
  return formatBytes(n).replace(/ \(\d+ bytes\)$/, '');
}

/** A database file in the root (where the overlay has it), or on the upper layer's filesystem outside the root (already there). */
async function databaseFacts(w: Writer, file: string, upperDev: number | undefined, view: OverlayView): Promise<Omit<DatabaseFacts, 'growth'> | undefined> {
  const at = inRoot(w, file);
  if (at !== undefined) return { path: at, where: await view.where(at) };
  return (await deviceOf(file)) === upperDev ? { where: { class: 'upper' } } : undefined;
}

/** What dpkgDatabaseGrowth reads of the plan: each package recorded (its paths, its control files) or deleted. */
function dpkgPackages(plan: Plan): Array<{ paths: string[]; controlBytes: number[] }> {
  return [
    ...plan.records.map((r) => ({ paths: r.files.map((f) => `/${f.path}`), controlBytes: [...(r.staged?.controlFiles.values() ?? [])].map((b) => b.length) })),
    ...plan.deleted.map(() => ({ paths: [], controlBytes: [] })),
  ];
}

function inRoot(w: Writer, host: string): RootPath | undefined {
  try {
    return rootPathFromHost(w.loc.root, host);
  } catch {
    return undefined;
  }
}

/** st_dev of a path, or of its nearest existing ancestor (the staging base may not exist yet). */
async function deviceOf(p: string): Promise<number | undefined> {
  for (let at = p; ; at = path.dirname(at)) {
    const st = await fsp.stat(at).catch(() => undefined);
    if (st) return st.dev;
    if (path.dirname(at) === at) return undefined;
  }
}
