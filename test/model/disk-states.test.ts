import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { describe, it } from 'node:test';
import { hostPathOf } from '../../src/fs/host-path';
import type { RootPath } from '../../src/fs/rootpath';
import { ABSENT, type DiskState } from '../../src/model/disk';
import { DiskStates } from '../../src/model/disk-states';
import { withTempDir } from '../helpers/temp';

const rp = (s: string) => s as RootPath;
const file = (n: number): DiskState => ({
  type: 'file',
  mode: 0o644,
  uid: 1000 + n,
  gid: 4294967295,
  size: 2 ** 40 + n,
  mtimeNs: 1_700_000_000_123_456_789n + BigInt(n),
  ctimeNs: -5n,
  ino: 2n ** 64n - 1n - BigInt(n),
});

describe('DiskStates', () => {
  it('reads back plain states equal, through growth, and the one absent state as ABSENT', () => {
    const m = new DiskStates();
    for (let i = 0; i < 1000; i++) m.set(rp(`f${i}`), file(i));
    m.set(rp('dir'), { type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 4096, mtimeNs: 1n, ctimeNs: 2n, ino: 3n });
    m.set(rp('gone'), ABSENT);
    assert.equal(m.size, 1002);
    for (let i = 0; i < 1000; i += 37) assert.deepEqual(m.get(rp(`f${i}`)), file(i));
    assert.equal(m.get(rp('gone')), ABSENT);
    assert.equal(m.typeAt(rp('dir')), 'directory');
    assert.equal(m.typeAt(rp('nowhere')), undefined);
    assert.equal(m.get(rp('nowhere')), undefined);
    assert.ok(m.has(rp('f999')) && !m.has(rp('f1000')));
    assert.deepEqual(new Map(m), new Map([...Array.from({ length: 1000 }, (_, i) => [rp(`f${i}`), file(i)] as const), [rp('dir'), m.get(rp('dir'))!], [rp('gone'), ABSENT]]));
  });

  it('keeps a state with more than lstat facts, or a field out of a record, as the object itself', () => {
    const m = new DiskStates();
    const link: DiskState = { type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 3, mtimeNs: 1n, ctimeNs: 1n, ino: 9n, target: 'x', targetIsDir: false };
    const digested: DiskState = { ...file(1), md5: 'd41d8cd98f00b204e9800998ecf8427e' };
    const listed: DiskState = { type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtimeNs: 1n, ctimeNs: 1n, ino: 2n, children: [rp('d/a')] };
    const wide: DiskState = { ...file(2), uid: 2 ** 32 };
    const partial: DiskState = { type: 'file', mode: 0o644 };
    for (const [p, s] of [['l', link], ['m', digested], ['d', listed], ['w', wide], ['p', partial]] as const) {
      m.set(rp(p), s);
      assert.equal(m.get(rp(p)), s, p);
    }
    assert.equal(m.size, 5);
  });

  it('takes a state set again, whichever way it is kept, and hands out copies of plain ones', () => {
    const m = new DiskStates();
    m.set(rp('a'), file(1));
    const copy = m.get(rp('a'))!;
    copy.md5 = 'changed';
    assert.equal(m.get(rp('a'))!.md5, undefined, 'a copy: changing it changes nothing');
    m.set(rp('a'), copy);
    assert.equal(m.get(rp('a')), copy);
    m.set(rp('a'), file(7));
    assert.deepEqual(m.get(rp('a')), file(7));
    assert.equal(m.size, 1);
    assert.deepEqual([...m.keys()], [rp('a')]);
    m.clear();
    assert.equal(m.size, 0);
    m.set(rp('b'), file(3));
    assert.deepEqual(m.get(rp('b')), file(3));
  });

  it('keeps its paths as bytes: every path found again, through growth, whatever its characters', () => {
    const m = new DiskStates();
    const paths = Array.from({ length: 20_000 }, (_, i) => rp(i % 3 === 0 ? `usr/share/ü-${i % 91}/日本-${i}` : `usr/lib/x${i}`));
    for (let i = 0; i < paths.length; i++) m.set(paths[i], file(i));
    m.set(rp(''), file(-1));
    assert.equal(m.size, paths.length + 1);
    for (let i = 0; i < paths.length; i += 13) assert.deepEqual(m.get(paths[i]), file(i));
    assert.deepEqual(m.get(rp('')), file(-1), 'the root, an empty path');
    assert.equal(m.get(rp('usr/lib/x20000')), undefined);
    assert.equal(m.has(rp('usr/lib/x2')), true);
    assert.deepEqual([...m.keys()], [...paths, rp('')], 'in the order they came');
    // A state that becomes an object leaves its record, and comes back to it.
    m.set(paths[5], { ...file(5), md5: 'x' });
    assert.equal(m.size, paths.length + 1);
    assert.equal([...m.keys()].filter((p) => p === paths[5]).length, 1);
    assert.equal(m.get(paths[5])!.md5, 'x');
    m.set(paths[5], file(55));
    assert.deepEqual(m.get(paths[5]), file(55));
    assert.equal(m.size, paths.length + 1);
    m.clear();
    assert.equal(m.get(paths[0]), undefined);
    assert.deepEqual([...m.keys()], []);
  });

  it('keeps a few chunks in memory and the rest in its spill file, changes written back, in any order of use', async () => {
    await withTempDir('disk-states', async (dir) => {
      const m = new DiskStates(hostPathOf(dir));
      const n = 40_000; // about 20 chunks
      const path = (i: number) => rp(i % 5 === 0 ? `usr/share/ü-${i % 17}/日本-${i}` : `usr/lib/x${i}`);
      for (let i = 0; i < n; i++) m.set(path(i), file(i));
      assert.ok(m.chunksInMemory <= 8, `${m.chunksInMemory} chunks in memory`);
      assert.equal((await fsp.readdir(dir)).length, 0, 'the spill file has no name');
      // Read and changed far from the order they came: evicted chunks are written back, and read again.
      for (let i = n - 1; i >= 0; i -= 7) assert.deepEqual(m.get(path(i)), file(i));
      for (let i = 3; i < n; i += 11) m.set(path(i), file(i + 1));
      for (let i = 5; i < n; i += 97) m.set(path(i), { ...file(i), md5: 'x' });
      for (let k = 0; k < 2000; k++) {
        const i = (k * 7919) % n;
        const want = i % 97 === 5 ? { ...file(i), md5: 'x' } : i % 11 === 3 ? file(i + 1) : file(i);
        assert.deepEqual(m.get(path(i)), want, path(i));
        assert.equal(m.typeAt(path(i)), 'file');
      }
      assert.ok(m.chunksInMemory <= 8);
      assert.equal(m.size, n);
      const keys = [...m.keys()];
      assert.equal(keys.length, n);
      assert.deepEqual(new Set(keys), new Set(Array.from({ length: n }, (_, i) => path(i))));
      // A walk that adds paths as it goes walks them too.
      let walked = 0;
      for (const p of m.keys()) {
        walked++;
        if (p === path(0)) m.set(rp('added/while/walking'), file(1));
      }
      assert.equal(walked, n + 1);
      m.clear();
      assert.equal(m.size, 0);
      assert.equal(m.get(path(1)), undefined);
      for (let i = 0; i < 5000; i++) m.set(path(i), file(2 * i));
      for (let i = 0; i < 5000; i += 3) assert.deepEqual(m.get(path(i)), file(2 * i));
    });
  });

  it('keeps everything in memory without a folder to spill into', () => {
    const m = new DiskStates();
    for (let i = 0; i < 30_000; i++) m.set(rp(`f${i}`), file(i));
    assert.equal(m.chunksInMemory, Math.ceil(30_000 / 2048));
    for (let i = 0; i < 30_000; i += 101) assert.deepEqual(m.get(rp(`f${i}`)), file(i));
  });
});
