import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp, openSync, closeSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { spawnChild, type Child } from '../../src/spawn-child';

// What a child started by spawnChild sees and what its caller is told (test/spawn-child.test.ts): run in
// the test's process (the addon) and in processes of its own (with and without the addon).

async function text(s: NodeJS.ReadableStream | null): Promise<string> {
  const parts: Buffer[] = [];
  for await (const b of s ?? []) parts.push(b as Buffer);
  return Buffer.concat(parts).toString();
}

async function run(c: Child): Promise<{ out: string; err: string; code: number | null; signal: string | null; error?: string }> {
  const [out, err, exit] = await Promise.all([text(c.stdout), text(c.stderr), c.closed]);
  return { out, err, code: exit.code, signal: exit.signal, ...(exit.error ? { error: (exit.error as NodeJS.ErrnoException).code } : {}) };
}

export async function observe(dir: string): Promise<Record<string, unknown>> {
  const piped = ['pipe', 'pipe', 'pipe'] as const;
  const seen: Record<string, unknown> = {};
  seen.status = await run(spawnChild('/bin/sh', ['-c', 'exit 3'], { stdio: piped }));
  seen.signal = await run(spawnChild('/bin/sh', ['-c', 'kill -TERM $$'], { stdio: piped }));
  seen.envAndCwd = await run(spawnChild('/bin/sh', ['-c', 'echo "$A:$(pwd):${HOME-unset}"'], { stdio: piped, env: { A: 'x y' }, cwd: dir }));
  const cat = spawnChild('/bin/cat', [], { stdio: piped });
  cat.stdin?.end('through a pipe\n');
  seen.stdin = await run(cat);
  seen.stderr = await run(spawnChild('/bin/sh', ['-c', 'echo oops >&2'], { stdio: piped }));
  // Every signal at its default action and none blocked, whatever this process does with them.
  seen.signals = await run(spawnChild('/bin/grep', ['-E', '^Sig(Blk|Ign)', '/proc/self/status'], { stdio: piped }));
  // The descriptors Node's spawn gives (0, 1, 2, and any of ours without close-on-exec: none of the
  // files and pipes we hold), and ls's own listing.
  const held = openSync(path.join(dir, 'held'), 'w');
  try {
    const ours = (await run(spawnChild('/bin/ls', ['/proc/self/fd'], { stdio: piped }))).out;
    const node = spawnSync('/bin/ls', ['/proc/self/fd'], { encoding: 'utf8' }).stdout;
    seen.descriptors = ours === node && ['0', '1', '2', '3'].every((fd) => ours.split('\n').includes(fd)) ? 'as under Node' : { ours, node };
  } finally {
    closeSync(held);
  }
  const file = openSync(path.join(dir, 'out'), 'w');
  try {
    seen.toFile = await run(spawnChild('/bin/sh', ['-c', 'echo to a file; echo nothing >&2'], { stdio: ['ignore', file, 'ignore'] }));
  } finally {
    closeSync(file);
  }
  seen.fileHolds = readFileSync(path.join(dir, 'out'), 'utf8');
  seen.missing = await run(spawnChild(path.join(dir, 'no-such-program'), [], { stdio: piped }));
  // A file without #! is run by /bin/sh, as execvp (Node's spawn, dpkg's scripts) runs it.
  await fsp.writeFile(path.join(dir, 'no-shebang'), 'echo "run by sh: $1"\n', { mode: 0o755 });
  seen.noShebang = await run(spawnChild(path.join(dir, 'no-shebang'), ['arg'], { stdio: piped }));
  const umask = process.umask(0o027);
  let masked: Child;
  try {
    masked = spawnChild('/bin/sh', ['-c', 'umask'], { stdio: piped });
  } finally {
    process.umask(umask);
  }
  seen.umask = await run(masked);
  const sleeper = spawnChild('/bin/sleep', ['30'], { stdio: piped });
  sleeper.kill('SIGKILL');
  seen.killed = await run(sleeper);
  sleeper.kill('SIGKILL'); // after its exit: nothing, no throw
  return seen;
}

export function expected(dir: string): Record<string, unknown> {
  const ok = { err: '', code: 0, signal: null };
  return {
    status: { out: '', err: '', code: 3, signal: null },
    signal: { out: '', err: '', code: null, signal: 'SIGTERM' },
    envAndCwd: { ...ok, out: `x y:${dir}:unset\n` },
    stdin: { ...ok, out: 'through a pipe\n' },
    stderr: { out: '', err: 'oops\n', code: 0, signal: null },
    signals: { ...ok, out: 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n' },
    descriptors: 'as under Node',
    toFile: { out: '', err: '', code: 0, signal: null },
    fileHolds: 'to a file\n',
    missing: { out: '', err: '', code: null, signal: null, error: 'ENOENT' },
    noShebang: { ...ok, out: 'run by sh: arg\n' },
    umask: { ...ok, out: '0027\n' },
    killed: { out: '', err: '', code: null, signal: 'SIGKILL' },
  };
}

/** For the test's child processes: the inherited descriptors first, then observe(). */
export async function observeForTest(dir: string): Promise<Record<string, unknown>> {
  const inherited = spawnChild('/bin/echo', ['inherited']);
  assert.equal(inherited.stdout, null);
  assert.deepEqual(await inherited.closed, { code: 0, signal: null });
  return observe(dir);
}
