import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { txnOptions, type ChangeArgs } from '../../src/cli/engine-options';
import { openForWriting } from '../../src/engine/context';
import { installArchives } from '../../src/engine/install';
import type { PathStep } from '../../src/engine/plan-model';
import { stepsOf } from '../../src/engine/plan-steps';
import { openRoot, type RootPath } from '../../src/fs/rootpath';
import { upperFreeSpace } from '../../src/overlay/free-space';
import { mountOfRoot, reachLayers, type OverlayMount } from '../../src/overlay/layers';
import { upperSpaceFacts } from '../../src/overlay/upper-probe';
import { databaseGrowth, estimateUpperSpace } from '../../src/overlay/upper-space';
import { OverlayView } from '../../src/overlay/where';
import { buildFixtureDebs } from '../helpers/fixtures';
import { withTempDir } from '../helpers/temp';
import { needs } from '../helpers/gate';
import { withOverlay } from '../helpers/mounts';
import { withOverlayStack, type Stack } from '../helpers/overlay-stack';
import { BIN, spawnCli } from '../helpers/run-cli';

/**
 * The upper-space estimate against a real upgrade on a real overlay: hello 1.0 (in the lower layer) to
 * 2.0, whose /usr/share/bug/hello turns from a directory into a file — the directory overlayfs will not
 * rename, which overmerge copies aside. The plan comes from the same upgrade run on a twin overlay over
 * the same lower layer; the upper layer's use is measured while the real CLI pauses just before it lets
 * go of its backups (the peak), and after it ends.
 */

const nullIo = () => {
  const sink = new Writable({ write: (_c, _e, done) => done() });
  return { stdout: sink, stderr: sink, isTTY: false };
};

async function used(dir: string): Promise<number> {
  const st = await fsp.statfs(dir);
  return (Number(st.blocks) - Number(st.bfree)) * Number(st.bsize);
}

/** The plan overmerge makes for installing `deb` on `root` (the upgrade runs there, on the twin). */
async function planOn(root: string, deb: string): Promise<{ steps: PathStep[]; fileRows: number }> {
  const args = { root, mode: 'rename', json: false, scripts: 'auto', quiet: true, lockWait: 0, autoRecover: false } as ChangeArgs;
  const w = await openForWriting(args);
  try {
    const { plan } = await installArchives(w, [deb], 'installed', txnOptions(args, nullIo()).opts);
    return { steps: [...stepsOf(plan.steps)], fileRows: plan.records.reduce((n, r) => n + r.files.length, 0) };
  } finally {
    w.close();
  }
}

/**
 * Runs the CLI install, pausing at the placement of `lastPlaced` (the plan's last file: by then everything
 * before it is written and nothing let go of); `atPause` measures then.
 */
async function installPausingAt(s: Stack, deb: string, lastPlaced: RootPath, atPause: () => Promise<void>): Promise<void> {
  const pauseFile = path.join(s.base, 'pause');
  const child = spawn(process.execPath, [BIN, '--root', s.merged, 'install', deb], {
    env: { ...process.env, OVERMERGE_DEBUG_PAUSE_AT: `place:commit:/${lastPlaced}`, OVERMERGE_DEBUG_PAUSE_FILE: pauseFile },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  let paused = false;
  for (let i = 0; i < 3000 && !paused; i++) {
    paused = (await fsp.readFile(pauseFile, 'utf8').catch(() => '')) !== '';
    if (!paused) await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(paused, `the install paused at ${lastPlaced}`);
  await atPause();
  await fsp.rm(pauseFile, { force: true });
  assert.equal(await done, 0, stderr);
}

describe('upper-layer space estimate on a real overlay', { skip: needs({ mount: 'overlay' }) }, () => {
  it('covers what an upgrade writes into the upper layer at its peak, the EXDEV copy-aside included', async (t) => {
    await withTempDir('upper-space', async (work) => {
      const debs = await buildFixtureDebs(work);
      const lower = async (dir: string): Promise<void> => {
        const r = await spawnCli(['--root', dir, 'install', debs['hello-1.0']]);
        assert.equal(r.status, 0, r.stderr);
      };
      await withOverlayStack({ lowers: [{ build: lower }] }, async (s) => {
        const twin = await withOverlay((t) => planOn(t.merged, debs['hello-2.0']), { lowerDir: s.lowers[0], upperSizeBytes: 64 * 1024 * 1024 });
        assert.ok(twin.steps.some((st) => st.path === 'usr/share/bug/hello' && st.kind === 'place-file' && st.aside === 'move'), 'the plan replaces the directory by a file');

        const m = await mountOfRoot(s.merged);
        if (m.kind !== 'overlay') assert.fail('not an overlay');
        const overlay: OverlayMount = m.overlay;
        const layers = await reachLayers(overlay);
        const free = await upperFreeSpace(s.merged, layers);
        assert.equal(free.source, 'upperdir');
        const view = new OverlayView(layers, overlay.options.features);
        const features = { metacopy: overlay.options.features.metacopy.value, redirectDir: overlay.options.features.redirectDir.value };
        // tmpfs keeps directories in memory, not in blocks.
        const facts = await upperSpaceFacts(view, await openRoot(s.merged), twin.steps, { redirectDir: features.redirectDir, blockSize: free.blockSize, directoryBytes: 0 });
        const db = await view.where('var/lib/overmerge/db.sqlite' as RootPath);
        assert.equal(db.class, 'lower');
        const estimate = estimateUpperSpace({
          steps: twin.steps,
          ...facts,
          features,
          placement: { mode: 'rename', stagingInUpper: true },
          database: { where: db, growth: databaseGrowth({ steps: twin.steps.length, fileRows: twin.fileRows }) },
          blockSize: free.blockSize,
          directoryBytes: 0,
        });
        assert.deepEqual(estimate.unknownTrees, []);
        const aside = estimate.items.find((i) => i.cause === 'copy-aside');
        assert.deepEqual([aside?.path, aside?.bytes], ['usr/share/bug/hello', 2 * free.blockSize], 'two small files copied aside');

        const before = await used(s.upper);
        let atLast = 0;
        const lastPlaced = twin.steps.filter((st) => st.kind === 'place-file').at(-1)!.path;
        await installPausingAt(s, debs['hello-2.0'], lastPlaced, async () => {
          atLast = (await used(s.upper)) - before;
        });
        const after = (await used(s.upper)) - before;
        // Paused, the database has not committed yet; ended, the backups are gone: the peak is no less than either.
        const peak = Math.max(atLast, after);
        t.diagnostic(`estimate ${estimate.bytes} bytes (${estimate.items.map((i) => `${i.cause} ${i.bytes}`).join(', ')}); measured at the last placement ${atLast}, after ${after}`);
        assert.ok(atLast > 0 && after > 0);
        assert.ok(estimate.bytes >= peak, `estimate ${estimate.bytes} covers the peak ${peak}`);
        assert.ok(estimate.bytes >= after, `estimate ${estimate.bytes} covers what stays ${after}`);
        assert.ok(estimate.bytes <= 2 * peak + 256 * 1024, `estimate ${estimate.bytes} is not wildly above the peak ${peak}`);
        assert.ok(estimate.bytes < free.available);
      });
    });
  });

  it('free space: statfs of the upper folder, or of the merged root when the folder cannot be reached from here', async () => {
    await withOverlayStack({ lowers: [{ build: async () => {} }], upperSizeBytes: 8 * 1024 * 1024 }, async (s) => {
      const m = await mountOfRoot(s.merged);
      if (m.kind !== 'overlay') assert.fail('not an overlay');
      const layers = await reachLayers(m.overlay);
      const direct = await upperFreeSpace(s.merged, layers);
      assert.equal(direct.source, 'upperdir');
      assert.ok(direct.available > 0 && direct.available <= 8 * 1024 * 1024);
      const gone = { ...layers, upper: { ...layers.upper!, reachable: false, why: 'no such folder in this mount namespace' } };
      const stand = await upperFreeSpace(s.merged, gone);
      assert.equal(stand.source, 'merged');
      assert.match(stand.upperUnreachable ?? '', /no such folder/);
      assert.deepEqual([stand.available, stand.blockSize], [direct.available, direct.blockSize], 'overlayfs answers statfs with the upper filesystem');
      await assert.rejects(upperFreeSpace(s.merged, { upper: undefined }), /has no upper layer/);
    });
  });
});
