import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { promises as fsp, type PathLike } from 'node:fs';
import * as path from 'node:path';
import { OvermergeError } from '../../src/errors';
import { sameEntry } from '../../src/fs/metadata';
import { discardBackup, moveAside, planMoveAside, restoreBackup } from '../../src/fs/move-aside';
import { CrossDevicePairs } from '../../src/fs/cross-device';
import { commitPlace, place, placeFile, planPlace, preparePlace, undoPlace, type PlaceMode } from '../../src/fs/place';
import type { StepHooks } from '../../src/fs/steps';
import { SyncBatch } from '../../src/fs/sync';
import { parseTempName } from '../../src/fs/tempname';
import { withOverlay, withTmpfs } from '../helpers/mounts';
import { withTempDir } from '../helpers/temp';
import { gate } from '../helpers/gate';
import { hostPathOf } from '../../src/fs/host-path';

const execFileP = promisify(execFile);
const MODES: PlaceMode[] = ['rename', 'copy', 'hardlink'];

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

async function leftovers(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((n) => parseTempName(n) !== undefined);
}

async function stage(staging: string, name: string, content: string, mode = 0o644): Promise<string> {
  const p = path.join(staging, name);
  await fsp.writeFile(p, content);
  await fsp.chmod(p, mode);
  await fsp.utimes(p, 1_600_000_000, 1_600_000_000);
  return p;
}

/** The layouts the engine meets: staging on tmpfs with the root on disk or on overlayfs. */
async function withRoots(fn: (root: string, staging: string, label: string) => Promise<void>): Promise<void> {
  await withTmpfs(32 << 20, async (staging) => {
    await withTempDir('place', (root) => fn(root, staging, 'disk root, tmpfs staging'));
    await withOverlay(async ({ merged }) => fn(merged, staging, 'overlay root, tmpfs staging'), {
      buildLower: async (lower) => {
        await fsp.writeFile(path.join(lower, 'old-0'), 'old content');
        await fsp.writeFile(path.join(lower, 'old-1'), 'old content');
        await fsp.writeFile(path.join(lower, 'old-2'), 'old content');
      },
    });
  });
}

test('place over an existing file in each mode, staging on another filesystem: old readers keep old bytes', async (t) => {
  if (gate(t, { mount: 'overlay' })) return;
  await withRoots(async (root, staging, label) => {
    for (const [i, mode] of MODES.entries()) {
      const target = path.join(root, `old-${i}`);
      if (!(await exists(target))) await fsp.writeFile(target, 'old content');
      const reader = await fsp.open(target, 'r');
      try {
        const staged = await stage(staging, `new-${mode}`, `new content via ${mode}`, 0o4755);
        const reference = await stage(staging, `ref-${mode}`, `new content via ${mode}`, 0o4755);
        const result = await place(planPlace(hostPathOf(staged), hostPathOf(target), mode));
        assert.equal(result.method, 'copy', `${label} ${mode}`);
        assert.equal(result.exdevFallback, mode !== 'copy');
        assert.equal(await fsp.readFile(target, 'utf8'), `new content via ${mode}`);
        assert.ok(await sameEntry(reference, target), `${label} ${mode}: placed entry equals the staged one`);
        assert.equal(await exists(staged), mode === 'copy', `${label} ${mode}: only copy mode leaves the staged file`);
        const buf = Buffer.alloc(64);
        const { bytesRead } = await reader.read(buf, 0, 64, 0);
        assert.equal(buf.subarray(0, bytesRead).toString(), 'old content', `${label} ${mode}: an open reader keeps the old inode`);
        if (mode === 'copy') assert.notEqual((await fsp.stat(staged)).ino, (await fsp.stat(target)).ino);
      } finally {
        await reader.close();
      }
      assert.deepEqual(await leftovers(root), []);
    }
  });
});

test('place on one filesystem: rename moves the staged inode, hardlink keeps it and drops the staged name, copy shares nothing', async (t) => {
  if (gate(t, { mount: 'overlay' })) return;
  const check = async (root: string, label: string) => {
    const staging = path.join(root, 'staging');
    await fsp.mkdir(staging, { recursive: true });
    for (const mode of MODES) {
      const target = path.join(root, `file-${mode}`);
      await fsp.writeFile(target, 'old');
      const staged = await stage(staging, mode, `new ${mode}`);
      const stagedIno = (await fsp.stat(staged)).ino;
      const result = await place(planPlace(hostPathOf(staged), hostPathOf(target), mode));
      assert.equal(result.method, mode, label);
      assert.equal(result.exdevFallback, false);
      const targetIno = (await fsp.stat(target)).ino;
      if (mode === 'copy') {
        assert.ok(await exists(staged), 'copy never takes the staged file');
        assert.notEqual(targetIno, (await fsp.stat(staged)).ino, `${label}: copy mode never shares an inode`);
      } else {
        assert.equal(await exists(staged), false, `${label} ${mode}: the staged name is gone`);
        assert.equal(targetIno, stagedIno, `${label} ${mode}: the target is the staged inode`);
      }
    }
    assert.deepEqual(await leftovers(root), []);
  };
  await withTempDir('place', (root) => check(root, 'disk'));
  await withOverlay(({ merged }) => check(merged, 'overlay'));
});

function startProgram(file: string): Promise<ReturnType<typeof spawn>> {
  const child = spawn(file, ['60'], { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve(child));
    child.once('error', reject);
  });
}

test('replacing a running executable never fails with "Text file busy" and the program keeps running', async (t) => {
  if (gate(t, { mount: 'overlay' })) return;
  await withTmpfs(32 << 20, async (tmpStaging) => {
    await withTempDir('place', async (root) => {
      const sameFsStaging = path.join(root, 'staging');
      await fsp.mkdir(sameFsStaging);
      for (const staging of [tmpStaging, sameFsStaging]) {
        for (const mode of MODES) {
          const prog = path.join(root, 'sleep');
          await fsp.rm(prog, { force: true }); // the last run's program may still be exiting
          await fsp.copyFile('/bin/sleep', prog);
          await fsp.chmod(prog, 0o755);
          const running = await startProgram(prog);
          try {
            const staged = path.join(staging, 'sleep');
            await fsp.copyFile('/bin/sleep', staged);
            await fsp.appendFile(staged, Buffer.from('new version'));
            await fsp.chmod(staged, 0o755);
            await place(planPlace(hostPathOf(staged), hostPathOf(prog), mode));
            assert.equal(running.exitCode, null);
            assert.doesNotThrow(() => process.kill(running.pid!, 0), `${mode}: still running`);
            assert.match(await fsp.readlink(`/proc/${running.pid}/exe`), /\(deleted\)$/);
            // Gentoo bug 626092: a program started from the new file must not appear under the staging name.
            const fresh = await startProgram(prog);
            try {
              assert.equal(await fsp.readlink(`/proc/${fresh.pid}/exe`), prog, `${mode}: exe path is the target`);
            } finally {
              fresh.kill('SIGKILL');
            }
          } finally {
            running.kill('SIGKILL');
          }
        }
      }
    });
  });
});

test('symlinks, fifos and directories: created under a temporary name (dirs in place), never following the target', async () => {
  await withTempDir('place', async (dir) => {
    const staging = path.join(dir, 'staging');
    const root = path.join(dir, 'root');
    await fsp.mkdir(staging);
    await fsp.mkdir(root);
    await fsp.symlink('/etc/passwd', path.join(staging, 'link'));
    await fsp.writeFile(path.join(root, 'victim'), 'keep');
    await fsp.symlink(path.join(root, 'victim'), path.join(root, 'link'));
    for (const mode of MODES) {
      await place(planPlace(hostPathOf(path.join(staging, 'link')), hostPathOf(path.join(root, 'link')), mode));
      assert.equal(await fsp.readlink(path.join(root, 'link')), '/etc/passwd');
      assert.equal(await fsp.readFile(path.join(root, 'victim'), 'utf8'), 'keep');
      if (!(await exists(path.join(staging, 'link')))) await fsp.symlink('/etc/passwd', path.join(staging, 'link'));
    }
    await fsp.writeFile(path.join(root, 'pipe'), 'a file in the way');
    for (const mode of MODES) {
      await execFileP('mkfifo', ['-m', '620', path.join(staging, 'pipe')]);
      await place(planPlace(hostPathOf(path.join(staging, 'pipe')), hostPathOf(path.join(root, 'pipe')), mode));
      const st = await fsp.lstat(path.join(root, 'pipe'));
      assert.ok(st.isFIFO(), mode);
      assert.equal(st.mode & 0o7777, 0o620);
      await fsp.rm(path.join(staging, 'pipe'), { force: true });
    }
    await fsp.mkdir(path.join(staging, 'd'), { mode: 0o750 });
    await fsp.chmod(path.join(staging, 'd'), 0o750);
    const made = await place(planPlace(hostPathOf(path.join(staging, 'd')), hostPathOf(path.join(root, 'd')), 'copy'));
    assert.equal(made.method, 'mkdir');
    assert.equal((await fsp.stat(path.join(root, 'd'))).mode & 0o7777, 0o750);
    assert.equal((await place(planPlace(hostPathOf(path.join(staging, 'd')), hostPathOf(path.join(root, 'd')), 'copy'))).method, 'existing-dir');
    await assert.rejects(place(planPlace(hostPathOf(path.join(staging, 'link')), hostPathOf(path.join(root, 'd')), 'copy')), (err: unknown) => {
      assert.ok(err instanceof OvermergeError);
      assert.match(err.hint ?? '', /move the directory aside/);
      return true;
    });
    assert.deepEqual(await leftovers(root), []);
  });
});

test('two-phase placement with a SyncBatch: prepare all, flush, commit all', async () => {
  await withTempDir('place', async (dir) => {
    const batch = new SyncBatch();
    const plans = [];
    for (let i = 0; i < 5; i++) {
      const staged = await stage(dir, `s${i}`, `file ${i}`);
      plans.push(planPlace(hostPathOf(staged), hostPathOf(path.join(dir, `t${i}`)), 'copy'));
    }
    for (const p of plans) await preparePlace(p, { sync: batch });
    assert.equal(batch.size, 5);
    await batch.flush();
    for (const p of plans) await commitPlace(p, { sync: batch });
    await batch.flush();
    for (let i = 0; i < 5; i++) assert.equal(await fsp.readFile(path.join(dir, `t${i}`), 'utf8'), `file ${i}`);
    assert.deepEqual(await leftovers(dir), []);
  });
});

function crashAt(at: number, seen: string[] = []): StepHooks {
  return {
    step(name) {
      if (seen.length === at) throw new OvermergeError('E_CRASH_INJECTED', `crash before ${name}`);
      seen.push(name);
    },
  };
}

test('crash sweep: a placement interrupted at any step is atomic and undone by undoPlace (+ restoreBackup)', async (t) => {
  if (gate(t, { mount: 'tmpfs' })) return;
  await withTmpfs(8 << 20, async (otherFs) => {
    await withTempDir('place', async (dir) => {
      for (const stagingDir of [dir, otherFs]) {
        for (const mode of MODES) {
          const all: string[] = [];
          const probeTarget = path.join(dir, 'probe');
          await place(planPlace(hostPathOf(await stage(stagingDir, 'probe-staged', 'x')), hostPathOf(probeTarget), mode), { hooks: { step: (n) => void all.push(n) } });
          await fsp.rm(probeTarget);
          await fsp.rm(path.join(stagingDir, 'probe-staged'), { force: true });
          for (let at = 0; at < all.length; at++) {
            // Upgrade: the old file is backed up (kept in place) first, as the engine does.
            const target = path.join(dir, 'target');
            await fsp.writeFile(target, 'old');
            const backup = await moveAside(planMoveAside(hostPathOf(target), { keepOriginal: true }));
            const staged = await stage(stagingDir, 'staged', 'new');
            const plan = planPlace(hostPathOf(staged), hostPathOf(target), mode);
            await assert.rejects(place(plan, { hooks: crashAt(at) }), { code: 'E_CRASH_INJECTED' });
            const seen = await fsp.readFile(target, 'utf8');
            assert.ok(seen === 'old' || seen === 'new', `${mode}@${at}: the target is whole (${seen})`);
            await undoPlace(plan);
            await undoPlace(plan);
            await restoreBackup(backup);
            assert.equal(await fsp.readFile(target, 'utf8'), 'old', `${mode}@${at} restored`);
            assert.deepEqual(await leftovers(dir), [], `${mode}@${at}`);
            // Fresh install: nothing to restore, the target goes.
            const plan2 = planPlace(hostPathOf(await stage(stagingDir, 'staged2', 'new2')), hostPathOf(path.join(dir, 'fresh')), mode);
            await assert.rejects(place(plan2, { hooks: crashAt(at) }));
            await undoPlace(plan2, { removeTarget: true });
            assert.equal(await exists(path.join(dir, 'fresh')), false);
            assert.deepEqual(await leftovers(dir), []);
            await fsp.rm(path.join(stagingDir, 'staged'), { force: true });
            await fsp.rm(path.join(stagingDir, 'staged2'), { force: true });
            await discardBackup(backup);
          }
        }
      }
    });
  });
});

test('undoPlace gives a renamed or hard-linked file back to staging so the placement can be retried', async () => {
  await withTempDir('place', async (dir) => {
    for (const mode of ['rename', 'hardlink'] as const) {
      const staged = await stage(dir, `s-${mode}`, 'payload');
      const plan = planPlace(hostPathOf(staged), hostPathOf(path.join(dir, `t-${mode}`)), mode);
      await place(plan);
      await undoPlace(plan, { removeTarget: true });
      assert.equal(await fsp.readFile(staged, 'utf8'), 'payload');
      assert.equal(await exists(plan.target), false);
    }
  });
});

test('folders that gave EXDEV are remembered: the next files between them are copied without a failing rename first', async (t) => {
  if (gate(t, { mount: 'tmpfs' })) return;
  await withTmpfs(8 << 20, async (staging) => {
    await withTempDir('place-xdev', async (root) => {
      await fsp.mkdir(path.join(root, 'sub'));
      // The module object itself (an ES namespace import is a copy): place.js calls fs.renameSync through it.
      const fs = require('node:fs') as typeof import('node:fs');
      const realRename = fs.renameSync;
      let exdev = 0;
      t.mock.method(fs, 'renameSync', (from: PathLike, to: PathLike) => {
        try {
          realRename(from, to);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EXDEV') exdev++;
          throw err;
        }
      });
      const placeAll = async (memory: CrossDevicePairs | undefined, prefix: string): Promise<number> => {
        exdev = 0;
        const sync = new SyncBatch();
        for (let i = 0; i < 12; i++) {
          const staged = await stage(staging, `${prefix}${i}`, `content ${prefix}${i}`);
          const target = path.join(root, i % 2 === 0 ? '' : 'sub', `${prefix}${i}`);
          const result = await placeFile(planPlace(hostPathOf(staged), hostPathOf(target), 'rename'), { sync, crossDevice: memory });
          assert.deepEqual(result, { method: 'copy', exdevFallback: true });
          assert.equal(await fsp.readFile(target, 'utf8'), `content ${prefix}${i}`);
          assert.equal(await exists(staged), false, 'rename mode consumes the staged file, also by copying it');
        }
        await sync.flush();
        return exdev;
      };
      assert.equal(await placeAll(undefined, 'a'), 24, 'without the memory: two failing renames per file');
      assert.equal(await placeAll(new CrossDevicePairs(), 'b'), 2, 'with it: one per pair of folders (staging to root, staging to root/sub)');
      assert.deepEqual(await leftovers(root), []);
    });
  });
});

test('placements on one filesystem remember nothing and rename as before', async () => {
  await withTempDir('place-samefs', async (dir) => {
    const memory = new CrossDevicePairs();
    const staged = await stage(dir, 'staged', 'x');
    const sync = new SyncBatch();
    const result = await placeFile(planPlace(hostPathOf(staged), hostPathOf(path.join(dir, 'target')), 'rename'), { sync, crossDevice: memory });
    await sync.flush();
    assert.deepEqual(result, { method: 'rename', exdevFallback: false });
    assert.equal(memory.has(hostPathOf(staged), hostPathOf(path.join(dir, 'target'))), false);
  });
});
