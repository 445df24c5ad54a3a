import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TimesBatch } from '../../src/fs/metadata';
import { hostPathOf } from '../../src/fs/host-path';
import { withTempDir } from '../helpers/temp';

// Times are set to the nanosecond whatever libuv does with a double: libuv before 1.52 (Node 20)
// truncated fs.utimes' seconds to whole microseconds, later ones keep the double's nanoseconds, and a
// double near today's epoch is about 240 ns coarse. Each kind of time below once came back wrong on one of
// them; ext4 and tmpfs keep nanoseconds, so the check is exact.
const TIMES: Array<[string, bigint]> = [
  ['whole seconds (tar)', 1_700_000_000n * 1_000_000_000n],
  ['whole microseconds', 1_700_000_000_123_456_000n],
  ['nanoseconds', 1_700_000_000_123_456_789n],
  ['just below a second', 1_700_000_000_999_999_999n],
  ['before the epoch', -1_500_000_001n],
];

for (const [way, useAddon] of [['through the addon', true], ['through perl (no addon built)', false]] as const) {
  test(`TimesBatch sets atime and mtime to the nanosecond, on files and on symlinks themselves, ${way}`, async () => {
    await withTempDir('times', async (dir) => {
      const batch = new TimesBatch({ useAddon });
      const expected: Array<[string, bigint, bigint]> = [];
      for (const [i, [, ns]] of TIMES.entries()) {
        const file = path.join(dir, `f${i}`);
        const link = path.join(dir, `l${i}`);
        await fsp.writeFile(file, '');
        await fsp.symlink(`f${i}`, link);
        // atime differs from mtime, so a swapped pair shows
        batch.addNs(hostPathOf(file), ns + 1_000_000_000n, ns);
        batch.addNs(hostPathOf(link), ns, ns + 1_000_000_000n);
        expected.push([file, ns + 1_000_000_000n, ns], [link, ns, ns + 1_000_000_000n]);
      }
      await batch.flush();
      const got = await Promise.all(expected.map(async ([p]) => {
        const st = await fsp.lstat(p, { bigint: true });
        return [p, st.atimeNs, st.mtimeNs];
      }));
      assert.deepEqual(got, expected);
    });
  });

  test(`TimesBatch names the path it could not set the times of, ${way}`, async () => {
    await withTempDir('times-missing', async (dir) => {
      const batch = new TimesBatch({ useAddon });
      const missing = path.join(dir, 'missing');
      batch.addNs(hostPathOf(missing), 1_700_000_000_123_456_789n, 1_700_000_000_123_456_789n);
      await assert.rejects(batch.flush(), (err: unknown) => {
        assert.equal((err as { code?: string }).code, 'E_FS');
        assert.match(String((err as Error).message), /missing/);
        return true;
      });
    });
  });
}
