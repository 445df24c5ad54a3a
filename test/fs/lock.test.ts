import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { OvermergeError } from '../../src/errors';
import { loadBinding } from '../../src/fs/fcntl';
import { hostPathOf } from '../../src/fs/host-path';
import { acquireLock, tryLock } from '../../src/fs/lock';
import { REPO_ROOT } from '../helpers/run-cli';
import { withTempDir } from '../helpers/temp';

/**
 * The writer lock is a kernel fcntl lock: other processes are refused with the holder's PID, the kernel
 * frees it when its holder dies (kill -9 too), and it is the very lock dpkg, apt and Python's lockf take,
 * which the tests show against them (and that flock(1) is a different, non-conflicting kind).
 */

const LOCK_JS = path.resolve(__dirname, '../../src/fs/lock.js');

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

const isRoot = process.getuid?.() === 0;

/** A child that reports `got` or `locked ...` on stdout, then obeys stdin lines (`release`, `exit`). */
interface Holder {
  child: ChildProcessWithoutNullStreams;
  next(): Promise<string>;
  send(line: string): void;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

function startHolder(command: string, args: string[]): Holder {
  const child = spawn(command, args, { stdio: 'pipe' });
  let buf = '';
  const waiting: Array<(line: string) => void> = [];
  const lines: string[] = [];
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    next: () =>
      lines.length > 0
        ? Promise.resolve(lines.shift() as string)
        : Promise.race([new Promise<string>((r) => waiting.push(r)), exited.then(() => Promise.reject(new Error(`${command} exited without a line`)))]),
    send: (line) => child.stdin.write(`${line}\n`),
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Our lock module in a node child: acquire (waiting `waitSeconds`), `release` on request, `exit` without. */
function nodeHolder(file: string, waitSeconds = 0): Holder {
  const script = `
    const { acquireLock } = require(${JSON.stringify(LOCK_JS)});
    acquireLock(${JSON.stringify(file)}, { waitSeconds: ${waitSeconds}, pollMs: 20, label: '/the/root' }).then((lock) => {
      process.stdout.write('got\\n');
      require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
        if (l === 'release') { lock.release(); process.stdout.write('released\\n'); }
        if (l === 'exit') process.exit(0);
      });
    }, (err) => { process.stdout.write('locked ' + err.message + '\\n'); process.exit(0); });
  `;
  return startHolder(process.execPath, ['-e', script]);
}

/** Python's fcntl.lockf: fcntl(F_SETLK) with F_WRLCK over the whole file, another program's own call. */
function pythonHolder(file: string): Holder {
  const script = `
import fcntl, sys
f = open(sys.argv[1], 'a+')
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError as e:
    print('locked', e.errno, flush=True)
    sys.exit(0)
print('got', flush=True)
for line in sys.stdin:
    if line.strip() == 'release':
        fcntl.lockf(f, fcntl.LOCK_UN)
        print('released', flush=True)
`;
  return startHolder('python3', ['-c', script, file]);
}

function isLocked(pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof OvermergeError, String(err));
    assert.equal(err.code, 'E_LOCKED');
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  };
}

function withLockFile(fn: (file: string, dir: string) => Promise<void>): Promise<void> {
  return withTempDir('lock', (dir) => fn(path.join(dir, 'lock'), dir));
}

test('the lock file is created 0644 (or the mode asked for) whatever the umask, and kept after release', async () => {
  await withLockFile(async (file, dir) => {
    const old = process.umask(0o077);
    try {
      const lock = tryLock(hostPathOf(file));
      assert.equal(lock.file, file);
      assert.equal(fs.statSync(file).mode & 0o7777, 0o644);
      lock.release();
      lock.release();
      const dpkgLike = path.join(dir, 'dpkg-lock');
      tryLock(hostPathOf(dpkgLike), { mode: 0o640 }).release();
      assert.equal(fs.statSync(dpkgLike).mode & 0o7777, 0o640);
      fs.chmodSync(dpkgLike, 0o600);
      tryLock(hostPathOf(dpkgLike)).release();
      assert.equal(fs.statSync(dpkgLike).mode & 0o7777, 0o600, 'an existing lock file keeps its mode');
    } finally {
      process.umask(old);
    }
    assert.deepEqual(fs.readdirSync(dir).sort(), ['dpkg-lock', 'lock']);
    assert.equal(fs.statSync(file).size, 0, 'nothing is written into the file');
  });
});

test('a symlink or a folder at the lock name is refused, never followed', async () => {
  await withLockFile(async (file, dir) => {
    const target = path.join(dir, 'elsewhere');
    fs.symlinkSync(target, file);
    assert.throws(() => tryLock(hostPathOf(file)), (err: unknown) => err instanceof OvermergeError && err.code === 'E_FS' && /symbolic links/.test(err.message));
    assert.equal(fs.existsSync(target), false, 'the symlink target was not created');
    fs.unlinkSync(file);
    fs.mkdirSync(file);
    assert.throws(() => tryLock(hostPathOf(file)), (err: unknown) => err instanceof OvermergeError && err.code === 'E_FS');
  });
});

test('a second attempt by the holding process is refused, and does not drop the lock it holds', async () => {
  await withLockFile(async (file) => {
    const lock = tryLock(hostPathOf(file), { label: '/r' });
    assert.throws(() => tryLock(hostPathOf(file), { label: '/r' }), isLocked(new RegExp(`^/r is locked by PID ${process.pid} \\(this process\\)$`)));
    await assert.rejects(acquireLock(hostPathOf(file), { label: '/r' }), isLocked(/this process/));
    // Closing the refused attempt's descriptor would have dropped the process's lock: it must still hold.
    const other = nodeHolder(file);
    try {
      assert.match(await other.next(), new RegExp(`^locked /the/root is locked by PID ${process.pid} \\(`));
    } finally {
      await other.kill();
    }
    lock.release();
    tryLock(hostPathOf(file)).release();
  });
});

test('another process is refused at once, naming the holder by PID and command line', async () => {
  await withLockFile(async (file) => {
    const h = nodeHolder(file);
    try {
      assert.equal(await h.next(), 'got');
      assert.throws(() => tryLock(hostPathOf(file), { label: '/the/root' }), isLocked(new RegExp(`^/the/root is locked by PID ${h.child.pid} \\(${escape(process.execPath)} -e const `)));
      await assert.rejects(acquireLock(hostPathOf(file)), isLocked(new RegExp(`^${escape(file)} is locked by PID ${h.child.pid} `)));
      h.send('release');
      assert.equal(await h.next(), 'released');
      tryLock(hostPathOf(file)).release();
    } finally {
      await h.kill();
    }
  });
});

test('kill -9 of the holder frees the lock at once: the very next attempt succeeds', async () => {
  await withLockFile(async (file) => {
    for (let round = 0; round < 3; round++) {
      const h = nodeHolder(file);
      assert.equal(await h.next(), 'got');
      assert.throws(() => tryLock(hostPathOf(file)), isLocked(/locked by PID/));
      await h.kill('SIGKILL');
      tryLock(hostPathOf(file)).release();
    }
  });
});

test('with waitSeconds the writer waits, and gets the lock when the holder exits without releasing', async () => {
  await withLockFile(async (file) => {
    const h = nodeHolder(file);
    try {
      assert.equal(await h.next(), 'got');
      let settled = false;
      const waiting = acquireLock(hostPathOf(file), { waitSeconds: 30, pollMs: 20 }).finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(settled, false, 'must wait while the lock is held');
      h.send('exit');
      (await waiting).release();
    } finally {
      await h.kill();
    }
  });
});

test('waiting gives up after waitSeconds with the holder named', async () => {
  await withLockFile(async (file) => {
    const h = nodeHolder(file);
    try {
      assert.equal(await h.next(), 'got');
      const t0 = Date.now();
      await assert.rejects(
        acquireLock(hostPathOf(file), { waitSeconds: 0.3, pollMs: 20, label: '/r' }),
        isLocked(new RegExp(`^/r is locked by PID ${h.child.pid} .*; gave up after waiting 0\\.3s$`)),
      );
      assert.ok(Date.now() - t0 >= 290, 'waited the time asked');
    } finally {
      await h.kill();
    }
  });
});

test('many processes racing for the lock: exactly one wins, the others name it', async () => {
  await withLockFile(async (file) => {
    for (let round = 0; round < 3; round++) {
      const hs = Array.from({ length: 6 }, () => nodeHolder(file));
      try {
        const lines = await Promise.all(hs.map((h) => h.next()));
        assert.equal(lines.filter((l) => l === 'got').length, 1, lines.join('\n'));
        const winner = hs[lines.indexOf('got')].child.pid;
        for (const l of lines.filter((x) => x !== 'got')) assert.match(l, new RegExp(`^locked /the/root is locked by PID ${winner} `));
      } finally {
        await Promise.all(hs.map((h) => h.kill()));
      }
    }
  });
});

test('the descriptor is close-on-exec: children (maintainer scripts) do not inherit it', async () => {
  await withLockFile(async (file) => {
    const lock = tryLock(hostPathOf(file));
    try {
      const fdsOf = (pidExpr: string): string[] =>
        spawnSync('sh', ['-c', `for f in /proc/${pidExpr}/fd/*; do readlink "$f"; done`], { encoding: 'utf8' }).stdout.split('\n');
      assert.ok(fdsOf(String(process.pid)).includes(file), 'this process has it open');
      assert.ok(!fdsOf('$$').includes(file), 'a child does not');
    } finally {
      lock.release();
    }
  });
});

test('the lock conflicts with Python fcntl.lockf both ways; flock(1) is another kind and does not', async (t) => {
  if (!has('python3')) return t.skip('python3 not installed');
  await withLockFile(async (file) => {
    const py = pythonHolder(file);
    try {
      assert.equal(await py.next(), 'got');
      assert.throws(() => tryLock(hostPathOf(file), { label: '/r' }), isLocked(new RegExp(`^/r is locked by PID ${py.child.pid} \\(\\S*python3\\S* -c import fcntl`)));
      py.send('release');
      assert.equal(await py.next(), 'released');
    } finally {
      await py.kill();
    }

    const lock = tryLock(hostPathOf(file));
    try {
      const refused = pythonHolder(file);
      assert.match(await refused.next(), /^locked (11|13)$/, 'EAGAIN or EACCES');
      await refused.kill();
      if (has('flock')) {
        // flock(2) locks and fcntl locks do not see each other on Linux: why we could not use flock.
        assert.equal(spawnSync('flock', ['--nonblock', '--conflict-exit-code', '99', file, 'true']).status, 0);
      }
    } finally {
      lock.release();
    }
  });
});

test("dpkg's own lock: dpkg is refused while we hold it, and we are refused while dpkg does", async (t) => {
  if (!has('dpkg') || !has('dpkg-deb')) return t.skip('dpkg not installed');
  if (!isRoot) return t.skip('dpkg needs root to lock its database');
  await withTempDir('dpkg-lock', async (work) => {
    const root = path.join(work, 'root');
    const admin = path.join(root, 'var/lib/dpkg');
    for (const d of ['updates', 'info', 'triggers']) fs.mkdirSync(path.join(admin, d), { recursive: true });
    fs.writeFileSync(path.join(admin, 'status'), '');
    fs.writeFileSync(path.join(admin, 'available'), '');
    const dbLock = path.join(admin, 'lock');
    const dpkg = (...args: string[]) => spawnSync('dpkg', args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });

    const lock = tryLock(hostPathOf(dbLock), { mode: 0o640 });
    try {
      for (const where of [['--root', root], ['--admindir', admin]]) {
        const r = dpkg(...where, '--configure', '-a');
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, new RegExp(`lock was locked by another process with pid ${process.pid}\\b`));
      }
    } finally {
      lock.release();
    }
    assert.equal(dpkg('--root', root, '--configure', '-a').status, 0, 'free again once released');

    // dpkg holding its lock: unpacking a package whose preinst waits until told to go on.
    const hold = path.join(work, 'hold');
    const started = path.join(work, 'started');
    const pkg = path.join(work, 'pkg');
    fs.mkdirSync(path.join(pkg, 'DEBIAN'), { recursive: true });
    fs.writeFileSync(path.join(pkg, 'DEBIAN/control'), 'Package: holder\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@overmerge.invalid>\nDescription: holds the lock\n');
    fs.writeFileSync(path.join(pkg, 'DEBIAN/preinst'), `#!/bin/sh\ntouch '${started}'\nwhile [ -e '${hold}' ]; do sleep 0.05; done\nexit 1\n`, { mode: 0o755 });
    const deb = path.join(work, 'holder.deb');
    assert.equal(spawnSync('dpkg-deb', ['--build', '--root-owner-group', pkg, deb]).status, 0);
    fs.writeFileSync(hold, '');
    const child = spawn('dpkg', ['--root', root, '--force-script-chrootless', '--unpack', deb], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const deadline = Date.now() + 30_000;
      while (!fs.existsSync(started) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(fs.existsSync(started), 'dpkg ran the preinst');
      assert.throws(() => tryLock(hostPathOf(dbLock), { label: root }), isLocked(new RegExp(`is locked by PID ${child.pid} \\(dpkg --root `)));
    } finally {
      fs.rmSync(hold, { force: true });
      await exited;
    }
    tryLock(hostPathOf(dbLock)).release();
  });
});

test('a native module that is not built is named with the fix, in one line', async () => {
  await withTempDir('no-native', async (dir) => {
    const missing = path.join(dir, 'fcntl_lock.node');
    const named = (how: RegExp) => (err: unknown) =>
      err instanceof OvermergeError &&
      err.code === 'E_NATIVE' &&
      how.test(err.message) &&
      err.hint === `run \`npm run build:native\` in ${REPO_ROOT}` &&
      !err.message.includes('\n');
    assert.throws(() => loadBinding(missing), named(/^the native module fcntl-lock is not built for Node v[\d.]+: its build is missing/));
    fs.writeFileSync(missing, 'not a shared object');
    assert.throws(() => loadBinding(missing), named(/^the native module fcntl-lock is not built for Node v[\d.]+: /));
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
