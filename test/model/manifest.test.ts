import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describe, it, mock } from 'node:test';
import { hostPathOf, type HostPath } from '../../src/fs/host-path';
import type { RootPath } from '../../src/fs/rootpath';
import type { ManifestEntry } from '../../src/model/entry';
import { Manifest } from '../../src/model/manifest';
import { withTempDir } from '../helpers/temp';

/**
 * The manifest held as records (issue 14): every entry comes back field for field, whatever it holds, and
 * a large one given a folder keeps its chunks in a nameless file there, read back as they were written.
 */

const rp = (s: string) => s as RootPath;
const hex = (n: number, bytes: number) => n.toString(16).padStart(2 * bytes, '0');

/** A varied entry for index `i`: every type, staged or not, digests, links, flags, non-ASCII names. */
function sample(i: number, staged: HostPath | undefined): ManifestEntry {
  const base = { path: rp(`usr/share/é-${i}/n${i}`), mode: (i * 7) & 0o7777, uid: i % 3 === 0 ? 0 : 100000 + i, gid: i % 5, mtime: 1_700_000_000 + i / 4, size: i * 1000.5 > 0 ? i * 1024 : 0, conffile: false };
  switch (i % 6) {
    case 0:
      return { ...base, type: 'file', sha256: hex(i, 32), md5: hex(i, 16), conffile: i % 12 === 0, ...(staged ? { stagedIn: staged, stagedAs: i } : {}) };
    case 1:
      return { ...base, type: 'file', size: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', md5: 'd41d8cd98f00b204e9800998ecf8427e', claimsExisting: true };
    case 2:
      return { ...base, type: 'directory', size: 0 };
    case 3:
      return { ...base, type: 'symlink', size: 0, target: `../ünï/${'x'.repeat(i % 50)}` };
    case 4:
      return { ...base, type: 'hardlink', linkTo: rp(`usr/share/é-${i - 4}/n${i - 4}`), sha256: hex(i - 4, 32), md5: hex(i - 4, 16), filtered: true };
    default:
      return { ...base, type: 'fifo', size: 0 };
  }
}

describe('Manifest', () => {
  it('gives back every entry as it was pushed, in order, as new objects', () => {
    const entries = Array.from({ length: 5000 }, (_, i) => sample(i, hostPathOf('/staging/0')));
    const m = Manifest.of(entries);
    assert.equal(m.length, entries.length);
    assert.deepEqual([...m], entries);
    assert.deepEqual(m.at(4321), entries[4321]);
    assert.notEqual(m.at(0), m.at(0));
    assert.equal(m.spilled, false, 'no folder to spill into: all in memory');
    assert.throws(() => m.at(5000), RangeError);
  });

  it('keeps what does not fit a record as it is (devices, digests that are not hex, odd numbers)', () => {
    const odd: ManifestEntry[] = [
      { path: rp('dev/null'), type: 'char', mode: 0o666, uid: 0, gid: 0, mtime: 0, size: 0, conffile: false, devmajor: 1, devminor: 3 },
      { path: rp('a'), type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 1, conffile: false, sha256: 'sha-a', md5: 'MD5' },
      { path: rp('b'), type: 'file', mode: 0o644, uid: -1, gid: 2 ** 40, mtime: -5.5, size: 2 ** 53, conffile: false },
    ];
    const m = Manifest.of([sample(0, undefined), ...odd, sample(1, undefined)]);
    assert.deepEqual([...m], [sample(0, undefined), ...odd, sample(1, undefined)]);
  });

  it('spills a large manifest into a nameless file of its folder and reads it back, late staging included', async () => {
    await withTempDir('manifest-spill', async (dir) => {
      const folder = hostPathOf(dir);
      const entries = Array.from({ length: 40_000 }, (_, i) => sample(i, i % 2 === 0 ? folder : undefined));
      const m = Manifest.of(entries, folder);
      assert.equal(m.spilled, true);
      assert.deepEqual(await fsp.readdir(dir), [], 'the spill file has no name');
      // Read out of order: each read may take another chunk from the file.
      for (const i of [39_999, 0, 20_000, 4095, 4096, 12_345]) assert.deepEqual(m.at(i), entries[i]);
      const late = hostPathOf(path.join(dir, 'late-0'));
      m.setStaged(7, late, 3); // in a spilled chunk
      m.setStaged(39_998, late, 4); // in the chunk still being filled
      m.at(30_000); // another chunk read in between
      assert.deepEqual(m.at(7), { ...entries[7], stagedIn: late, stagedAs: 3 });
      assert.deepEqual(m.at(39_998), { ...entries[39_998], stagedIn: late, stagedAs: 4 });
      const all = [...m];
      assert.equal(all.length, entries.length);
      for (let i = 0; i < entries.length; i++) if (i !== 7 && i !== 39_998) assert.deepEqual(all[i], entries[i]);
      m.close();
    });
  });

  it('reads chunks back into the buffers of others, whatever the length of their paths', async () => {
    await withTempDir('manifest-reuse', async (dir) => {
      // Chunks of 4,096: long paths in the 1st and 4th chunks, short ones elsewhere, so a read takes over
      // strings that are now larger, now smaller than it needs.
      const long = (i: number) => (i >>> 12) % 3 === 0;
      const entries = Array.from({ length: 6 * 4096 + 17 }, (_, i) => ({ ...sample(i, undefined), path: rp(long(i) ? `usr/lib/${'ü'.repeat(40)}/${i}` : `e/${i}`) }));
      const m = Manifest.of(entries, hostPathOf(dir));
      assert.equal(m.spilled, true);
      for (const i of [5000, 100, 13_000, 4097, 24_576, 1, 16_400, 8200, 24_592]) assert.deepEqual(m.at(i), entries[i]);
      for (let i = entries.length - 1; i >= 0; i -= 97) assert.equal(m.pathAt(i), entries[i].path);
      assert.deepEqual([...m], entries);
      // Reading back and forth allocates nothing per chunk: half a MiB a read, left to the collector,
      // raised a 116,010-member reinstall's peak RSS by 20 MiB.
      const allocs = mock.method(Buffer, 'allocUnsafeSlow');
      const alloc = mock.method(Buffer, 'alloc');
      try {
        for (let i = 0; i < 200; i++) m.pathAt((i % 2 === 0 ? 0 : 5 * 4096) + i);
        assert.equal(allocs.mock.callCount() + alloc.mock.callCount(), 0);
      } finally {
        mock.restoreAll();
      }
      m.close();
    });
  });

  it('stays in memory below the size from which it spills', async () => {
    await withTempDir('manifest-small', async (dir) => {
      const m = Manifest.of(Array.from({ length: 10_000 }, (_, i) => sample(i, undefined)), hostPathOf(dir));
      assert.equal(m.spilled, false);
    });
  });
});

describe('Manifest.pathAt, paths and kindAt', () => {
  it('reads the path (the type) alone, of records in memory, spilled, or kept as objects', async () => {
    await withTempDir('manifest-pathat', async (dir) => {
      const entries = Array.from({ length: 20_000 }, (_, i) =>
        i % 1000 === 5
          ? { ...sample(i, undefined), type: 'char' as const, devmajor: 1, devminor: 3 }
          : i === 7
            ? { ...sample(i, undefined), filtered: true }
            : i % 1000 === 9
              ? { ...sample(i, undefined), conffile: true }
              : sample(i, undefined),
      );
      for (const m of [Manifest.of(entries), Manifest.of(entries, hostPathOf(dir))]) {
        for (const i of [19_999, 5, 0, 8192, 1005, 4095, 12_000, 3]) assert.equal(m.pathAt(i), entries[i].path);
        assert.throws(() => m.pathAt(20_000), RangeError);
        assert.deepEqual(m.paths(), entries.map((e) => e.path));
        // kindAt likewise: the type, the filter flag and the conffile flag alone.
        for (const i of [19_999, 5, 0, 8192, 1005, 4095, 12_000, 3, 7, 9, 13_009]) {
          assert.deepEqual(m.kindAt(i), { type: entries[i].type, filtered: entries[i].filtered === true, conffile: entries[i].conffile });
        }
        assert.equal(m.kindAt(13_009).conffile, true);
        assert.throws(() => m.kindAt(20_000), RangeError);
        m.close();
      }
    });
  });
});

describe('Manifest.withoutStaged', () => {
  /** The entry as the copy must give it: no staged content; with `claim`, a kept file or symlink claims the root's. */
  const expected = (e: ManifestEntry, claim: boolean): ManifestEntry => {
    const { stagedIn: _in, stagedAs: _as, ...rest } = e;
    return claim && (e.type === 'file' || e.type === 'symlink') && !e.filtered ? { ...rest, claimsExisting: true } : rest;
  };

  it('copies records in memory, spilled ones and entries kept as objects alike, and leaves the original as it was', async () => {
    await withTempDir('manifest-without-staged', async (dir) => {
      const entries = Array.from({ length: 20_000 }, (_, i) => {
        const e = sample(i, hostPathOf(`/staging/${i % 3}`));
        // A device (kept as an object), filtered files and symlinks (never claimed).
        if (i % 1000 === 5) return { ...e, type: 'char' as const, devmajor: 1, devminor: 3 };
        if (i % 97 === 0) return { ...e, filtered: true };
        return e;
      });
      for (const original of [Manifest.of(entries.slice(0, 9000)), Manifest.of(entries, hostPathOf(dir))]) {
        const before = original.map((e) => e);
        for (const claim of [false, true]) {
          const copy = original.withoutStaged(claim);
          assert.equal(copy.length, original.length);
          assert.equal(copy.spilled, false);
          for (let i = 0; i < original.length; i += 7) assert.deepEqual(copy.at(i), expected(before[i], claim), `entry ${i}`);
          assert.deepEqual(copy.at(original.length - 1), expected(before[original.length - 1], claim));
          // The copy takes late staged content, and more members, as any manifest does.
          copy.setStaged(0, hostPathOf('/staging/late'), 9);
          assert.equal(copy.at(0).stagedIn, '/staging/late');
          copy.push(sample(1, undefined));
          assert.equal(copy.length, original.length + 1);
        }
        assert.deepEqual(original.map((e) => e), before, 'the original is unchanged');
        original.close();
      }
    });
  });
});
