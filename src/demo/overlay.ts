import { spawnSync } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DemoFailure, type Transcript } from './transcript';

/** The four folders of one overlay mount. */
export interface Layers {
  lower: string;
  upper: string;
  work: string;
  /** The mount point: the root as a package manager sees it. */
  merged: string;
}

/** Why this process cannot mount an overlay, or undefined when it can try. */
export function whyNoOverlay(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root (mount -t overlay needs root)';
  let filesystems: string;
  try {
    filesystems = readFileSync('/proc/filesystems', 'utf8');
  } catch {
    return 'cannot read /proc/filesystems to know whether the kernel has overlayfs';
  }
  if (!/\toverlay\n/.test(filesystems)) return 'this kernel has no overlayfs (not in /proc/filesystems)';
  return undefined;
}

/** Creates the layer folders under `base` (lower first, so it can be filled before the mount). */
export async function makeLayers(base: string): Promise<Layers> {
  const layers: Layers = {
    lower: path.join(base, 'lower'),
    upper: path.join(base, 'upper'),
    work: path.join(base, 'work'),
    merged: path.join(base, 'merged'),
  };
  for (const dir of Object.values(layers)) await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  return layers;
}

/** Root, and the kernel has overlayfs, but this mount was refused (a container, an upper dir on overlayfs). */
export class MountFailed extends DemoFailure {}

/**
 * Mounts the overlay, runs `fn` on the merged folder, and unmounts whatever `fn` did. The lower layer
 * must be complete before this: changing a lower layer under a live overlay is undefined behaviour.
 */
export async function withOverlay<T>(t: Transcript, layers: Layers, fn: () => Promise<T>): Promise<T> {
  const options = `lowerdir=${layers.lower},upperdir=${layers.upper},workdir=${layers.work}`;
  const mounted = await t.run('mount', ['-t', 'overlay', 'overlay', '-o', options, layers.merged], { expect: 'any' });
  if (mounted.status !== 0) throw new MountFailed(`mount -t overlay failed: ${t.shorten(mounted.stderr.trim().split('\n')[0] ?? '')}`);
  try {
    return await fn();
  } finally {
    await unmount(t, layers.merged);
  }
}

/** Unmounts, retrying while a just-finished child still holds the mount busy, then lazily. */
async function unmount(t: Transcript, dir: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    // Shown only once: retries are noise in the transcript.
    const r = attempt === 0 ? await t.run('umount', [dir], { expect: 'any', cleanup: true }) : quietUmount(dir);
    if (r.status === 0) return;
    if (!/busy/i.test(r.stderr)) throw new DemoFailure(`umount ${t.shorten(dir)} failed: ${t.shorten(r.stderr.trim())}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await t.run('umount', ['-l', dir], { cleanup: true });
}

function quietUmount(dir: string): { status: number; stderr: string } {
  const r = spawnSync('umount', [dir], { encoding: 'utf8' });
  return { status: r.status ?? 1, stderr: r.stderr ?? '' };
}

/** Mount points at or below `dir`, from the kernel's own table (so clean-up never deletes through one). */
export function mountsUnder(dir: string): string[] {
  let table: string;
  try {
    table = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of table.split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) continue;
    const point = field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
    if (point === dir || point.startsWith(`${dir}/`)) out.push(point);
  }
  return out;
}

/** One entry found in an upper layer, by its path in the merged view. */
export interface UpperEntry {
  path: string;
  kind: 'file' | 'symlink' | 'directory' | 'whiteout' | 'other';
}

/**
 * Walks the upper layer. A whiteout is a character device 0:0: overlayfs's mark for "deleted here,
 * although the lower layer still has it".
 */
export async function upperLayerEntries(upper: string): Promise<UpperEntry[]> {
  const out: UpperEntry[] = [];
  async function walk(dir: string, rel: string): Promise<void> {
    const names = (await fsp.readdir(dir)).sort();
    for (const name of names) {
      const host = path.join(dir, name);
      const shown = `${rel}/${name}`;
      const st = await fsp.lstat(host);
      if (st.isDirectory()) {
        out.push({ path: shown, kind: 'directory' });
        await walk(host, shown);
      } else if (st.isFile()) out.push({ path: shown, kind: 'file' });
      else if (st.isSymbolicLink()) out.push({ path: shown, kind: 'symlink' });
      else if (st.isCharacterDevice() && st.rdev === 0) out.push({ path: shown, kind: 'whiteout' });
      else out.push({ path: shown, kind: 'other' });
    }
  }
  await walk(upper, '');
  return out;
}

/** Whether `rootPath` (absolute, as `files` prints it) names a regular file under `layer`. */
export async function isFileIn(layer: string, rootPath: string): Promise<boolean> {
  try {
    return (await fsp.lstat(path.join(layer, rootPath))).isFile();
  } catch {
    return false;
  }
}

/** Whether anything at all exists at `rootPath` under `layer` (a whiteout counts). */
export async function existsIn(layer: string, rootPath: string): Promise<boolean> {
  try {
    await fsp.lstat(path.join(layer, rootPath));
    return true;
  } catch {
    return false;
  }
}
