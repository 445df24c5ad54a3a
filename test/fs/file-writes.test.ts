import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { OvermergeError } from '../../src/errors';
import { FileWrites } from '../../src/fs/file-writes';
import { hostPathOf } from '../../src/fs/host-path';
import { addonPath } from '../../src/fs/own-addon';
import { gate } from '../helpers/gate';
import { REPO_ROOT } from '../helpers/run-cli';
import { withTmpfs } from '../helpers/mounts';
import { withTempDir } from '../helpers/temp';
import { unbuiltAddonPreload } from '../helpers/unbuilt-addon';

// The staging of small files on the thread pool (src/fs/native/write_file.c): what lands on disk, how a
// failure is reported, and that nothing is still writing once settle returns.

const asRoot = process.getuid?.() === 0;

test('the write_file addon is built and loads: these tests exercise it, not the synchronous fallback', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon = require(addonPath('write_file')) as { writeFiles?: unknown };
  assert.equal(typeof addon.writeFiles, 'function');
});

test('many files in several batches: content, mode (setuid kept after chown), owner and mtime as given', async () => {
  await withTempDir('file-writes', async (dir) => {
    const w = new FileWrites(asRoot);
    const expected = new Map<string, Buffer>();
    // 700 files pass the batch's 256 while one is written; some are empty, some in several parts, some 3 MiB.
    for (let i = 0; i < 700; i++) {
      const size = i % 50 === 0 ? 3 << 20 : i % 7 === 0 ? 0 : 100 + i;
      const whole = Buffer.alloc(size, i % 251);
      const parts = size > 1000 ? [whole.subarray(0, 1000), whole.subarray(1000)] : [whole];
      const p = path.join(dir, String(i));
      expected.set(p, whole);
      await w.write(hostPathOf(p), parts, size, { mode: i === 3 ? 0o4755 : 0o640, uid: 1234, gid: 5678, mtime: i === 5 ? 1_700_000_000.25 : 1_600_000_000 + i });
    }
    await w.drain();
    for (const [p, whole] of expected) {
      assert.deepEqual(await fsp.readFile(p), whole, p);
    }
    const st = (i: number) => fsp.lstat(path.join(dir, String(i)), { bigint: true });
    assert.equal((await st(3)).mode & 0o7777n, 0o4755n, 'setuid survives: the mode is set after the owner');
    assert.equal((await st(4)).mode & 0o7777n, 0o640n);
    assert.equal((await st(4)).mtimeNs, 1_600_000_004n * 1_000_000_000n);
    assert.equal((await st(5)).mtimeNs, 1_700_000_000_250_000_000n);
    if (asRoot) {
      assert.equal((await st(4)).uid, 1234n);
      assert.equal((await st(4)).gid, 5678n);
    }
  });
});

test('a name that exists is refused (O_EXCL, no symlink followed): E_FS naming the file and the call, the files after it not written', async () => {
  await withTempDir('file-writes', async (dir) => {
    const outside = path.join(dir, 'outside');
    await fsp.writeFile(outside, 'untouched');
    await fsp.symlink(outside, path.join(dir, 'planted'));
    const w = new FileWrites(asRoot);
    const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 1_600_000_000 };
    await w.write(hostPathOf(path.join(dir, 'a')), [Buffer.from('a')], 1, meta);
    await w.drain();
    // One batch (drain hands it over): b, the planted name, c.
    await w.write(hostPathOf(path.join(dir, 'b')), [Buffer.from('b')], 1, meta);
    await w.write(hostPathOf(path.join(dir, 'planted')), [Buffer.from('evil')], 4, meta);
    await w.write(hostPathOf(path.join(dir, 'c')), [Buffer.from('c')], 1, meta);
    const refused = (err: unknown): boolean => {
      assert.ok(err instanceof OvermergeError);
      assert.equal(err.code, 'E_FS');
      assert.equal(err.op, 'create staged file');
      assert.equal(err.path, path.join(dir, 'planted'));
      assert.equal(err.message, `cannot create staged file ${path.join(dir, 'planted')}: file exists`);
      return true;
    };
    await assert.rejects(w.drain(), refused);
    // Known now: the next write says it at once, and settle has nothing left to wait for.
    await assert.rejects(w.write(hostPathOf(path.join(dir, 'd')), [Buffer.from('d')], 1, meta), refused);
    await w.settle();
    assert.equal(await fsp.readFile(outside, 'utf8'), 'untouched');
    assert.deepEqual((await fsp.readdir(dir)).sort(), ['a', 'b', 'outside', 'planted'], 'c, after the failed one in its batch, and d are not written');
  });
});

test('a full filesystem: E_NO_SPACE naming the file being written', async (t) => {
  if (gate(t, { mount: 'tmpfs' })) return;
  await withTmpfs(1 << 20, async (dir) => {
    const w = new FileWrites(asRoot);
    const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 1_600_000_000 };
    const big = Buffer.alloc(2 << 20, 1);
    await w.write(hostPathOf(path.join(dir, 'big')), [big], big.length, meta);
    await assert.rejects(w.drain(), (err: unknown) => {
      assert.ok(err instanceof OvermergeError);
      assert.equal(err.code, 'E_NO_SPACE');
      assert.equal(err.op, 'write staged file');
      assert.equal(err.path, path.join(dir, 'big'));
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    await w.settle();
  });
});

test('where the addon was not built, the same files are written synchronously, with the same refusals', async () => {
  await withTempDir('file-writes', async (dir) => {
    // A preload makes the addon fail to load, as an unbuilt one does; the child writes through FileWrites.
    const preload = await unbuiltAddonPreload(dir, 'write_file.node', 'write_file.node refused');
    const out = path.join(dir, 'out');
    await fsp.mkdir(out);
    await fsp.writeFile(path.join(out, 'taken'), '');
    const script = `
const { FileWrites } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/src/fs/file-writes.js'))});
const out = ${JSON.stringify(out)};
(async () => {
  const w = new FileWrites(${asRoot});
  await w.write(out + '/a', [Buffer.from('al'), Buffer.from('pha')], 5, { mode: 0o4755, uid: 1234, gid: 5678, mtime: 1600000000 });
  await w.write(out + '/empty', [], 0, { mode: 0o600, uid: 0, gid: 0, mtime: 1700000000.5 });
  await w.drain();
  try {
    await w.write(out + '/taken', [Buffer.from('x')], 1, { mode: 0o644, uid: 0, gid: 0, mtime: 0 });
    console.log('not refused');
  } catch (err) {
    console.log(err.code + ' ' + err.op + ' ' + err.path);
  }
})();
`;
    const r = spawnSync(process.execPath, ['--require', preload, '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, 'write_file.node refused\n', 'the child tried the addon once and wrote without it');
    assert.equal(r.stdout, `E_FS create staged file ${path.join(out, 'taken')}\n`);
    assert.equal(await fsp.readFile(path.join(out, 'a'), 'utf8'), 'alpha');
    const a = await fsp.lstat(path.join(out, 'a'), { bigint: true });
    assert.equal(a.mode & 0o7777n, 0o4755n);
    assert.equal(a.mtimeNs, 1_600_000_000n * 1_000_000_000n);
    if (asRoot) assert.deepEqual([a.uid, a.gid], [1234n, 5678n]);
    const empty = await fsp.lstat(path.join(out, 'empty'), { bigint: true });
    assert.equal(empty.size, 0n);
    assert.equal(empty.mtimeNs, 1_700_000_000_500_000_000n);
    assert.equal(await fsp.readFile(path.join(out, 'taken'), 'utf8'), '', 'the existing file is untouched');
  });
});
