import { execFile, spawnSync } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { cannotMount, mount, unmount } from './mounts';

const execFileP = promisify(execFile);

/**
 * Overlay mounts made of several layers, each lower layer a plain folder or a squashfs image loop-mounted
 * read-only (the setup of an image-based system: a read-only squashfs below, a writable upper kept across
 * image updates). Layers are built on tmpfs mounts (the upper on one of its own), everything mounted is
 * unmounted in a finally, newest first, and the folders removed.
 */

export type LowerFormat = 'dir' | 'squashfs';

export interface LowerSpec {
  /** Fills the layer (a folder; packed into a squashfs image afterwards for 'squashfs'). */
  build: (dir: string) => Promise<void>;
  format?: LowerFormat;
}

export interface StackOptions {
  /** Lower layers, topmost first. */
  lowers: LowerSpec[];
  /** Data-only lower layers (`::dir`), below the others. */
  data?: LowerSpec[];
  /** More overlay mount options (`metacopy=on`, `userxattr`, ...). */
  options?: string[];
  /** Size of the tmpfs holding the upper and work folders (default 64 MiB). */
  upperSizeBytes?: number;
  /** Size of the tmpfs the lower layers are built on (default 256 MiB; pages are used only as written). */
  lowerSizeBytes?: number;
}

export interface Stack {
  base: string;
  merged: string;
  upper: string;
  work: string;
  /** Where each lower layer is reachable (the folder, or the squashfs mount point). */
  lowers: string[];
  data: string[];
  /** The folders the layers were built in (squashfs layers: the source of the image). */
  sources: string[];
}

/** Why squashfs lower layers cannot be made here, or undefined. */
export function cannotSquashfs(): string | undefined {
  const why = cannotMount('overlay');
  if (why) return why;
  if (!/\tsquashfs\n/.test(readFileSync('/proc/filesystems', 'utf8'))) return 'needs a kernel with squashfs (not in /proc/filesystems)';
  if (spawnSync('mksquashfs', ['-version'], { stdio: 'ignore' }).error) return 'needs mksquashfs (apt-get install squashfs-tools)';
  return undefined;
}

export async function withOverlayStack<T>(opts: StackOptions, fn: (s: Stack) => Promise<T>): Promise<T> {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'overmerge-stack-'));
  const mounted: string[] = [];
  try {
    const layers = path.join(base, 'layers');
    const merged = path.join(base, 'merged');
    await fsp.mkdir(layers);
    await fsp.mkdir(merged);
    await mount(['-t', 'tmpfs', '-o', `size=${opts.upperSizeBytes ?? 64 * 1024 * 1024},mode=0755`, 'overmerge-upper', layers]);
    mounted.unshift(layers);
    const upper = path.join(layers, 'upper');
    const work = path.join(layers, 'work');
    await fsp.mkdir(upper);
    await fsp.mkdir(work);
    // The lower layers are built on a tmpfs too: installing into them syncs their filesystem, and a sync
    // of the shared disk can take seconds.
    const lowerBase = path.join(base, 'lowers');
    await fsp.mkdir(lowerBase);
    await mount(['-t', 'tmpfs', '-o', `size=${opts.lowerSizeBytes ?? 256 * 1024 * 1024},mode=0755`, 'overmerge-lowers', lowerBase]);
    mounted.unshift(lowerBase);
    const sources: string[] = [];
    const make = async (spec: LowerSpec, name: string): Promise<string> => {
      const src = path.join(lowerBase, `${name}-src`);
      await fsp.mkdir(src);
      await spec.build(src);
      sources.push(src);
      if ((spec.format ?? 'dir') === 'dir') return src;
      const image = path.join(lowerBase, `${name}.sqfs`);
      const at = path.join(base, name);
      await execFileP('mksquashfs', [src, image, '-quiet', '-noappend', '-no-progress', '-xattrs']);
      await fsp.mkdir(at);
      await mount(['-o', 'loop,ro', '-t', 'squashfs', image, at]);
      mounted.unshift(at);
      return at;
    };
    const lowers: string[] = [];
    for (const [i, spec] of opts.lowers.entries()) lowers.push(await make(spec, `lower${i}`));
    const data: string[] = [];
    for (const [i, spec] of (opts.data ?? []).entries()) data.push(await make(spec, `data${i}`));
    const lowerdir = [lowers.join(':'), ...data].join('::');
    const options = [`lowerdir=${lowerdir}`, `upperdir=${upper}`, `workdir=${work}`, ...(opts.options ?? [])].join(',');
    await mount(['-t', 'overlay', 'overmerge-stack', '-o', options, merged]);
    mounted.unshift(merged);
    return await fn({ base, merged, upper, work, lowers, data, sources });
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
