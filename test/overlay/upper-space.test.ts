import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PathStep } from '../../src/engine/plan-model';
import type { RootPath } from '../../src/fs/rootpath';
import { databaseGrowth, dpkgDatabaseGrowth, estimateUpperSpace, movedTrees, pathsToAsk, type PathFacts, type UpperSpaceInput, type UpperStep } from '../../src/overlay/upper-space';

/** The estimate with plain data: one rule per case. */

// The engine's planned steps are what callers pass: a new kind of step must get a rule here first.
const _stepsFit: readonly UpperStep[] = [] as PathStep[];
void _stepsFit;

const K = 4096;
const p = (s: string): RootPath => s as RootPath;
const lowerDir: PathFacts = { class: 'lower', kind: 'directory' };
const lowerFile = (size: number): PathFacts => ({ class: 'lower', kind: 'file', size });

function input(steps: UpperStep[], where: Record<string, PathFacts>, over: Partial<UpperSpaceInput> = {}): UpperSpaceInput {
  return {
    steps,
    where: new Map(Object.entries(where).map(([k, v]) => [p(k), v])),
    features: { metacopy: false, redirectDir: 'follow' },
    placement: { mode: 'rename', stagingInUpper: true },
    blockSize: K,
    ...over,
  };
}

const place = (path: string, size: number, aside: 'none' | 'link' | 'move' = 'none'): UpperStep => ({ kind: 'place-file', path: p(path), aside, entry: { size } });
const causes = (e: ReturnType<typeof estimateUpperSpace>): Array<[string, string, number, number]> => e.items.map((i) => [i.path, i.cause, i.bytes, i.inodes]);

describe('upper-layer space a transaction needs', () => {
  it('a new file in a lower-only folder: its staged blocks, and the folders copied up on the way', () => {
    const e = estimateUpperSpace(input([place('usr/share/doc/x/f', 5000)], { usr: lowerDir, 'usr/share': lowerDir, 'usr/share/doc': lowerDir, 'usr/share/doc/x': { class: 'upper', kind: 'directory' } }));
    assert.deepEqual(causes(e), [
      ['usr', 'directory-copy-up', K, 1],
      ['usr/share', 'directory-copy-up', K, 1],
      ['usr/share/doc', 'directory-copy-up', K, 1],
      ['usr/share/doc/x/f', 'staged-file', 2 * K, 1],
    ]);
    assert.deepEqual([e.bytes, e.inodes, e.staging], [5 * K, 4, 2 * K]);
  });

  it('placement: rename and hardlink hand the staged file over, copy writes it again, staging elsewhere writes it once', () => {
    const steps = [place('f', 1)];
    assert.equal(estimateUpperSpace(input(steps, {}, { placement: { mode: 'hardlink', stagingInUpper: true } })).bytes, K);
    assert.deepEqual(causes(estimateUpperSpace(input(steps, {}, { placement: { mode: 'copy', stagingInUpper: true } }))), [
      ['f', 'staged-file', K, 1],
      ['f', 'new-file', K, 1],
    ]);
    const elsewhere = estimateUpperSpace(input(steps, {}, { placement: { mode: 'rename', stagingInUpper: false } }));
    assert.deepEqual([causes(elsewhere), elsewhere.staging], [[['f', 'new-file', K, 1]], 0]);
    assert.equal(estimateUpperSpace(input([place('empty', 0)], {})).bytes, 0, 'an empty file takes no block');
  });

  it('a hard-link backup of a lower file copies it up (all of it, or only its metadata with metacopy)', () => {
    const steps = [place('usr/bin/x', 100, 'link')];
    const where = { usr: { class: 'copied-up', kind: 'directory' } as PathFacts, 'usr/bin': { class: 'upper', kind: 'directory' } as PathFacts, 'usr/bin/x': lowerFile(10_000) };
    assert.deepEqual(causes(estimateUpperSpace(input(steps, where))), [
      ['usr/bin/x', 'copy-up', 3 * K, 1],
      ['usr/bin/x', 'staged-file', K, 1],
    ]);
    const meta = estimateUpperSpace(input(steps, where, { features: { metacopy: true, redirectDir: 'on' } }));
    assert.deepEqual(causes(meta)[0], ['usr/bin/x', 'copy-up', 0, 1]);
    const up = estimateUpperSpace(input(steps, { ...where, 'usr/bin/x': { class: 'copied-up', kind: 'file', size: 10_000 } }));
    assert.deepEqual(causes(up), [['usr/bin/x', 'staged-file', K, 1]], 'already in the upper layer: linking costs nothing');
  });

  it('a lower directory replaced by a file: its tree copied aside (EXDEV), unless redirect_dir=on renames it', () => {
    const steps = [place('usr/share/bug/hello', 38, 'move')];
    const where = { 'usr/share/bug/hello': lowerDir };
    const trees = new Map([[p('usr/share/bug/hello'), { bytes: 3 * K, entries: 3 }]]);
    assert.deepEqual(movedTrees(steps, new Map([[p('usr/share/bug/hello'), lowerDir]]), { redirectDir: 'follow' }), ['usr/share/bug/hello']);
    const copy = estimateUpperSpace(input(steps, where, { trees, directoryBytes: 0 }));
    assert.deepEqual(causes(copy), [
      ['usr/share/bug/hello', 'copy-aside', 3 * K, 3],
      ['usr/share/bug/hello', 'whiteout', 0, 1],
      ['usr/share/bug/hello', 'staged-file', K, 1],
    ]);
    const unknown = estimateUpperSpace(input(steps, where));
    assert.deepEqual(unknown.unknownTrees, ['usr/share/bug/hello'], 'a tree it was not told about is named, not guessed');
    const renamed = estimateUpperSpace(input(steps, where, { features: { metacopy: false, redirectDir: 'on' } }));
    assert.deepEqual(causes(renamed).slice(0, 2), [
      ['usr/share/bug/hello', 'directory-copy-up', K, 1],
      ['usr/share/bug/hello', 'whiteout', 0, 1],
    ]);
    assert.deepEqual(movedTrees(steps, new Map([[p('usr/share/bug/hello'), lowerDir]]), { redirectDir: 'on' }), []);
  });

  it('directories overlayfs renames (upper-only, or opaque) are moved for nothing but a whiteout over a lower one', () => {
    const steps = [place('d', 1, 'move')];
    assert.deepEqual(causes(estimateUpperSpace(input(steps, { d: { class: 'upper', kind: 'directory' } }))), [['d', 'staged-file', K, 1]]);
    assert.deepEqual(causes(estimateUpperSpace(input(steps, { d: { class: 'copied-up', kind: 'directory', opaque: true } }))).slice(0, 1), [['d', 'whiteout', 0, 1]]);
    assert.deepEqual(movedTrees(steps, new Map([[p('d'), { class: 'copied-up', kind: 'directory' }]]), { redirectDir: 'nofollow' }), ['d'], 'a merged directory is copied too');
  });

  it('removals: a lower file is copied up to be renamed aside and leaves a whiteout; upper files cost nothing', () => {
    const steps: UpperStep[] = [
      { kind: 'remove', path: p('a') },
      { kind: 'remove', path: p('b') },
      { kind: 'remove', path: p('c') },
      { kind: 'remove', path: p('link') },
      { kind: 'rmdir', path: p('dir') },
      { kind: 'rmdir', path: p('own') },
    ];
    const e = estimateUpperSpace(
      input(steps, {
        a: lowerFile(5000),
        b: { class: 'copied-up', kind: 'file', size: 5000 },
        c: { class: 'upper', kind: 'file', size: 5000 },
        link: { class: 'lower', kind: 'symlink', size: 7 },
        dir: lowerDir,
        own: { class: 'upper', kind: 'directory' },
      }),
    );
    assert.deepEqual(causes(e), [
      ['a', 'copy-up', 2 * K, 1],
      ['a', 'whiteout', 0, 1],
      ['b', 'whiteout', 0, 1],
      ['link', 'copy-up', 0, 1],
      ['link', 'whiteout', 0, 1],
      ['dir', 'whiteout', 0, 1],
    ]);
  });

  it("a rename (configure's NAME.dpkg-new to NAME): the lower entry is copied up to leave its name, over the target's backup", () => {
    const steps: UpperStep[] = [{ kind: 'rename', from: p('etc/x.dpkg-new'), path: p('etc/x'), aside: 'link' }];
    assert.deepEqual(pathsToAsk(steps), ['etc', 'etc/x.dpkg-new', 'etc/x']);
    const e = estimateUpperSpace(input(steps, { etc: lowerDir, 'etc/x.dpkg-new': lowerFile(100), 'etc/x': lowerFile(5000) }));
    assert.deepEqual(causes(e), [
      ['etc', 'directory-copy-up', K, 1],
      ['etc/x', 'copy-up', 2 * K, 1],
      ['etc/x.dpkg-new', 'copy-up', K, 1],
      ['etc/x.dpkg-new', 'whiteout', 0, 1],
    ]);
    const upper = estimateUpperSpace(input(steps, { etc: { class: 'upper', kind: 'directory' }, 'etc/x.dpkg-new': { class: 'upper', kind: 'file', size: 100 } }));
    assert.deepEqual(causes(upper), [], 'all in the upper layer already: a rename writes nothing');
  });

  it('new directories and special files; folders the transaction makes are not copied up', () => {
    const steps: UpperStep[] = [
      { kind: 'mkdir', path: p('opt'), aside: 'none' },
      { kind: 'mkdir', path: p('opt/app'), aside: 'none' },
      { kind: 'place-special', path: p('opt/app/short'), aside: 'none', entry: { type: 'symlink', target: 'x' } },
      { kind: 'place-special', path: p('opt/app/long'), aside: 'none', entry: { type: 'symlink', target: 'y'.repeat(80) } },
      { kind: 'place-special', path: p('opt/app/hard'), aside: 'none', entry: { type: 'hardlink' } },
      { kind: 'place-special', path: p('opt/app/fifo'), aside: 'none', entry: { type: 'fifo' } },
    ];
    assert.deepEqual(causes(estimateUpperSpace(input(steps, {}, { directoryBytes: 0 }))), [
      ['opt', 'new-directory', 0, 1],
      ['opt/app', 'new-directory', 0, 1],
      ['opt/app/short', 'new-special', 0, 1],
      ['opt/app/long', 'new-special', K, 1],
      ['opt/app/fifo', 'new-special', 0, 1],
    ]);
  });

  it("the database: copied up whole when only a lower layer has it, then the transaction's growth", () => {
    const growth = databaseGrowth({ steps: 10, fileRows: 10 });
    assert.ok(growth >= 16 * 4096 && growth % 4096 === 0);
    assert.ok(databaseGrowth({ steps: 10_000, fileRows: 10_000 }) > 10_000 * 1000, 'grows with the transaction');
    const lower = estimateUpperSpace(input([], {}, { database: { where: { class: 'lower', kind: 'file', size: 70_000 }, growth } }));
    assert.deepEqual(causes(lower), [
      ['', 'database-copy-up', 18 * K, 1],
      ['', 'database-growth', growth, 0],
    ]);
    const upper = estimateUpperSpace(input([], {}, { database: { where: { class: 'copied-up', kind: 'file', size: 70_000 }, growth } }));
    assert.deepEqual(causes(upper), [['', 'database-growth', growth, 0]]);
  });

  it('staging outside the root but on the upper filesystem (--staging there): its bytes count, and placing copies them', () => {
    const steps: UpperStep[] = [place('usr/bin/x', 3000)];
    const beside = estimateUpperSpace(input(steps, {}, { placement: { mode: 'rename', stagingInUpper: false, stagingBesideUpper: true } }));
    assert.deepEqual(causes(beside), [
      ['usr/bin/x', 'staged-file', K, 1],
      ['usr/bin/x', 'new-file', K, 1],
    ]);
    assert.equal(beside.staging, K);
  });

  it("more databases (dpkg's status standing for its folder): each copied up when only a lower layer has it, each grown", () => {
    const status = p('var/lib/dpkg/status');
    const growth = dpkgDatabaseGrowth([{ paths: ['/usr/bin/x'], controlBytes: [300] }], 10_000, K);
    const e = estimateUpperSpace(
      input([], {}, { databases: [{ path: status, where: { class: 'lower', kind: 'file', size: 10_000 }, growth }, { where: { class: 'upper' }, growth: K }] }),
    );
    assert.deepEqual(causes(e), [
      [status, 'database-copy-up', 3 * K, 1],
      [status, 'database-growth', growth, 0],
      ['', 'database-growth', K, 0],
    ]);
  });

  it("dpkg's database growth: a bigger status, update entries, and each package's control area and info files (list, md5sums, control files)", () => {
    const none = dpkgDatabaseGrowth([], 10_000, K);
    assert.equal(none, 3 * K, 'the status rewritten, rounded up to blocks');
    const one = dpkgDatabaseGrowth([{ paths: ['/usr/bin/x', '/usr/share/doc/x/copyright'], controlBytes: [300, 5000] }], 10_000, K);
    // status + 4 KiB per package; 8 blocks of update entries; list, md5sums; control files 1 + 2 blocks, in tmp.ci and info/.
    assert.equal(one, 4 * K + 8 * K + K + K + 2 * 3 * K);
    const many = dpkgDatabaseGrowth([{ paths: Array.from({ length: 1000 }, (_, i) => `/usr/share/x/file-${i}`), controlBytes: [] }], 0, K);
    assert.ok(many > 1000 * (20 + 35), 'the .list and md5sums grow with the paths');
  });

  it('the paths to ask about: each step path and its ancestors, once, shallow first', () => {
    assert.deepEqual(pathsToAsk([place('a/b/c', 1), place('a/b/d', 1), { kind: 'rmdir', path: p('a/e') }]), ['a', 'a/b', 'a/b/c', 'a/b/d', 'a/e']);
  });
});
