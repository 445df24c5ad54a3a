import { execFile } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, withTempDir } from './temp';

const execFileP = promisify(execFile);

/**
 * Why a filesystem of this type cannot be mounted here, or undefined when it can. Tests ask through
 * gate.ts (`gate(t, { mount: 'overlay' })`), which skips loudly; the benchmarks ask directly.
 */
export function cannotMount(fsType: 'overlay' | 'tmpfs' = 'overlay'): string | undefined {
  if (process.getuid?.() !== 0) return `needs root for mount -t ${fsType}`;
  let filesystems = '';
  try {
    filesystems = readFileSync('/proc/filesystems', 'utf8');
  } catch {
    return 'needs /proc/filesystems to know whether the kernel has overlayfs and tmpfs';
  }
  if (!new RegExp(`\\t${fsType}\\n`).test(filesystems)) return `needs a kernel with ${fsType} (not in /proc/filesystems)`;
  return undefined;
}

export async function mount(args: string[]): Promise<void> {
  await execFileP('mount', args);
}

/** Unmounts, retrying while busy (a child process just killed may still hold it), then lazily. */
export async function unmount(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await execFileP('umount', [dir]);
      return;
    } catch (err) {
      if (!/busy/i.test(String((err as { stderr?: unknown }).stderr ?? ''))) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await execFileP('umount', ['-l', dir]);
}

/** A fresh tmpfs of `sizeBytes`, mounted on a temporary directory for the duration of `fn`. */
export async function withTmpfs<T>(sizeBytes: number, fn: (dir: string) => Promise<T>): Promise<T> {
  return withTempDir('tmpfs', async (dir) => {
    await mount(['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'overmerge-test', dir]);
    try {
      return await fn(dir);
    } finally {
      await unmount(dir);
    }
  });
}

export interface OverlayDirs {
  /** The lower layer (read-only once mounted: change it only in `buildLower`). */
  lower: string;
  /** The upper layer, where every change through `merged` lands. */
  upper: string;
  /** The overlay mount point: the root as a package manager sees it. */
  merged: string;
}

export interface OverlayOptions {
  /** Fills the lower layer before the mount (changing a lower layer under a live overlay is undefined). */
  buildLower?: (lower: string) => Promise<void>;
  /** An existing lower directory to use as is, instead of a fresh one (never removed by this helper). */
  lowerDir?: string;
  /** Puts upper and work dirs on a tmpfs of this size, to run an overlay out of space. */
  upperSizeBytes?: number;
}

/**
 * A real overlayfs mount (lower on the disk under os.tmpdir(), upper and work beside it or on a small
 * tmpfs), unmounted and removed afterwards whatever `fn` does.
 */
export async function withOverlay<T>(fn: (dirs: OverlayDirs) => Promise<T>, opts: OverlayOptions = {}): Promise<T> {
  const base = await makeTempDir('overlay');
  const lower = opts.lowerDir ?? path.join(base, 'lower');
  const layers = path.join(base, 'layers');
  const merged = path.join(base, 'merged');
  const mounted: string[] = [];
  try {
    if (!opts.lowerDir) await fsp.mkdir(lower);
    await fsp.mkdir(layers);
    await fsp.mkdir(merged);
    if (opts.upperSizeBytes !== undefined) {
      await mount(['-t', 'tmpfs', '-o', `size=${opts.upperSizeBytes},mode=0755`, 'overmerge-upper', layers]);
      mounted.unshift(layers);
    }
    const upper = path.join(layers, 'upper');
    const work = path.join(layers, 'work');
    await fsp.mkdir(upper);
    await fsp.mkdir(work);
    if (opts.buildLower) await opts.buildLower(lower);
    await mount(['-t', 'overlay', 'overmerge-overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
    mounted.unshift(merged);
    return await fn({ lower, upper, merged });
  } finally {
    let stuck: unknown;
    for (const dir of mounted) {
      try {
        await unmount(dir);
      } catch (err) {
        stuck ??= err;
      }
    }
    // Removing the base while something is still mounted in it would delete through the mount.
    if (stuck) throw stuck;
    await fsp.rm(base, { recursive: true, force: true });
  }
}
