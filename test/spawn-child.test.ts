import { test } from 'node:test';
import assert from 'node:assert/strict';
import childProcess from 'node:child_process';
import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './helpers/run-cli';
import { expected, observe } from './helpers/spawn-observe';
import { withTempDir } from './helpers/temp';
import { unbuiltAddonPreload } from './helpers/unbuilt-addon';
import { spawnChild, type Child } from '../src/spawn-child';

// spawnChild starts programs with posix_spawn (the spawn_child addon) and falls back to Node's spawn: the
// two must be indistinguishable to the child and to the caller. observe() records what a child sees and
// what the caller is told; the test runs it here (the addon) and in a process where the addon is missing.

test('posix_spawn: what the child sees and what the caller is told, as under Node; Node spawn only for the file without #!', async () => {
  await withTempDir('spawn-child', async (tmp) => {
    const dir = realpathSync(tmp);
    const nodeSpawn = childProcess.spawn;
    let nodeSpawns = 0;
    childProcess.spawn = ((...args: Parameters<typeof nodeSpawn>) => {
      nodeSpawns++;
      return nodeSpawn(...args);
    }) as typeof nodeSpawn;
    try {
      assert.deepEqual(await observe(dir), expected(dir));
    } finally {
      childProcess.spawn = nodeSpawn;
    }
    assert.equal(nodeSpawns, 1, 'Node spawn ran only the file without #! (posix_spawn said ENOEXEC)');
  });
});

test("without the addon (npm skipped its build), Node's spawn gives the same, and inherited output reaches ours", async () => {
  await withTempDir('spawn-child', async (tmp) => {
    const dir = realpathSync(tmp);
    const preload = await unbuiltAddonPreload(dir, 'spawn_child.node', 'spawn_child.node refused');
    const module = path.join(REPO_ROOT, 'dist', 'test', 'helpers', 'spawn-observe.js');
    const script = `require(${JSON.stringify(module)}).observeForTest(${JSON.stringify(dir)}).then((o) => process.stdout.write('\\n' + JSON.stringify(o)));`;
    for (const [label, args] of [
      ['without', ['--require', preload, '-e', script]],
      ['with', ['-e', script]],
    ] as const) {
      const r = childProcess.spawnSync(process.execPath, [...args], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${label}: ${r.stderr}`);
      const lines = r.stdout.trimEnd().split('\n').filter(Boolean);
      assert.deepEqual(JSON.parse(lines.pop() ?? ''), expected(dir), label);
      // The inherited stdout (a pipe here, close-on-exec in Node) reached the child, in order.
      assert.deepEqual(lines, ['inherited'], label);
      assert.equal(r.stderr.includes('spawn_child.node refused'), label === 'without', `${label}: ${r.stderr}`);
    }
  });
});


test('stdoutCapacity: the child writes that far ahead of our reads (F_SETPIPE_SZ); without it, the pipe stops it at 64 KiB', async () => {
  // 512 KiB written while nobody reads, then a word on stderr: it comes only when the writes fit in the
  // pipe (and in what Node reads ahead into its buffer, well under 512 KiB by default).
  const script = 'head -c 524288 /dev/zero; echo written >&2';
  const written = (c: Child, within: number): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), within);
      c.stderr?.on('data', (b: Buffer) => {
        if (b.toString().includes('written')) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
  const drain = async (c: Child): Promise<number> => {
    let n = 0;
    for await (const b of c.stdout ?? []) n += (b as Buffer).length;
    await c.closed;
    return n;
  };
  const roomy = spawnChild('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], stdoutCapacity: 1 << 20 });
  roomy.stdout?.pause();
  // A generous bound, only so that a kernel refusing the size fails the test instead of hanging it.
  assert.equal(await written(roomy, 30_000), true, 'the child could not write 512 KiB into a pipe of 1 MiB before we read');
  assert.equal(await drain(roomy), 524288);
  const tight = spawnChild('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  tight.stdout?.pause();
  const early = written(tight, 300);
  assert.equal(await early, false, 'the default pipe held 512 KiB: the control proves nothing');
  const late = written(tight, 30_000);
  assert.equal(await drain(tight), 524288);
  assert.equal(await late, true);
});
