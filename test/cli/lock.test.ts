import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { buildFixtureDebs, type FixtureName } from '../helpers/fixtures';
import { withTempDir } from '../helpers/temp';
import { ADMIN_REL, assertSameTree, rootState } from '../helpers/root-state';
import { whilePausedAt } from '../helpers/paused-child';
import { REPO_ROOT, spawnCli } from '../helpers/run-cli';

/**
 * The writer lock through the real entry point (bin/overmerge in its own process): refused while another
 * program holds ROOT/var/lib/overmerge/lock, free the moment a writer is killed with SIGKILL, and a clear
 * line when the native module behind it was never built.
 */

let workDir = '';
let debs: Record<FixtureName, string>;

before(async () => {
  workDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'overmerge-lock-cli-'));
  debs = await buildFixtureDebs(workDir);
});

after(async () => {
  if (workDir) await fsp.rm(workDir, { recursive: true, force: true });
});

function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  return withTempDir('lock-root', async (root) => {
    await fsp.chmod(root, 0o755);
    await fsp.mkdir(path.join(root, ADMIN_REL), { recursive: true });
    await fn(root);
  });
}

function oneLine(stderr: string): void {
  assert.match(stderr, /^overmerge: [^\n]+\n$/, `one line expected: ${JSON.stringify(stderr)}`);
}

test('while another program holds the lock (Python lockf), a writer exits 1 with one line naming its PID', async (t) => {
  if (spawnSync('sh', ['-c', 'command -v python3']).status !== 0) return t.skip('python3 not installed');
  await withRoot(async (root) => {
    const lockFile = path.join(root, ADMIN_REL, 'lock');
    const py = spawn('python3', ['-c', 'import fcntl,sys\nf=open(sys.argv[1],"a+")\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint("got",flush=True)\nsys.stdin.read()', lockFile]);
    try {
      await new Promise<void>((resolve, reject) => {
        py.stdout.once('data', () => resolve());
        py.once('exit', () => reject(new Error('python3 exited')));
      });
      const before = await rootState(root);
      const r = await spawnCli(['--root', root, 'install', debs['hello-1.0']]);
      assert.equal(r.status, 1);
      oneLine(r.stderr);
      assert.match(r.stderr, new RegExp(`^overmerge: ${root} is locked by PID ${py.pid} \\(\\S*python3\\S* -c import fcntl,sys f=open.*\\) \\(wait for it to finish, or pass --lock-wait SECONDS\\)\\n$`));
      const w = await spawnCli(['--root', root, '--lock-wait', '0.3', 'install', debs['hello-1.0']]);
      assert.equal(w.status, 1);
      oneLine(w.stderr);
      assert.match(w.stderr, new RegExp(`locked by PID ${py.pid} .*; gave up after waiting 0\\.3s \\(try again later, or wait longer with --lock-wait SECONDS\\)\\n$`));
      assertSameTree(await rootState(root), before, 'root after the refused writers');
    } finally {
      py.kill('SIGKILL');
    }
  });
});

test('kill -9 of a writer in the middle of a transaction frees the lock at once: recover runs next, unhindered', async () => {
  await withRoot(async (root) => {
    const pauseFile = path.join(workDir, `pause-${process.pid}`);
    await whilePausedAt(['--root', root, 'install', debs['hello-1.0']], 'place:start:/usr/bin/hello', pauseFile, async (child) => {
      const refused = await spawnCli(['--root', root, 'recover']);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, new RegExp(`is locked by PID ${child.pid} \\(`));
      await child.kill();
    });
    const r = await spawnCli(['--root', root, 'recover']);
    assert.equal(r.status, 0, r.stderr);
    const again = await spawnCli(['--root', root, 'install', debs['hello-1.0']]);
    assert.equal(again.status, 0, again.stderr);
  });
});

test('without the native module built, a writer says so and how to build it; readers still work', async () => {
  await withRoot(async (root) => {
    // A copy of the built program without src/fs/native/build, as after `npm install --ignore-scripts`.
    const copy = path.join(workDir, 'unbuilt');
    await fsp.cp(path.join(REPO_ROOT, 'dist', 'src'), path.join(copy, 'dist', 'src'), { recursive: true });
    await fsp.cp(path.join(REPO_ROOT, 'bin'), path.join(copy, 'bin'), { recursive: true });
    await fsp.symlink(path.join(REPO_ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    const run = (...args: string[]) => spawnSync(process.execPath, [path.join(copy, 'bin', 'overmerge'), '--root', root, ...args], { encoding: 'utf8' });
    const r = run('install', debs['hello-1.0']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `overmerge: the native module fcntl-lock is not built for Node ${process.version}: its build is missing (did npm skip its install script?) (run \`npm run build:native\` in ${copy})\n`);
    const list = run('list', '--json');
    assert.equal(list.status, 0, list.stderr);
    assert.equal(list.stdout.trim(), '[]');
  });
});
