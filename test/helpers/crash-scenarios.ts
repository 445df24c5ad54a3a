import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp, rmSync } from 'node:fs';
import * as path from 'node:path';
import { buildAdHocDeb, buildFixtureDebs, type FixtureName } from './fixtures';
import { copyRoot } from './crash-harness';
import { missing } from './gate';
import { mount, unmount, withOverlay } from './mounts';
import { om, type OmOptions } from './run-cli';
import { makeTempDir } from './temp';

/**
 * The starting roots of the crash tests, built once per test file under `workDir/templates` and copied
 * (or used as an overlay's lower layer) for every crash point.
 */
export interface CrashFixtures {
  debs: Record<FixtureName, string>;
  /** A one-file package a recovered root must accept without --auto-recover. */
  probeDeb: string;
  templates: {
    /** Nothing installed; the admin folder exists. */
    empty: string;
    /** hello 1.0 and greet installed. */
    installed: string;
    /** Same, with /etc/hello.conf modified locally. */
    modified: string;
    /** `modified`, then hello 2.0 installed with --keep-backups (transaction 2 can be rolled back). */
    upgradedKept: string;
    /** `modified`, then hello 2.0 unpacked: its conffile waits as /etc/hello.conf.dpkg-new. */
    unpacked: string;
  };
}

export const PROBE_NAME = 'crashprobe';

export async function buildCrashFixtures(workDir: string): Promise<CrashFixtures> {
  const debDir = path.join(workDir, 'debs');
  await fsp.mkdir(debDir);
  const debs = await buildFixtureDebs(debDir);
  const probeDeb = await buildAdHocDeb(debDir, {
    name: PROBE_NAME,
    version: '1',
    entries: [{ path: 'usr/share/crashprobe/marker', type: 'file', content: 'probe\n' }],
  });
  const t = path.join(workDir, 'templates');
  await fsp.mkdir(t);
  const templates = {
    empty: path.join(t, 'empty'),
    installed: path.join(t, 'installed'),
    modified: path.join(t, 'modified'),
    upgradedKept: path.join(t, 'upgraded-kept'),
    unpacked: path.join(t, 'unpacked'),
  };
  // A root with overmerge's admin folder (and var/lib above it, as any writer creates them) and nothing else.
  await fsp.mkdir(templates.empty, { mode: 0o755 });
  let dir = templates.empty;
  for (const part of ['', 'var', 'lib', 'overmerge']) {
    dir = path.join(dir, part);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.chmod(dir, 0o755);
  }
  await copyRoot(templates.empty, templates.installed);
  await mustRun(templates.installed, ['install', debs['hello-1.0'], debs['greet-1.0']]);
  await copyRoot(templates.installed, templates.modified);
  await fsp.appendFile(path.join(templates.modified, 'etc', 'hello.conf'), '# changed by the administrator\n');
  await copyRoot(templates.modified, templates.upgradedKept);
  await mustRun(templates.upgradedKept, ['install', '--keep-backups', debs['hello-2.0']]);
  await copyRoot(templates.modified, templates.unpacked);
  await mustRun(templates.unpacked, ['unpack', debs['hello-2.0']]);
  return { debs, probeDeb, templates };
}

/** Runs a command quietly on `root` (as every crash-test command runs); it must succeed. */
export async function mustRun(root: string, argv: string[], opts: OmOptions = {}): Promise<void> {
  const r = await om(root, argv, { quiet: true, ...opts });
  assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
}

/** Gives `fn` a fresh root in a template's state: a copy, or an overlay whose lower layer is the template. */
export type FreshRoot = <T>(fn: (root: string) => Promise<T>) => Promise<T>;

export function plainFresh(template: string, scratch: string): FreshRoot {
  let n = 0;
  return async (fn) => {
    const root = path.join(scratch, `root-${n++}`);
    await copyRoot(template, root);
    try {
      return await fn(root);
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  };
}

/** Each overlay's upper layer on its own small tmpfs (as on a live-CD or container root). */
export function overlayFresh(template: string, upperSizeBytes = 256 * 1024 ** 2): FreshRoot {
  return (fn) => withOverlay(({ merged }) => fn(merged), { lowerDir: template, upperSizeBytes });
}

/** A scratch folder for a test file's roots, removed (and unmounted) by dispose. */
export interface Scratch {
  dir: string;
  /** Whether `dir` is a tmpfs of its own. */
  tmpfs: boolean;
  dispose(): Promise<void>;
}

/**
 * A scratch folder on a tmpfs of its own when we may mount one, else under os.tmpdir(). The crash tests
 * kill processes, they do not cut power: what they check does not depend on the disk, and on a tmpfs
 * the thousands of fsync/syncfs calls of a sweep cost nothing. (One sweep runs on the disk as well.)
 */
export async function makeScratch(prefix: string, sizeBytes = 2 * 1024 ** 3): Promise<Scratch> {
  const dir = await makeTempDir(prefix);
  let mounted = false;
  if (missing({ mount: 'tmpfs' }) === undefined) {
    try {
      await mount(['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'overmerge-scratch', dir]);
    } catch (err) {
      await fsp.rm(dir, { recursive: true, force: true });
      throw err;
    }
    mounted = true;
  }
  // A test run stopped by a timeout (SIGTERM), ^C or an exit runs no after() hook: detach the tmpfs on
  // the way out.
  const onExit = (): void => {
    if (mounted) execFileSync('umount', ['-l', dir]);
    mounted = false;
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    onExit();
    process.kill(process.pid, signal);
  };
  process.once('exit', onExit);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return {
    dir,
    tmpfs: mounted,
    async dispose() {
      process.off('exit', onExit);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      if (mounted) await unmount(dir); // throws if busy: never remove a tree through a live mount
      mounted = false;
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}
