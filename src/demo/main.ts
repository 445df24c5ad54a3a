import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mountsUnder } from './overlay';
import { overlayUpgrade } from './overlay-root';
import { buildFixtures, inspectArchive, plainRootUpgrade } from './plain-root';
import { DemoFailure, Transcript } from './transcript';

/**
 * `npm run demo`: a transcript of overmerge driven through its real CLI, from building the fixture packages
 * to upgrading on an overlay root where dpkg fails. Everything happens in one temporary folder, removed at
 * the end (after every mount in it is gone).
 */
async function main(): Promise<number> {
  const repoRoot = findRepoRoot(__dirname);
  const { env, dropped } = demoEnv(process.env);
  const t = new Transcript(process.stdout, repoRoot, env);
  const onSignal = (signal: NodeJS.Signals): void => t.stop(`interrupted by ${signal}`);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const demo = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), 'overmerge-demo-')));
  process.stdout.write(`overmerge demo, driven through bin/overmerge. Working folder (removed at the end):\nDEMO=${demo}\n`);
  t.alias(demo, '$DEMO');
  if (dropped.length > 0) t.note(`ignoring ${dropped.join(', ')} for the demo`);

  let status = 0;
  try {
    const debs = await buildFixtures(t, repoRoot, path.join(demo, 'debs'));
    await inspectArchive(t, debs);
    await plainRootUpgrade(t, debs, path.join(demo, 'plain'));
    await overlayUpgrade(t, debs, demo);
    t.section('Done: every command above ran through bin/overmerge');
  } catch (err) {
    status = 1;
    const message = err instanceof DemoFailure ? err.message : `internal error: ${(err as Error)?.stack ?? String(err)}`;
    process.stderr.write(`demo: ${t.shorten(message)}\n`);
  } finally {
    status = (await cleanUp(demo)) ? status : 1;
  }
  return status;
}

/** Removes the demo folder, unless something is still mounted in it (removing it would delete through the mount). */
async function cleanUp(demo: string): Promise<boolean> {
  const mounted = mountsUnder(demo);
  if (mounted.length > 0) {
    process.stderr.write(`demo: still mounted: ${mounted.join(' ')}; leaving ${demo} in place (umount, then remove it)\n`);
    return false;
  }
  await fsp.rm(demo, { recursive: true, force: true });
  process.stdout.write(`removed ${demo}\n`);
  return true;
}

/**
 * The environment of every command: debug variables that would crash or fail a transaction on purpose
 * are dropped, and the sbin folders are on PATH (mount, umount, and the ldconfig dpkg insists on).
 */
function demoEnv(parent: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; dropped: string[] } {
  const env: NodeJS.ProcessEnv = { ...parent };
  const dropped = Object.keys(env).filter((k) => k.startsWith('OVERMERGE_DEBUG_')).sort();
  for (const k of dropped) delete env[k];
  const dirs = (env.PATH ?? '').split(':').filter((d) => d !== '');
  for (const d of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!dirs.includes(d)) dirs.push(d);
  env.PATH = dirs.join(':');
  return { env, dropped };
}

/** The repository this file was built from: dist/src/demo/ or src/demo/ below it. */
function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'bin', 'overmerge')) && existsSync(path.join(dir, 'fixtures', 'packages'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find the overmerge repository above ${start}`);
  }
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: Error) => {
      process.stderr.write(`demo: ${err.message}\n`);
      process.exitCode = 1;
    },
  );
}
