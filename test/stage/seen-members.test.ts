import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RootPath } from '../../src/fs/rootpath';
import { hostPathOf } from '../../src/fs/host-path';
import { Manifest } from '../../src/model/manifest';
import type { EntryType } from '../../src/model/entry';
import { SeenMembers } from '../../src/stage/seen-members';
import { withTempDir } from '../helpers/temp';

/**
 * The members staged so far, found by path without keeping a string per member (issue 14): the answers a
 * Map of paths gave, from a manifest in memory or spilled to disk, through hash collisions, and without
 * reading back the path of a folder that a member's ancestor check hits.
 */

const rp = (s: string) => s as RootPath;

/** Paths and types as an archive lists them: folders, then files and a symlink and a hard link in each. */
function members(folders: number, perFolder: number): { path: RootPath; type: EntryType }[] {
  const out: { path: RootPath; type: EntryType }[] = [{ path: rp('usr'), type: 'directory' }];
  for (let d = 0; d < folders; d++) {
    out.push({ path: rp(`usr/d${d}`), type: 'directory' });
    for (let f = 0; f < perFolder; f++) out.push({ path: rp(`usr/d${d}/f${f}`), type: f === 0 ? 'symlink' : f === 1 ? 'hardlink' : 'file' });
  }
  return out;
}

function filled(list: { path: RootPath; type: EntryType }[], pathAt: (i: number) => RootPath, hash?: (p: string) => number): SeenMembers {
  const seen = new SeenMembers(pathAt, hash);
  list.forEach((m, i) => seen.add(m.path, i, m.type));
  return seen;
}

describe('SeenMembers', () => {
  it('finds every member with its index and type, and nothing else', () => {
    const list = members(40, 50);
    const seen = filled(list, (i) => list[i].path);
    list.forEach((m, i) => assert.deepEqual(seen.get(m.path), { index: i, type: m.type }));
    assert.equal(seen.get(rp('usr/d0/f50')), undefined);
    assert.equal(seen.get(rp('usr/d40')), undefined);
    assert.equal(seen.nonDirectory(rp('usr/d3')), undefined, 'a folder is not a non-directory');
    assert.equal(seen.nonDirectory(rp('usr/d3/f0')), 'symlink');
    assert.equal(seen.nonDirectory(rp('usr/d3/f7')), 'file');
    assert.equal(seen.nonDirectory(rp('usr/d3/f70')), undefined);
  });

  it('tells colliding paths apart by reading them back', () => {
    const list = members(5, 20);
    // Every path hashes alike: each lookup walks the whole run and confirms each candidate by its path.
    const seen = filled(list, (i) => list[i].path, () => 7);
    list.forEach((m, i) => assert.deepEqual(seen.get(m.path), { index: i, type: m.type }));
    assert.equal(seen.get(rp('usr/d9')), undefined);
    assert.equal(seen.nonDirectory(rp('usr/d2')), undefined);
    assert.equal(seen.nonDirectory(rp('usr/d2/f1')), 'hardlink');
  });

  it('reads no path back for an ancestor check that meets only folders', () => {
    const list = members(200, 30);
    let reads = 0;
    const seen = filled(list, (i) => {
      reads++;
      return list[i].path;
    });
    for (const m of list) for (const folder of ['usr', m.path.split('/').slice(0, 2).join('/')]) assert.equal(seen.nonDirectory(rp(folder)), undefined);
    assert.equal(reads, 0);
  });

  it('confirms its hits through a manifest that spilled to disk', async () => {
    await withTempDir('seen', async (dir) => {
      const list = members(300, 100); // 30,301 members: past the manifest's spilling point
      const manifest = new Manifest(hostPathOf(dir));
      const seen = new SeenMembers((i) => manifest.pathAt(i));
      list.forEach((m, i) => {
        assert.equal(seen.get(m.path), undefined);
        seen.add(m.path, manifest.length, m.type);
        manifest.push({ path: m.path, type: m.type, mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0, conffile: false, ...(m.type === 'symlink' ? { target: 'x' } : {}), ...(m.type === 'hardlink' ? { linkTo: rp('usr') } : {}) });
      });
      assert.ok(manifest.spilled, 'the manifest went to disk');
      for (const i of [0, 1, 2, 17_000, list.length - 1]) assert.deepEqual(seen.get(list[i].path), { index: i, type: list[i].type });
      manifest.close();
    });
  });
});
