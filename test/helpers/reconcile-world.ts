import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { buildAdHocDeb, buildFixtureDebs, type AdHocPackage } from './fixtures';
import { mount, unmount } from './mounts';
import { om } from './run-cli';
import { makeTempDir } from './temp';

const execFileP = promisify(execFile);

/**
 * The image-update setup of `overlay reconcile`'s tests, built for real: a v1 root with packages installed
 * by the CLI, packed with mksquashfs (export table included, as mksquashfs makes it by default) and
 * loop-mounted read-only as the lower layer of an overlay whose upper layer is on a tmpfs of its own; the
 * live system's changes made through the merged view (upgrades, a package the image lacks, a modified
 * conffile, a copy-up by opening for writing, deletions, a directory replaced, local files); the overlay
 * unmounted; a v2 image built the same way; and the reference root reconcile must reproduce: a fresh v2
 * root with the surviving upgrades installed by the CLI and the same local changes.
 *
 * Packages, and what happens to each:
 *   hello  v1 1.0-1; live 2.0-1 (a directory becomes a file), conffile edited; v2 2.0-1 (the same)
 *   greet  1.0 everywhere; live: its copyright copied up unchanged, /usr/bin/goodbye deleted
 *   alpha  v1 1.0; live 2.0; v2 3.0 (the image is newer)
 *   gamma  v1 1.0; live 3.0; v2 2.0 (the upper is newer: kept; 2.0's own files get whiteouts)
 *   delta  v1 1.0, one file deleted live; not in v2 (dropped)
 *   extra  installed live; not in v2 (kept)
 *   newpkg only in v2
 */
export interface ReconcileWorld {
  /** A tmpfs for everything but the layers: debs, roots, images, mount points. */
  work: string;
  debs: Record<string, string>;
  v1Root: string;
  v2Root: string;
  /** The new image, loop-mounted read-only. */
  lower: string;
  /** The upper layer after the live changes (nothing mounted on it), on a tmpfs of its own with `workDir`. */
  upper: string;
  workDir: string;
  /** A fresh v2 root plus the surviving upgrades and local changes: what the merged view must show. */
  reference: string;
  /** Mounts `v2 + upper` (with `options`) at a new folder for `fn`, unmounted afterwards. */
  withMerged<T>(fn: (merged: string) => Promise<T>, options?: string[]): Promise<T>;
}

const T = 1_700_000_100;

function pkg(name: string, version: string, files: Record<string, string>, extra: Partial<AdHocPackage> = {}): AdHocPackage {
  return { name, version, entries: Object.entries(files).map(([p, content]) => ({ path: p, type: 'file' as const, content })), ...extra };
}

const AD_HOC: AdHocPackage[] = [
  pkg('alpha', '1.0', { 'usr/bin/alpha': 'alpha 1\n', 'usr/share/alpha/common': 'common\n', 'usr/share/doc/alpha/copyright': 'alpha (c)\n' }),
  pkg('alpha', '2.0', { 'usr/bin/alpha': 'alpha 2\n', 'usr/share/alpha/common': 'common\n', 'usr/share/alpha/only2': 'only in 2\n', 'usr/share/doc/alpha/copyright': 'alpha (c)\n' }),
  pkg('alpha', '3.0', { 'usr/bin/alpha': 'alpha 3\n', 'usr/share/alpha/common': 'common\n', 'usr/share/alpha/new3': 'new in 3\n', 'usr/share/doc/alpha/copyright': 'alpha (c)\n' }),
  pkg('gamma', '1.0', { 'usr/bin/gamma': 'gamma 1\n', 'usr/share/gamma/one': '1\n', 'usr/share/doc/gamma/copyright': 'gamma (c)\n' }),
  pkg('gamma', '2.0', { 'usr/bin/gamma': 'gamma 2\n', 'usr/share/gamma/two': '2\n', 'usr/share/gamma/extra2/a': 'a\n', 'usr/share/gamma/extra2/b': 'b\n', 'usr/share/doc/gamma/copyright': 'gamma (c)\n' }),
  pkg('gamma', '3.0', { 'usr/bin/gamma': 'gamma 3\n', 'usr/share/gamma/three': '3\n', 'usr/share/doc/gamma/copyright': 'gamma (c)\n' }),
  pkg('delta', '1.0', { 'usr/bin/delta': 'delta\n', 'usr/share/delta/notes': 'notes\n' }),
  pkg('extra', '1', { 'usr/bin/extra': 'extra\n', 'usr/share/extra/data': 'x'.repeat(10_000) }),
  pkg('newpkg', '1', { 'usr/bin/newpkg': 'new\n' }),
];

async function cli(root: string, argv: string[]): Promise<void> {
  const r = await om(root, argv, { spawn: true, quiet: true });
  assert.equal(r.status, 0, `overmerge --root ${root} ${argv.join(' ')}: ${r.stderr}`);
}

async function squash(src: string, image: string): Promise<void> {
  await execFileP('mksquashfs', [src, image, '-quiet', '-noappend', '-no-progress', '-xattrs']);
}

/** Writes a local file with a fixed mtime (through the merged view, or into the reference). */
async function localFile(p: string, content: string): Promise<void> {
  await fsp.writeFile(p, content);
  await fsp.chmod(p, 0o644);
  await fsp.utimes(p, T, T);
}

async function editConffile(root: string): Promise<void> {
  const f = path.join(root, 'etc/hello.conf');
  await fsp.appendFile(f, 'local = yes\n');
  await fsp.utimes(f, T, T);
}

/** The changes the live system's administrator makes besides installing (same in the reference, where they apply). */
async function localChanges(root: string): Promise<void> {
  await editConffile(root);
  await localFile(path.join(root, 'etc/local.conf'), 'mine\n');
  await fsp.rm(path.join(root, 'opt/site'), { recursive: true, force: true });
  await fsp.mkdir(path.join(root, 'opt/site'), { recursive: true });
  await fsp.chmod(path.join(root, 'opt/site'), 0o755);
  await localFile(path.join(root, 'opt/site/mine.txt'), 'site data\n');
}

export async function withReconcileWorld<T>(fn: (w: ReconcileWorld) => Promise<T>): Promise<T> {
  const base = await makeTempDir('reconcile');
  const mounted: string[] = [];
  const mountAt = async (args: string[], at: string): Promise<void> => {
    await fsp.mkdir(at, { recursive: true });
    await mount([...args, at]);
    mounted.unshift(at);
  };
  const unmountAt = async (at: string): Promise<void> => {
    await unmount(at);
    mounted.splice(mounted.indexOf(at), 1);
  };
  try {
    const work = path.join(base, 'work');
    await mountAt(['-t', 'tmpfs', '-o', 'size=256m,mode=0755', 'overmerge-reconcile'], work);
    const layersFs = path.join(base, 'layers');
    await mountAt(['-t', 'tmpfs', '-o', 'size=64m,mode=0755', 'overmerge-reconcile-upper'], layersFs);
    const upper = path.join(layersFs, 'upper');
    const workDir = path.join(layersFs, 'work');
    await fsp.mkdir(upper);
    await fsp.mkdir(workDir);
    const debDir = path.join(work, 'debs');
    await fsp.mkdir(debDir);
    const debs: Record<string, string> = { ...(await buildFixtureDebs(debDir)) };
    for (const p of AD_HOC) debs[`${p.name}-${p.version}`] = await buildAdHocDeb(debDir, p);

    const v1Root = path.join(work, 'v1');
    await fsp.mkdir(v1Root);
    await cli(v1Root, ['install', debs['hello-1.0'], debs['greet-1.0'], debs['alpha-1.0'], debs['gamma-1.0'], debs['delta-1.0']]);
    await fsp.mkdir(path.join(v1Root, 'opt/site'), { recursive: true, mode: 0o755 });
    await fsp.chmod(path.join(v1Root, 'opt'), 0o755);
    await localFile(path.join(v1Root, 'opt/site/old.txt'), 'the image\'s own\n');
    await squash(v1Root, path.join(work, 'v1.sqfs'));
    const img1 = path.join(work, 'img1');
    await mountAt(['-o', 'loop,ro', '-t', 'squashfs', path.join(work, 'v1.sqfs')], img1);

    // The live system: v1 + upper, changed through the merged view, then shut down.
    const live = path.join(work, 'live');
    await mountAt(['-t', 'overlay', 'overmerge-live', '-o', `lowerdir=${img1},upperdir=${upper},workdir=${workDir}`], live);
    await cli(live, ['install', debs['hello-2.0']]);
    await cli(live, ['install', debs['alpha-2.0']]);
    await cli(live, ['install', debs['gamma-3.0']]);
    await cli(live, ['install', debs['extra-1']]);
    await localChanges(live);
    await (await fsp.open(path.join(live, 'usr/share/doc/greet/copyright'), 'r+')).close();
    await fsp.rm(path.join(live, 'usr/bin/goodbye'));
    await fsp.rm(path.join(live, 'usr/share/delta/notes'));
    await unmountAt(live);
    await unmountAt(img1);

    const v2Root = path.join(work, 'v2');
    await fsp.mkdir(v2Root);
    await cli(v2Root, ['install', debs['hello-2.0'], debs['greet-1.0'], debs['alpha-3.0'], debs['gamma-2.0'], debs['newpkg-1']]);
    await squash(v2Root, path.join(work, 'v2.sqfs'));
    const lower = path.join(work, 'img2');
    await mountAt(['-o', 'loop,ro', '-t', 'squashfs', path.join(work, 'v2.sqfs')], lower);

    const reference = path.join(work, 'reference');
    await execFileP('cp', ['-a', '--', v2Root, reference]);
    await cli(reference, ['install', debs['gamma-3.0']]);
    await cli(reference, ['install', debs['extra-1']]);
    await fsp.mkdir(path.join(reference, 'opt'), { mode: 0o755 });
    await fsp.chmod(path.join(reference, 'opt'), 0o755);
    await localChanges(reference);

    let n = 0;
    const withMerged = async <R>(f: (merged: string) => Promise<R>, options: string[] = []): Promise<R> => {
      const at = path.join(work, `merged-${n++}`);
      await mountAt(['-t', 'overlay', 'overmerge-v2', '-o', [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${workDir}`, ...options].join(',')], at);
      try {
        return await f(at);
      } finally {
        await unmountAt(at);
      }
    };
    return await fn({ work, debs, v1Root, v2Root, lower, upper, workDir, reference, withMerged });
  } finally {
    let stuck: unknown;
    for (const at of [...mounted]) {
      try {
        await unmount(at);
      } catch (err) {
        stuck ??= err;
      }
    }
    if (stuck) throw stuck;
    await fsp.rm(base, { recursive: true, force: true });
  }
}
