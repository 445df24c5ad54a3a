import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { acquireLock, readLockHolder, tryAcquireLock } from '../../src/engine/lock';
import { OvermergeError } from '../../src/errors';
import { withTempDir } from '../helpers/temp';

const LOCK_JS = path.resolve(__dirname, '../../src/engine/lock.js');

/** An admin folder path (not made yet) inside a temporary root, for the duration of `fn`. */
function withAdminDir(fn: (admin: string) => Promise<void> | void): Promise<void> {
  return withTempDir('lock', async (dir) => fn(path.join(dir, 'var/lib/overmerge')));
}

/**
 * A node process that takes the lock (try once, or wait `waitSeconds`), reports `got` or `locked <message>`
 * on stdout, then obeys stdin lines: `release`, `exit` (process.exit without releasing; the exit handler
 * must do it). SIGTERM makes it exit through its own handler, as the CLI's will.
 */
function holder(admin: string, waitSeconds = 0): ChildProcessWithoutNullStreams {
  const script = `
    const { acquireLock, releaseOnExit } = require(${JSON.stringify(LOCK_JS)});
    const readline = require('node:readline');
    acquireLock(${JSON.stringify(admin)}, { waitSeconds: ${waitSeconds}, label: '/the/root', command: 'overmerge install held.deb' })
      .then((lock) => {
        releaseOnExit(lock);
        process.on('SIGTERM', () => process.exit(143));
        process.stdout.write('got\\n');
        readline.createInterface({ input: process.stdin }).on('line', (l) => {
          if (l === 'release') { lock.release(); process.stdout.write('released\\n'); }
          if (l === 'exit') process.exit(0);
        });
      }, (err) => { process.stdout.write('locked ' + err.message + '\\n'); process.exit(0); });
  `;
  return spawn(process.execPath, ['-e', script], { stdio: 'pipe' });
}

/** The next stdout line of `child`. */
function nextLine(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) {
        child.stdout.off('data', onData);
        child.off('exit', onExit);
        if (i + 1 < buf.length) child.stdout.unshift(Buffer.from(buf.slice(i + 1)));
        resolve(buf.slice(0, i));
      }
    };
    const onExit = (): void => reject(new Error(`child exited before writing a line (${buf})`));
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

function exited(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function isLocked(pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof OvermergeError, String(err));
    assert.equal(err.code, 'E_LOCKED');
    assert.match(err.message, pattern);
    return true;
  };
}

/** A PID that certainly belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function writeLock(admin: string, holderFields: Record<string, unknown>): string {
  fs.mkdirSync(admin, { recursive: true });
  const file = path.join(admin, 'lock');
  fs.writeFileSync(file, JSON.stringify({ host: os.hostname(), token: 'feedfeed', since: '2020-01-01T00:00:00Z', command: 'old', ...holderFields }));
  return file;
}

test('acquire creates the lock naming this process; release removes it and is idempotent', async () => {
  await withAdminDir(async (admin) => {
    const lock = await acquireLock(admin, { command: 'overmerge test' });
    assert.equal(lock.file, path.join(admin, 'lock'));
    const h = readLockHolder(admin);
    assert.equal(h?.pid, process.pid);
    assert.equal(h?.command, 'overmerge test');
    assert.match(h?.start ?? '', /^\d+$/);
    assert.throws(() => tryAcquireLock(admin, { label: '/r' }), isLocked(new RegExp(`^/r is locked by PID ${process.pid} \\(overmerge test, since `)));
    lock.release();
    lock.release();
    assert.equal(readLockHolder(admin), undefined);
    assert.deepEqual(fs.readdirSync(admin), [], 'no temporary files left');
    tryAcquireLock(admin).release();
  });
});

test('a second writer fails at once with the holding PID; the lock is free once the holder releases', async () => {
  await withAdminDir(async (admin) => {
    const child = holder(admin);
    try {
      assert.equal(await nextLine(child), 'got');
      assert.throws(
        () => tryAcquireLock(admin, { label: '/the/root' }),
        isLocked(new RegExp(`^/the/root is locked by PID ${child.pid} \\(overmerge install held\\.deb, since \\d{4}-`)),
      );
      await assert.rejects(acquireLock(admin), isLocked(new RegExp(`locked by PID ${child.pid}`)));
      child.stdin.write('release\n');
      assert.equal(await nextLine(child), 'released');
      tryAcquireLock(admin).release();
    } finally {
      child.kill('SIGKILL');
      await exited(child);
    }
  });
});

test('a lock whose holder was killed is taken over', async () => {
  await withAdminDir(async (admin) => {
    const child = holder(admin);
    assert.equal(await nextLine(child), 'got');
    child.kill('SIGKILL');
    await exited(child);
    assert.equal(readLockHolder(admin)?.pid, child.pid, 'SIGKILL left the lock behind');
    const lock = tryAcquireLock(admin);
    assert.equal(readLockHolder(admin)?.pid, process.pid);
    lock.release();
  });
});

test('stale locks are taken over: dead PID, recycled PID, old garbage; fresh garbage is respected', async () => {
  await withAdminDir((admin) => {
    writeLock(admin, { pid: deadPid(), start: '1' });
    tryAcquireLock(admin).release();

    // PID 1 is alive, but it is not the process that took this lock: its start time differs.
    writeLock(admin, { pid: 1, start: 'not-the-start-time' });
    tryAcquireLock(admin).release();

    const file = path.join(admin, 'lock');
    fs.writeFileSync(file, '');
    assert.throws(() => tryAcquireLock(admin, { label: '/r' }), isLocked(/^\/r is locked by another process \(the lock is being written\)/));
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(file, old, old);
    tryAcquireLock(admin).release();

    fs.writeFileSync(file, JSON.stringify({ pid: -1, token: 'x' }));
    fs.utimesSync(file, old, old);
    tryAcquireLock(admin).release();
    assert.deepEqual(fs.readdirSync(admin), []);
  });
});

test('a live holder, or one on another host, is never evicted', async () => {
  await withAdminDir((admin) => {
    writeLock(admin, { pid: 1, start: null });
    assert.throws(() => tryAcquireLock(admin), isLocked(/locked by PID 1 \(old, since 2020-01-01/));
    writeLock(admin, { pid: deadPid(), start: '1', host: 'elsewhere.example' });
    assert.throws(() => tryAcquireLock(admin), isLocked(/\(on elsewhere\.example, old, since/));
  });
});

test('with waitSeconds the writer waits for the holder to release', async () => {
  await withAdminDir(async (admin) => {
    const child = holder(admin);
    try {
      assert.equal(await nextLine(child), 'got');
      const waiting = acquireLock(admin, { waitSeconds: 30, pollMs: 20 });
      setTimeout(() => child.stdin.write('release\n'), 200);
      const lock = await waiting;
      assert.equal(readLockHolder(admin)?.pid, process.pid);
      lock.release();
    } finally {
      child.kill('SIGKILL');
      await exited(child);
    }
  });
});

test('waiting gives up after waitSeconds with the holder named', async () => {
  await withAdminDir(async (admin) => {
    const child = holder(admin);
    try {
      assert.equal(await nextLine(child), 'got');
      await assert.rejects(
        acquireLock(admin, { waitSeconds: 0.2, pollMs: 20 }),
        isLocked(new RegExp(`locked by PID ${child.pid} .*; gave up after waiting 0\\.2s$`)),
      );
    } finally {
      child.kill('SIGKILL');
      await exited(child);
    }
  });
});

test('the lock goes with the process: process.exit and a SIGTERM handler both release it', async () => {
  await withAdminDir(async (admin) => {
    const a = holder(admin);
    assert.equal(await nextLine(a), 'got');
    a.stdin.write('exit\n');
    await exited(a);
    assert.equal(readLockHolder(admin), undefined);

    const b = holder(admin);
    assert.equal(await nextLine(b), 'got');
    b.kill('SIGTERM');
    await exited(b);
    assert.equal(b.exitCode, 143);
    assert.equal(readLockHolder(admin), undefined);
  });
});

test('many processes racing for a stale lock: exactly one wins', async () => {
  await withAdminDir(async (admin) => {
    for (let round = 0; round < 3; round++) {
      writeLock(admin, { pid: deadPid(), start: '1' });
      const children = Array.from({ length: 6 }, () => holder(admin));
      try {
        const lines = await Promise.all(children.map(nextLine));
        const winners = lines.filter((l) => l === 'got');
        assert.equal(winners.length, 1, lines.join('\n'));
        const winner = children[lines.indexOf('got')];
        assert.equal(readLockHolder(admin)?.pid, winner.pid);
        for (const l of lines.filter((x) => x !== 'got')) assert.match(l, /^locked \/the\/root is locked by /);
      } finally {
        for (const c of children) c.kill('SIGKILL');
        await Promise.all(children.map(exited));
      }
    }
  });
});
