import { test } from 'node:test';
import assert from 'node:assert/strict';
import childProcess from 'node:child_process';
import { realpathSync, writeFileSync } from 'node:fs';
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


test('pipeCapacity: the child writes that far ahead of our reads, and we ahead of its (F_SETPIPE_SZ); without it, 64 KiB', async () => {
  const piped = ['pipe', 'pipe', 'pipe'] as const;
  const HALF = 524288;
  // Whether what `arm` waits for comes within `ms`: a generous bound where it must come, only so that a
  // kernel refusing the size fails the test instead of hanging it; a short one where it must not (a full
  // pipe stays full however long one waits).
  const within = (ms: number, arm: (done: () => void) => void): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      arm(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  const drain = async (c: Child): Promise<number> => {
    let n = 0;
    for await (const b of c.stdout ?? []) n += (b as Buffer).length;
    await c.closed;
    return n;
  };
  const said = (c: Child, word: string) => (done: () => void) => c.stderr?.on('data', (b: Buffer) => b.toString().includes(word) && done());

  // Output: 512 KiB written while nobody reads, then a word on stderr, which comes only once the writes
  // fit in the pipe (and in what Node reads ahead into its buffer, well under 512 KiB).
  const writes = `head -c ${HALF} /dev/zero; echo written >&2`;
  const roomy = spawnChild('/bin/sh', ['-c', writes], { stdio: piped, pipeCapacity: 1 << 20 });
  roomy.stdout?.pause();
  assert.equal(await within(30_000, said(roomy, 'written')), true, 'the child could not write 512 KiB into a pipe of 1 MiB');
  assert.equal(await drain(roomy), HALF);
  const tight = spawnChild('/bin/sh', ['-c', writes], { stdio: piped });
  tight.stdout?.pause();
  const late = within(30_000, said(tight, 'written'));
  assert.equal(await within(300, said(tight, 'written')), false, 'the default pipe held 512 KiB: the control proves nothing');
  assert.equal(await drain(tight), HALF);
  assert.equal(await late, true);

  // Input: 512 KiB written to a child that reads nothing until a file appears; the write is done (all of
  // it in the pipe) only where the pipe holds it.
  await withTempDir('spawn-child', async (dir) => {
    for (const [capacity, fits] of [[1 << 20, true], [undefined, false]] as const) {
      const go = path.join(dir, `go-${fits}`);
      const c = spawnChild('/bin/sh', ['-c', `while [ ! -e '${go}' ]; do sleep 0.02; done; wc -c`], { stdio: piped, pipeCapacity: capacity });
      let out = '';
      c.stdout?.on('data', (b: Buffer) => (out += b.toString()));
      const flushed = within(fits ? 30_000 : 300, (done) => c.stdin?.write(Buffer.alloc(HALF), () => done()));
      assert.equal(await flushed, fits, fits ? "the child's stdin of 1 MiB did not take 512 KiB" : 'the default pipe took 512 KiB');
      writeFileSync(go, '');
      c.stdin?.end();
      await c.closed;
      assert.equal(out.trim(), String(HALF));
    }
  });
});

test('a NUL in the program, an argument, or a name or value of the environment: Node refuses the start, and `closed` says so', async () => {
  const env = { PATH: '/usr/bin:/bin' };
  for (const [label, file, args, childEnv] of [
    ['program', '/bin/tr\0ue', [], env],
    ['argument', '/bin/echo', ['a\0b'], env],
    ['value', '/bin/true', [], { ...env, X: 'a\0b' }],
    ['name', '/bin/true', [], { ...env, 'X\0Y': 'a' }],
  ] as const) {
    const c = spawnChild(file, args, { env: childEnv, stdio: ['ignore', 'ignore', 'ignore'] });
    const exit = await c.closed;
    assert.equal(exit.code, null, label);
    assert.match(String(exit.error?.message), /null bytes/, label);
  }
  const fine = await spawnChild('/bin/true', [], { env, stdio: ['ignore', 'ignore', 'ignore'] }).closed;
  assert.deepEqual(fine, { code: 0, signal: null });
});
