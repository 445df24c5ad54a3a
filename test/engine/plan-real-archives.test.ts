import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DiskState } from '../../src/model/disk';
import { plan } from '../../src/engine/plan';
import { stepsOf } from '../../src/engine/plan-steps';
import { installedRow, planInput, stagedPackage } from '../helpers/plan-data';
import { OvermergeError } from '../../src/errors';
import type { RootPath } from '../../src/fs/rootpath';
import type { ManifestEntry } from '../../src/model/entry';

/**
 * Planner regressions found by unpacking Debian's real Priority: required set against dpkg
 * (test/conformance/unpack.test.ts); each case is named after the archive that exposed it.
 */

const rp = (s: string) => s as RootPath;

function entry(p: string, type: ManifestEntry['type'], extra: Partial<ManifestEntry> = {}): ManifestEntry {
  return {
    path: rp(p),
    type,
    mode: type === 'directory' ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    mtime: 1000,
    size: type === 'file' || type === 'hardlink' ? 3 : 0,
    sha256: type === 'file' || type === 'hardlink' ? 'sha-x' : undefined,
    md5: type === 'file' || type === 'hardlink' ? 'md5-x' : undefined,
    conffile: false,
    ...extra,
  };
}

const pkg = (name: string, entries: ManifestEntry[]) => stagedPackage(name, entries, { architecture: 'amd64' });
const row = (e: ManifestEntry) => installedRow(e);
const input = planInput;

const dir = (mode = 0o755): DiskState => ({ type: 'directory', mode, uid: 0, gid: 0 });
const dirLink = (target: string): DiskState => ({ type: 'symlink', target, targetIsDir: true, uid: 0, gid: 0 });

describe('plan, on what real archives do', () => {
  it('records a directory shipped under two aliases of a merged-/usr root once (libc6: /lib/x86_64-linux-gnu and /usr/lib/x86_64-linux-gnu)', () => {
    const entries = [
      entry('lib', 'directory'),
      entry('lib/x86_64-linux-gnu', 'directory'),
      entry('lib/x86_64-linux-gnu/libc.so.6', 'file'),
      entry('usr', 'directory'),
      entry('usr/lib', 'directory'),
      entry('usr/lib/x86_64-linux-gnu', 'directory'),
      entry('usr/lib/x86_64-linux-gnu/gconv', 'directory'),
    ];
    const resolved = new Map<RootPath, RootPath>([
      [rp('lib/x86_64-linux-gnu'), rp('usr/lib/x86_64-linux-gnu')],
      [rp('lib/x86_64-linux-gnu/libc.so.6'), rp('usr/lib/x86_64-linux-gnu/libc.so.6')],
    ]);
    const disk = new Map<RootPath, DiskState>([
      [rp('lib'), dirLink('usr/lib')],
      [rp('usr'), dir()],
      [rp('usr/lib'), dir()],
    ]);
    const p = plan(input({ installs: [{ staged: pkg('libc6', entries), resolved, status: 'unpacked' }], disk }));
    const paths = p.records[0].files.map((f) => f.path);
    assert.equal(new Set(paths).size, paths.length, `a path recorded twice: ${paths.join(', ')}`);
    assert.deepEqual(paths.sort(), ['lib', 'usr', 'usr/lib', 'usr/lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu/gconv', 'usr/lib/x86_64-linux-gnu/libc.so.6']);
    assert.equal(p.steps.filter((s) => s.kind === 'mkdir' && s.path === 'usr/lib/x86_64-linux-gnu').length, 1);
  });

  it('refuses, with a clear E_CONFLICT, a package whose two files are one path through a directory symlink', () => {
    const entries = [entry('bin', 'directory'), entry('bin/x', 'file'), entry('usr', 'directory'), entry('usr/bin', 'directory'), entry('usr/bin/x', 'file')];
    const resolved = new Map<RootPath, RootPath>([[rp('bin/x'), rp('usr/bin/x')]]);
    const disk = new Map<RootPath, DiskState>([
      [rp('bin'), dirLink('usr/bin')],
      [rp('usr'), dir()],
      [rp('usr/bin'), dir()],
    ]);
    assert.throws(
      () => plan(input({ installs: [{ staged: pkg('twice', entries), resolved, status: 'unpacked' }], disk })),
      (err: unknown) => err instanceof OvermergeError && err.code === 'E_CONFLICT' && /ships both '\/bin\/x' and '\/usr\/bin\/x'/.test(err.message),
    );
  });

  it('leaves an unchanged hard link alone on reinstall (perl-base: /usr/bin/perl5.36.0 → /usr/bin/perl)', () => {
    const target = entry('usr/bin/perl', 'file', { mode: 0o755 });
    const link = entry('usr/bin/perl5.36.0', 'hardlink', { mode: 0o755, linkTo: rp('usr/bin/perl') });
    const entries = [entry('usr', 'directory'), entry('usr/bin', 'directory'), target, link];
    const same = (ino: bigint): DiskState => ({ type: 'file', mode: 0o755, uid: 0, gid: 0, size: 3, mtimeNs: 1000n * 1_000_000_000n, ino });
    const disk = new Map<RootPath, DiskState>([
      [rp('usr'), dir()],
      [rp('usr/bin'), dir()],
      [rp('usr/bin/perl'), same(7n)],
      [rp('usr/bin/perl5.36.0'), same(7n)],
    ]);
    const old = { name: 'perl-base', architecture: 'amd64', version: '1', status: 'unpacked', files: entries.map(row) };
    const p = plan(input({ installs: [{ staged: pkg('perl-base', entries), resolved: new Map(), old, status: 'unpacked' }], disk }));
    assert.deepEqual(p.steps, [], 'nothing to do: relinking would touch the target (and copy it up on an overlay root)');

    // Once the two names are different inodes, the link is made again.
    disk.set(rp('usr/bin/perl5.36.0'), same(8n));
    const again = plan(input({ installs: [{ staged: pkg('perl-base', entries), resolved: new Map(), old, status: 'unpacked' }], disk }));
    // Placements of any entry type read as `place`.
    assert.deepEqual([...stepsOf(again.steps)].map((s) => `${s.kind.startsWith('place-') ? 'place' : s.kind} ${s.path}`), ['place usr/bin/perl5.36.0']);
  });

  it('leaves an existing directory as it is, mode and owner included, as dpkg does (a 0700 mkdtemp root, base-files ./)', () => {
    const entries = [entry('', 'directory'), entry('etc', 'directory')];
    const disk = new Map<RootPath, DiskState>([
      [rp(''), dir(0o700)],
      [rp('etc'), { type: 'directory', mode: 0o750, uid: 5, gid: 5 }],
    ]);
    const p = plan(input({ installs: [{ staged: pkg('base-files', entries), resolved: new Map(), status: 'unpacked' }], disk }));
    assert.deepEqual(p.steps, []);
  });
});
