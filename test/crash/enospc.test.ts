import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { buildAdHocDeb } from '../helpers/fixtures';
import { leftoverTemporaries } from '../helpers/crash-harness';
import { makeScratch, mustRun, type Scratch } from '../helpers/crash-scenarios';
import { gate } from '../helpers/gate';
import { withOverlay, withTmpfs } from '../helpers/mounts';
import { ADMIN_REL, assertSameTree, rootState } from '../helpers/root-state';
import { om } from '../helpers/run-cli';

/**
 * Out of space: on a small tmpfs root an install that cannot fit is refused (up front when Installed-Size
 * says so; when it lies, at ENOSPC during staging), exits 1 with one line that gives the space needed,
 * and leaves the root exactly as it was, its free space back (but for a few KiB of database), and nothing
 * for `recover`. On an overlay root whose upper layer is a small tmpfs, an upgrade whose copy fallback
 * runs out of space is rolled back the same way.
 */

let scratch: Scratch | undefined;
let workDir = '';

before(async () => {
  scratch = await makeScratch('enospc', 256 * 1024 ** 2);
  workDir = scratch.dir;
});

after(async () => {
  await scratch?.dispose();
});

const KiB = 1024;
/** What the database may grow by across a failed transaction (its row is deleted, its pages stay). */
const DB_SLACK = 32 * KiB;

async function freeBytes(dir: string): Promise<number> {
  const st = await fsp.statfs(dir);
  return Number(st.bavail) * Number(st.bsize);
}

/** Incompressible content, so that the archive is as big as what it installs. */
function noise(bytes: number): string {
  return randomBytes(Math.ceil(bytes / 2)).toString('hex').slice(0, bytes);
}

interface Snapshot {
  tree: Awaited<ReturnType<typeof rootState>>;
  list: string;
  free: number;
}

async function snapshot(root: string): Promise<Snapshot> {
  const list = await om(root, ['list', '--json'], { quiet: true });
  assert.equal(list.status, 0, list.stderr);
  return { tree: await rootState(root), list: list.stdout, free: await freeBytes(root) };
}

/** Exit 1, one line with a size in it, and the root exactly as `before`, its space back. */
async function assertRefusedCleanly(
  root: string,
  before: Snapshot,
  argv: string[],
  message: RegExp,
  what: string,
  env?: Record<string, string>,
): Promise<string> {
  const r = await om(root, argv, { quiet: true, env });
  assert.equal(r.status, 1, `${what}: exit ${r.status}: ${r.stderr}`);
  assert.match(r.stderr, /^overmerge: [^\n]+\n$/, `${what}: one line: ${JSON.stringify(r.stderr)}`);
  assert.match(r.stderr, message, what);
  assert.match(r.stderr, /\d+(\.\d+)? (KiB|MiB|bytes)/, `${what}: the message gives no size: ${r.stderr}`);
  const now = await snapshot(root);
  assertSameTree(now.tree, before.tree, `${what}: the root changed`);
  assert.equal(now.list, before.list, `${what}: the database changed`);
  assert.ok(now.free >= before.free - DB_SLACK, `${what}: ${before.free - now.free} bytes of space not given back`);
  assert.deepEqual(await leftoverTemporaries(root), [], `${what}: temporaries left`);
  assert.deepEqual(await fsp.readdir(path.join(root, ADMIN_REL, 'staging')).catch(() => []), [], `${what}: staging not empty`);
  const rec = await om(root, ['recover', '--json'], { quiet: true });
  assert.equal(rec.status, 0, rec.stderr);
  assert.deepEqual(JSON.parse(rec.stdout), [], `${what}: recover found work`);
  return r.stderr;
}

/** A root on a 1 MiB tmpfs with a small package installed (so the database exists before we measure). */
async function withSmallRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const small = await buildAdHocDeb(workDir, { name: 'small', version: '1', entries: [{ path: 'usr/share/small/x', type: 'file', content: 'x\n' }] });
  await withTmpfs(1024 * KiB, async (root) => {
    await mustRun(root, ['install', small]);
    await fn(root);
  });
}

test('ENOSPC: a package that says it does not fit (Installed-Size) is refused before anything is staged', async (t) => {
  if (gate(t, { mount: 'tmpfs' })) return;
  const deb = await buildAdHocDeb(workDir, {
    name: 'toobig',
    version: '1',
    fields: { 'Installed-Size': String(1600) },
    entries: [0, 1, 2, 3].map((i) => ({ path: `usr/share/toobig/part${i}`, type: 'file' as const, content: noise(400 * KiB) })),
  });
  await withSmallRoot(async (root) => {
    const before = await snapshot(root);
    const msg = await assertRefusedCleanly(root, before, ['install', deb], /not enough space.*Installed-Size says 1\.6 MiB/, 'truthful Installed-Size');
    t.diagnostic(msg.trim());
  });
});

test('ENOSPC: a package whose Installed-Size lies runs out of space while staging, and nothing stays', async (t) => {
  if (gate(t, { mount: 'tmpfs' })) return;
  // Below the expansion limit that a 1 KiB Installed-Size allows (1 MiB of slack), above what is free.
  const deb = await buildAdHocDeb(workDir, {
    name: 'liar',
    version: '1',
    fields: { 'Installed-Size': '1' },
    entries: [0, 1, 2, 3, 4].map((i) => ({ path: `usr/share/liar/part${i}`, type: 'file' as const, content: noise(190 * KiB) })),
  });
  await withSmallRoot(async (root) => {
    const before = await snapshot(root);
    assert.ok(before.free < 950 * KiB, `the root has ${before.free} bytes free: the package would fit`);
    const msg = await assertRefusedCleanly(
      root,
      before,
      ['install', deb],
      /no space left.*files need 950\.0 KiB \(972800 bytes\) \(their Installed-Size says 1\.0 KiB/,
      'lying Installed-Size',
    );
    t.diagnostic(msg.trim());
  });
});

test('ENOSPC in the copy fallback on an overlay root with a small tmpfs upper layer: rolled back cleanly', async (t) => {
  if (gate(t, { mount: ['overlay', 'tmpfs'] })) return;
  // v1 ships a 2 MiB directory; v2 turns it into a file, so the upgrade must move the lower-layer
  // directory aside, which overlayfs only allows by copying it up: 2 MiB into a 1.5 MiB upper layer.
  const v1 = await buildAdHocDeb(workDir, {
    name: 'bigdir',
    version: '1',
    fields: { 'Installed-Size': '2060' },
    entries: [
      ...[0, 1, 2, 3].map((i) => ({ path: `usr/share/bigdir/data/part${i}`, type: 'file' as const, content: noise(512 * KiB) })),
      { path: 'usr/share/bigdir/README', type: 'file', content: 'version 1\n' },
    ],
  });
  const v2 = await buildAdHocDeb(workDir, {
    name: 'bigdir',
    version: '2',
    fields: { 'Installed-Size': '8' },
    entries: [
      { path: 'usr/share/bigdir/data', type: 'file', content: 'now a file\n' },
      { path: 'usr/share/bigdir/README', type: 'file', content: 'version 2\n' },
    ],
  });
  await withOverlay(
    async ({ merged, upper }) => {
      // The database is copied up the first time a writer opens it: that is the overlay's steady state.
      await mustRun(merged, ['recover']);
      const before = await snapshot(merged);
      const upperFree = await freeBytes(upper);
      // The upper-space pre-flight sees the copy coming and refuses before the transaction begins...
      const pre = await assertRefusedCleanly(merged, before, ['install', v2], /not enough space in the overlay's upper layer .*directories copied aside 2\.0 MiB/, 'upper-space pre-flight');
      t.diagnostic(pre.trim());
      // ...and without it the copy fallback runs out of space halfway, and the transaction is rolled back.
      const skip = { OVERMERGE_DEBUG_SKIP_UPPER_PREFLIGHT: '1' };
      const msg = await assertRefusedCleanly(merged, before, ['install', v2], /no space left for its copy of 2097152 bytes/, 'copy fallback out of space', skip);
      assert.ok((await freeBytes(upper)) >= upperFree - DB_SLACK, 'the upper layer got its space back');
      t.diagnostic(msg.trim());
    },
    {
      upperSizeBytes: 1536 * KiB,
      buildLower: async (lower) => {
        await fsp.chmod(lower, 0o755);
        await mustRun(lower, ['install', v1]);
      },
    },
  );
});
