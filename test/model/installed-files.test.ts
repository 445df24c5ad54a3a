import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { describe, it } from 'node:test';
import { hostPathOf } from '../../src/fs/host-path';
import type { RootPath } from '../../src/fs/rootpath';
import { InstalledFiles, pathOfRow } from '../../src/model/installed-files';
import type { InstalledFile } from '../../src/model/package';
import { PathIndex } from '../../src/model/path-index';
import { withTempDir } from '../helpers/temp';

/**
 * An installed version's rows held as records (issue 14): every row comes back field for field, as the
 * database reader makes it, from memory or from a spill file; a PathIndex finds them by path.
 */

const rp = (s: string) => s as RootPath;
const hex = (n: number, bytes: number) => n.toString(16).padStart(2 * bytes, '0');

/** A varied row for index `i`, with every field present (undefined where the row has none), as the probe reads them. */
function row(i: number): InstalledFile {
  const base: InstalledFile = {
    path: rp(`usr/lib/ß-${i}/r${i}`),
    type: 'file',
    mode: (i * 5) & 0o7777,
    uid: i % 4 === 0 ? 0 : 70000 + i,
    gid: i % 7,
    size: i * 512,
    mtime: 1_600_000_000 + i / 8,
    sha256: undefined,
    md5: undefined,
    target: undefined,
    devmajor: undefined,
    devminor: undefined,
    conffile: false,
    conffileHash: undefined,
  };
  switch (i % 5) {
    case 0:
      return { ...base, sha256: hex(i, 32), md5: hex(i, 16), conffile: i % 10 === 0, conffileHash: i % 10 === 0 ? hex(i + 1, 16) : undefined };
    case 1:
      return { ...base, type: 'directory', size: 0 };
    case 2:
      return { ...base, type: 'symlink', target: `../ø/${'y'.repeat(i % 40)}` };
    case 3:
      return { ...base, type: 'hardlink', target: `usr/lib/ß-${i - 3}/r${i - 3}`, sha256: hex(i - 3, 32), md5: hex(i - 3, 16) };
    default:
      return { ...base, type: i % 2 ? 'char' : 'fifo', devmajor: i % 2 ? 4 : undefined, devminor: i % 2 ? i % 256 : undefined };
  }
}

describe('InstalledFiles', () => {
  it('gives back every row as it was pushed, with its conffile hash, as new objects', () => {
    const rows = Array.from({ length: 3000 }, (_, i) => row(i));
    const list = InstalledFiles.of(rows);
    assert.equal(list.length, rows.length);
    assert.deepEqual([...list], rows);
    assert.notEqual(list.at(5), list.at(5));
    assert.deepEqual(list.filter((f) => f.conffile).map((f) => f.conffileHash), rows.filter((f) => f.conffile).map((f) => f.conffileHash));
    assert.deepEqual(list.map((f, i) => `${i}:${f.path}`), rows.map((f, i) => `${i}:${f.path}`));
    assert.ok(list.some((f) => f.type === 'char') && !list.some((f) => f.path === 'nowhere'));
    for (let i = 0; i < rows.length; i += 97) assert.equal(pathOfRow(list, i), rows[i].path);
    assert.equal(pathOfRow(rows, 42), rows[42].path, 'a plain array is a list too');
  });

  it('spills a large list into a nameless file and reads it back in any order', async () => {
    await withTempDir('installed-spill', async (dir) => {
      const rows = Array.from({ length: 30_000 }, (_, i) => row(i));
      const list = InstalledFiles.of(rows, hostPathOf(dir));
      assert.deepEqual(await fsp.readdir(dir), [], 'the spill file has no name');
      // Back and forth between chunks: chunks read back one at a time.
      for (const i of [29_999, 0, 12_000, 4096, 24_000, 1, 16_384, 29_998, 8191]) assert.deepEqual(list.at(i), rows[i]);
      for (const i of [29_000, 3, 20_000, 9000]) assert.equal(list.pathAt(i), rows[i].path);
      assert.deepEqual([...list], rows);
    });
  });
});

describe('PathIndex', () => {
  it('finds every path of a list by index, and nothing else, reading a path only to confirm a hit', () => {
    const paths = Array.from({ length: 50_000 }, (_, i) => rp(`usr/share/doc/p${i % 977}/f${i}`));
    let reads = 0;
    const index = new PathIndex(paths.length, (i) => {
      reads++;
      return paths[i];
    });
    reads = 0;
    for (let i = 0; i < paths.length; i += 7) assert.equal(index.find(paths[i]), i);
    assert.equal(index.find(rp('usr/share/doc/p1/f50000')), -1);
    assert.equal(index.find(rp('')), -1);
    assert.ok(reads < 1.01 * Math.ceil(paths.length / 7) + 5, `${reads} reads for ${Math.ceil(paths.length / 7)} hits`);
  });

  it('answers the first of two equal paths, and works empty', () => {
    const paths = [rp('a'), rp('b'), rp('a')];
    assert.equal(new PathIndex(paths.length, (i) => paths[i]).find(rp('a')), 0);
    assert.equal(new PathIndex(0, () => rp('x')).find(rp('x')), -1);
  });
});
