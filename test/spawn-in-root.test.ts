import assert from 'node:assert/strict';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { spawnChild, startsInRoot, type Child } from '../src/spawn-child';
import { prepareScriptRoot } from './helpers/script-oracle';
import { withTempDir } from './helpers/temp';

// A maintainer script is started in the root by the child itself (chroot, chdir, exec; with a mount
// namespace and /proc of its own for a bootstrap), where chroot(8) or unshare(1) started it before. What
// the script sees must not differ: each observation is made both ways, on the same root.

const piped = ['pipe', 'pipe', 'pipe'] as const;

async function run(c: Child): Promise<{ out: string; err: string; code: number | null; signal: string | null; error?: string; step?: string }> {
  const text = async (s: NodeJS.ReadableStream | null): Promise<string> => {
    const parts: Buffer[] = [];
    for await (const b of s ?? []) parts.push(b as Buffer);
    return Buffer.concat(parts).toString();
  };
  const [out, err, exit] = await Promise.all([text(c.stdout), text(c.stderr), c.closed]);
  const e = exit.error as (NodeJS.ErrnoException & { step?: string }) | undefined;
  return { out, err, code: exit.code, signal: exit.signal, ...(e ? { error: e.code, step: e.step } : {}) };
}

// What a script reports of itself: where it is, its arguments, environment, signals, descriptors, /proc.
const SPY = [
  '#!/bin/sh',
  'echo "0=$0 args=$* cwd=$(pwd) A=$A HOME=${HOME-unset}"',
  'if [ -e /proc/self/status ]; then',
  '  while read -r k v; do case "$k" in SigBlk:|SigIgn:) echo "$k $v";; esac; done < /proc/self/status',
  '  for f in /proc/self/fd/*; do echo "fd ${f##*/}"; done',
  'else echo "no /proc"; fi',
  'exit 7',
  '',
].join('\n');

function mountsUnder(root: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => (l.split(' ')[1] ?? '').startsWith(root));
}

test('in a root: what the script sees is what it saw under chroot(8) and unshare(1); the /proc mount never outlives it', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('SKIPPED: needs root (chroot, mount namespaces)');
  if (!startsInRoot()) return t.skip('SKIPPED: the spawn_child addon was not built');
  await withTempDir('spawn-in-root', async (dir) => {
    const root = path.join(dir, 'root');
    await prepareScriptRoot(root, 'chroot');
    await fsp.mkdir(path.join(root, 'proc'), { mode: 0o555 });
    await fsp.writeFile(path.join(root, 'spy'), SPY, { mode: 0o755 });
    await fsp.writeFile(path.join(root, 'no-shebang'), 'echo "run by sh: $0 $1"\n', { mode: 0o755 });
    const env = { A: 'x y', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
    for (const privateProc of [false, true]) {
      const ours = await run(spawnChild('/spy', ['configure', '1.0'], { env, stdio: piped, root: { dir: root, privateProc } }));
      const wrapper = privateProc
        ? spawnChild('/usr/bin/unshare', ['--mount', '--propagation', 'private', `--root=${root}`, '--mount-proc=/proc', '/spy', 'configure', '1.0'], { env, stdio: piped, cwd: '/' })
        : spawnChild('/usr/sbin/chroot', [root, '/spy', 'configure', '1.0'], { env, stdio: piped, cwd: '/' });
      assert.deepEqual(ours, await run(wrapper), `privateProc ${privateProc}`);
      assert.match(ours.out, /^0=\/spy args=configure 1\.0 cwd=\/ A=x y HOME=unset\n/);
      assert.equal(ours.code, 7);
      if (privateProc) assert.match(ours.out, /SigBlk: 0{16}\nSigIgn: 0{16}\nfd 0\nfd 1\n/); // the rest of the list is the shell's own
      else assert.match(ours.out, /no \/proc\n$/);
      assert.deepEqual(mountsUnder(root), [], 'no mount left in the root');
      assert.deepEqual(await fsp.readdir(path.join(root, 'proc')), []);
    }
    // A file without #!: /bin/sh of the root runs it, as execvp in chroot(8) and dpkg does.
    assert.deepEqual(await run(spawnChild('/no-shebang', ['arg'], { env, stdio: piped, root: { dir: root, privateProc: false } })), {
      out: 'run by sh: /no-shebang arg\n',
      err: '',
      code: 0,
      signal: null,
    });
    // Ended by a signal; killed from here.
    const killed = spawnChild('/bin/sh', ['-c', 'kill -TERM $$'], { env, stdio: piped, root: { dir: root, privateProc: true } });
    assert.equal((await run(killed)).signal, 'SIGTERM');
    // What cannot start says which step failed, and nothing is left behind.
    assert.deepEqual(await run(spawnChild('/nowhere', [], { env, stdio: piped, root: { dir: root, privateProc: true } })), {
      out: '', err: '', code: null, signal: null, error: 'ENOENT', step: 'exec',
    });
    assert.deepEqual(await run(spawnChild('/spy', [], { env, stdio: piped, root: { dir: path.join(dir, 'missing'), privateProc: false } })), {
      out: '', err: '', code: null, signal: null, error: 'ENOENT', step: 'chroot',
    });
    await fsp.rmdir(path.join(root, 'proc'));
    assert.deepEqual(await run(spawnChild('/spy', [], { env, stdio: piped, root: { dir: root, privateProc: true } })), {
      out: '', err: '', code: null, signal: null, error: 'ENOENT', step: 'mount /proc',
    });
    assert.deepEqual(mountsUnder(root), []);
    assert.equal((await run(spawnChild('/spy', ['a\0b'], { env, stdio: piped, root: { dir: root, privateProc: false } }))).code, null);
  });
});
