import assert from 'node:assert/strict';
import { it } from 'node:test';
import { OvermergeError } from '../../src/errors';
import { checkUpperRoom, upperSpaceLines, type UpperSpaceReport } from '../../src/engine/upper-room';
import type { RootPath } from '../../src/fs/rootpath';

/** A report as the pre-flight makes it, with `need` bytes and `inodes` against `room` bytes and `inodesFree`. */
function report(need: number, room: number, inodes = 10, inodesFree = 1000): UpperSpaceReport {
  const p = (s: string) => s as RootPath;
  return {
    estimate: {
      bytes: need,
      inodes,
      staging: 0,
      unknownTrees: [],
      items: [
        { path: p('usr/share/a'), cause: 'copy-up', bytes: need - 4096, inodes: inodes - 1 },
        { path: p(''), cause: 'database-growth', bytes: 4096, inodes: 0 },
        { path: p('usr/share/b'), cause: 'whiteout', bytes: 0, inodes: 1 },
      ],
    },
    free: { available: room, free: room, blockSize: 4096, fsType: 0, inodesFree, source: 'upperdir' },
    room,
    need,
    upper: '/run/overlay/upper',
  };
}

it('the pre-flight refuses, in one line, a transaction whose bytes do not fit: needed and free in human units and bytes, by cause', () => {
  assert.doesNotThrow(() => checkUpperRoom(report(8 * 1024 * 1024, 8 * 1024 * 1024)));
  assert.throws(
    () => checkUpperRoom(report(8 * 1024 * 1024, 5 * 1024 * 1024)),
    (err: unknown) => {
      assert.ok(err instanceof OvermergeError);
      assert.equal(err.code, 'E_UPPER_SPACE');
      assert.equal(
        err.message,
        "not enough space in the overlay's upper layer /run/overlay/upper: the transaction needs 8.0 MiB (8388608 bytes) there, 5.0 MiB (5242880 bytes) free (copy-ups 8.0 MiB, database growth 4.0 KiB, whiteouts 1 inode); nothing was changed",
      );
      assert.ok(!err.message.includes('\n'));
      return true;
    },
  );
});

it('the pre-flight refuses a transaction that fits in bytes but not in inodes, saying so', () => {
  assert.throws(() => checkUpperRoom(report(64 * 1024, 1024 * 1024, 500, 100)), /needs 500 inodes there, 100 free/);
});

it('the dry run says whether the estimate fits', () => {
  assert.equal(upperSpaceLines(report(4096 * 3, 1024 * 1024)).at(-1), 'upper layer: enough room');
  assert.match(upperSpaceLines(report(2 * 1024 * 1024, 1024 * 1024)).at(-1) ?? '', /NOT enough room/);
  assert.match(upperSpaceLines(report(4096 * 3, 1024 * 1024))[0], /^upper layer \/run\/overlay\/upper: this transaction writes about 12\.0 KiB \(12288 bytes\) and 10 inodes there$/);
});
