import { test } from 'node:test';
import assert from 'node:assert/strict';
import childProcess from 'node:child_process';
import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './helpers/run-cli';
import { expected, observe } from './helpers/spawn-observe';
import { withTempDir } from './helpers/temp';
import { unbuiltAddonPreload } from './helpers/unbuilt-addon';

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

