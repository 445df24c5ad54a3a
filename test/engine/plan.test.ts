import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RootPath } from '../../src/fs/rootpath';
import { NO_CONFFILE_FORCES, type ConffileForces, type PlanStep } from '../../src/engine/plan-model';
import { stepsOf } from '../../src/engine/plan-steps';
import type { DiskState } from '../../src/model/disk';
import type { InstalledPackage, Owner } from '../../src/model/package';
import { plan } from '../../src/engine/plan';
import { installedRow, planInput, stagedPackage } from '../helpers/plan-data';
import type { ManifestEntry } from '../../src/model/entry';

const rp = (s: string) => s as RootPath;

function entry(path: string, type: ManifestEntry['type'], extra: Partial<ManifestEntry> = {}): ManifestEntry {
  return {
    path: rp(path),
    type,
    mode: type === 'directory' ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    mtime: 1000,
    size: type === 'file' ? 3 : 0,
    sha256: type === 'file' ? `sha-${path}` : undefined,
    md5: type === 'file' ? `md5-${path}` : undefined,
    conffile: false,
    ...extra,
  };
}

const pkg = (name: string, version: string, entries: ManifestEntry[], control: Record<string, string> = {}) =>
  stagedPackage(name, entries, { version, control });
const row = installedRow;
const input = planInput;

function installed(name: string, version: string, entries: ManifestEntry[]): InstalledPackage {
  return { name, architecture: 'all', version, status: 'installed', files: entries.map((e) => row(e)) };
}

/** Disk state that matches installed entries exactly. */
function diskOf(entries: ManifestEntry[]): Map<RootPath, DiskState> {
  const m = new Map<RootPath, DiskState>();
  for (const e of entries) {
    m.set(e.path, {
      type: e.type === 'hardlink' ? 'file' : e.type,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      size: e.size,
      mtimeNs: BigInt(e.mtime) * 1_000_000_000n,
      target: e.target,
      md5: e.md5,
    });
  }
  return m;
}

/** Steps as `kind(aside) path`, placements of any entry as `place` and directory removals as `remove(dir)`. */
const shown = { mkdir: 'mkdir', 'place-file': 'place', 'place-special': 'place', remove: 'remove', rmdir: 'remove(dir)', rename: 'rename' } as const;
const kinds = (steps: readonly PlanStep[]) =>
  [...stepsOf(steps)].map((s) => `${shown[s.kind]}${'aside' in s && s.aside !== 'none' ? `(${s.aside})` : ''} ${s.path}`);

describe('plan', () => {
  it('creates directories parents-first, then files, on a fresh install', () => {
    const entries = [entry('', 'directory'), entry('usr', 'directory'), entry('usr/bin', 'directory'), entry('usr/bin/x', 'file')];
    const staged = pkg('x', '1', entries);
    const p = plan(input({ installs: [{ staged, resolved: new Map(), status: 'installed' }], disk: new Map([[rp(''), { type: 'directory', mode: 0o755, uid: 0, gid: 0 }]]) }));
    assert.deepEqual(kinds(p.steps), ['mkdir usr', 'mkdir usr/bin', 'place usr/bin/x']);
    assert.equal(p.records[0].files.length, 4);
    assert.deepEqual(p.changes, [{ name: 'x', architecture: 'all', action: 'install', oldVersion: undefined, newVersion: '1' }]);
  });

  it('leaves identical files untouched on upgrade and replaces changed ones atomically', () => {
    const v1 = [entry('usr', 'directory'), entry('usr/same', 'file'), entry('usr/changed', 'file')];
    const v2 = [entry('usr', 'directory'), entry('usr/same', 'file'), entry('usr/changed', 'file', { sha256: 'other' })];
    const p = plan(input({ installs: [{ staged: pkg('x', '2', v2), resolved: new Map(), old: installed('x', '1', v1), status: 'installed' }], disk: diskOf(v1) }));
    assert.deepEqual(kinds(p.steps), ['place(link) usr/changed']);
    assert.equal(p.changes[0].action, 'upgrade');
  });

  it('records a member landing at its shipped path as itself, and never changes the manifest for a row', () => {
    // Memory per member: the row of a plain member is the entry (rowFor). A row that differs (installed
    // mtime kept, a hard link's landed target, a conffile's hash) is a fresh object.
    const v1 = [entry('usr', 'directory'), entry('usr/same', 'file', { mtime: 500 }), entry('usr/l', 'symlink', { target: 'same' })];
    const v2 = [entry('usr', 'directory'), entry('usr/same', 'file'), entry('usr/l', 'symlink', { target: 'same' }), entry('usr/new', 'file'), entry('usr/h', 'hardlink', { linkTo: rp('usr/new') })];
    const p = plan(input({ installs: [{ staged: pkg('x', '2', v2), resolved: new Map(), old: installed('x', '1', v1), status: 'installed' }], disk: diskOf(v1) }));
    const files = new Map(p.records[0].files.map((f) => [f.path as string, f]));
    assert.deepEqual(files.get('usr/new'), v2[3]);
    assert.equal(files.get('usr/same')!.mtime, 500, 'left alone: the installed mtime is recorded');
    assert.equal(v2[1].mtime, 1000, 'the entry keeps the archive\'s mtime');
    assert.equal(files.get('usr/h')!.target, 'usr/new');
    assert.notDeepEqual(files.get('usr/h'), v2[4]);
  });

  it('replaces a file the root changed behind the database', () => {
    const v1 = [entry('usr', 'directory'), entry('usr/same', 'file')];
    const disk = diskOf(v1);
    disk.set(rp('usr/same'), { ...disk.get(rp('usr/same'))!, size: 99 });
    const p = plan(input({ installs: [{ staged: pkg('x', '1', v1), resolved: new Map(), old: installed('x', '1', v1), status: 'installed' }], disk }));
    assert.deepEqual(kinds(p.steps), ['place(link) usr/same']);
    assert.equal(p.changes[0].action, 'reinstall');
  });

  it('turns a directory into a file by moving the directory aside, with its old contents', () => {
    const v1 = [entry('usr', 'directory'), entry('usr/bug', 'directory'), entry('usr/bug/a', 'file'), entry('usr/bug/b', 'file')];
    const v2 = [entry('usr', 'directory'), entry('usr/bug', 'file')];
    const disk = diskOf(v1);
    disk.set(rp('usr/bug'), { ...disk.get(rp('usr/bug'))!, beneath: [rp('usr/bug/a'), rp('usr/bug/b')] });
    const p = plan(input({ installs: [{ staged: pkg('x', '2', v2), resolved: new Map(), old: installed('x', '1', v1), status: 'installed' }], disk }));
    assert.deepEqual(kinds(p.steps), ['place(move) usr/bug']);
  });

  it('refuses to turn a directory into a file while it holds a file nobody owns', () => {
    const v1 = [entry('usr', 'directory'), entry('usr/bug', 'directory'), entry('usr/bug/a', 'file')];
    const v2 = [entry('usr', 'directory'), entry('usr/bug', 'file')];
    const disk = diskOf(v1);
    disk.set(rp('usr/bug'), { ...disk.get(rp('usr/bug'))!, beneath: [rp('usr/bug/a'), rp('usr/bug/local')] });
    assert.throws(
      () => plan(input({ installs: [{ staged: pkg('x', '2', v2), resolved: new Map(), old: installed('x', '1', v1), status: 'installed' }], disk })),
      /cannot replace directory '\/usr\/bug' with a file: it holds '\/usr\/bug\/local'/,
    );
  });

  it('turns a file into a directory by moving the file aside first', () => {
    const v1 = [entry('usr', 'directory'), entry('usr/x', 'file')];
    const v2 = [entry('usr', 'directory'), entry('usr/x', 'directory'), entry('usr/x/y', 'file')];
    const p = plan(input({ installs: [{ staged: pkg('x', '2', v2), resolved: new Map(), old: installed('x', '1', v1), status: 'installed' }], disk: diskOf(v1) }));
    assert.deepEqual(kinds(p.steps), ['mkdir(move) usr/x', 'place usr/x/y']);
  });

  it('keeps a directory where the new version ships a symlink, as dpkg does', () => {
    const v1 = [entry('usr', 'directory'), entry('usr/d', 'directory')];
    const v2 = [entry('usr', 'directory'), entry('usr/d', 'symlink', { target: 'elsewhere' })];
    const p = plan(input({ installs: [{ staged: pkg('x', '2', v2), resolved: new Map(), old: installed('x', '1', v1), status: 'installed' }], disk: diskOf(v1) }));
    assert.deepEqual(kinds(p.steps), []);
    assert.match(p.notices.join('\n'), /keeping directory \/usr\/d/);
  });

  it('follows a directory symlink the root has (merged /usr) instead of replacing it', () => {
    const entries = [entry('lib', 'directory'), entry('lib/x', 'file')];
    const disk = new Map<RootPath, DiskState>([[rp('lib'), { type: 'symlink', target: 'usr/lib', targetIsDir: true }], [rp('usr/lib'), { type: 'directory', mode: 0o755, uid: 0, gid: 0 }]]);
    const resolved = new Map([[rp('lib'), rp('lib')], [rp('lib/x'), rp('usr/lib/x')]]);
    const p = plan(input({ installs: [{ staged: pkg('x', '1', entries), resolved, status: 'installed' }], disk }));
    assert.deepEqual(kinds(p.steps), ['place usr/lib/x']);
    assert.equal([...p.records[0].files][1].path, 'usr/lib/x');
  });

  it('refuses a file another package owns, naming both', () => {
    const owners = new Map<RootPath, Owner[]>([[rp('usr/bin/hello'), [{ name: 'hello', architecture: 'all', version: '1.0', type: 'file' }]]]);
    const staged = pkg('clash', '1', [entry('usr/bin/hello', 'file')]);
    assert.throws(
      () => plan(input({ installs: [{ staged, resolved: new Map(), status: 'installed' }], owners })),
      /clash_1\.deb: trying to overwrite '\/usr\/bin\/hello', which is also in package hello 1\.0/,
    );
  });

  it('takes a file over with Replaces or --force-overwrite and disowns it', () => {
    const owners = new Map<RootPath, Owner[]>([[rp('usr/bin/hello'), [{ name: 'hello', architecture: 'all', version: '1.0', type: 'file' }]]]);
    const staged = pkg('tools', '1', [entry('usr/bin/hello', 'file')]);
    const disk = new Map<RootPath, DiskState>([[rp('usr/bin/hello'), { type: 'file', mode: 0o755, uid: 0, gid: 0, size: 1 }]]);
    for (const over of [{ replaces: () => true }, { options: { forceOverwrite: true, conffiles: { forces: NO_CONFFILE_FORCES } } }]) {
      const p = plan(input({ installs: [{ staged, resolved: new Map(), status: 'installed' }], owners, disk, ...over }));
      assert.deepEqual(kinds(p.steps), ['place(link) usr/bin/hello']);
      assert.deepEqual(p.disowned, [{ owner: owners.get(rp('usr/bin/hello'))![0], path: 'usr/bin/hello' }]);
    }
  });

  it('makes a directory two packages of one transaction ship only once', () => {
    const a = pkg('a', '1', [entry('usr', 'directory'), entry('usr/a', 'file')]);
    const b = pkg('b', '1', [entry('usr', 'directory'), entry('usr/b', 'file')]);
    const p = plan(input({ installs: [a, b].map((staged) => ({ staged, resolved: new Map(), status: 'installed' as const })) }));
    assert.deepEqual(kinds(p.steps), ['mkdir usr', 'place usr/a', 'place usr/b']);
  });

  it('refuses two packages of one transaction shipping the same file', () => {
    const a = pkg('a', '1', [entry('f', 'file')]);
    const b = pkg('b', '1', [entry('f', 'file')]);
    assert.throws(() => plan(input({ installs: [a, b].map((staged) => ({ staged, resolved: new Map(), status: 'installed' as const })) })), /trying to overwrite '\/f', which is also in package a 1/);
  });

  it('removes vanished paths after placing new ones, children first, keeping shared directories', () => {
    const v1 = [entry('usr', 'directory'), entry('usr/share', 'directory'), entry('usr/share/old', 'directory'), entry('usr/share/old/f', 'file'), entry('usr/share/keep', 'file')];
    const v2 = [entry('usr', 'directory'), entry('usr/share', 'directory'), entry('usr/share/keep', 'file'), entry('usr/share/new', 'file')];
    const disk = diskOf(v1);
    disk.set(rp('usr/share/old'), { ...disk.get(rp('usr/share/old'))!, children: [rp('usr/share/old/f')] });
    const p = plan(input({ installs: [{ staged: pkg('x', '2', v2), resolved: new Map(), old: installed('x', '1', v1), status: 'installed' }], disk }));
    assert.deepEqual(kinds(p.steps), ['place usr/share/new', 'remove usr/share/old/f', 'remove(dir) usr/share/old']);
  });

  it('never removes a directory another package still owns something in', () => {
    const files = [entry('usr', 'directory'), entry('usr/share', 'directory'), entry('usr/share/x', 'file')];
    const disk = diskOf(files);
    disk.set(rp('usr/share'), { ...disk.get(rp('usr/share'))!, children: [rp('usr/share/x'), rp('usr/share/y')] });
    disk.set(rp('usr'), { ...disk.get(rp('usr'))!, children: [rp('usr/share')] });
    const other: Owner = { name: 'y', architecture: 'all', version: '1', type: 'directory' };
    const p = plan(
      input({
        removals: [{ pkg: installed('x', '1', files), purge: false }],
        disk,
        owners: new Map([[rp('usr'), [other]], [rp('usr/share'), [other]]]),
        ownedBeneath: new Map([[rp('usr'), [other]], [rp('usr/share'), [other]]]),
      }),
    );
    assert.deepEqual(kinds(p.steps), ['remove usr/share/x']);
    assert.deepEqual(p.deleted, [{ name: 'x', architecture: 'all', version: '1' }]);
  });

  describe('conffiles', () => {
    const conf = (md5: string) => entry('etc/x.conf', 'file', { conffile: true, md5, sha256: `sha-${md5}` });
    const upgrade = (diskMd5: string | undefined, forces: Partial<ConffileForces> = {}) => {
      const old = installed('x', '1', [conf('A')]);
      const disk = new Map<RootPath, DiskState>();
      if (diskMd5) disk.set(rp('etc/x.conf'), { type: 'file', mode: 0o644, uid: 0, gid: 0, size: 3, md5: diskMd5 });
      return plan(
        input({
          installs: [{ staged: pkg('x', '2', [conf('B')]), resolved: new Map(), old, status: 'installed' }],
          disk,
          options: { forceOverwrite: false, conffiles: { forces: { ...NO_CONFFILE_FORCES, ...forces } } },
        }),
      );
    };
    it('replaces an unmodified conffile', () => assert.deepEqual(kinds(upgrade('A').steps), ['place(link) etc/x.conf']));
    it('keeps a modified one and installs the new version as .dpkg-dist', () => {
      const p = upgrade('LOCAL');
      assert.deepEqual(kinds(p.steps), ['place etc/x.conf.dpkg-dist']);
      assert.equal([...p.records[0].files][0].conffileHash, 'B');
    });
    it('keeps it with --force-confold too', () => assert.deepEqual(kinds(upgrade('LOCAL', { confold: true }).steps), ['place etc/x.conf.dpkg-dist']));
    it('installs the new one with --force-confnew, keeping the old as .dpkg-old', () =>
      assert.deepEqual(kinds(upgrade('LOCAL', { confnew: true }).steps), ['place etc/x.conf.dpkg-old', 'place(link) etc/x.conf']));
    it('leaves a conffile the user deleted deleted, the changed version beside it as .dpkg-dist (dpkg --force-confold)', () =>
      assert.deepEqual(kinds(upgrade(undefined).steps), ['place etc/x.conf.dpkg-dist']));
    it('does nothing when the root already has the new version', () => assert.deepEqual(kinds(upgrade('B').steps), []));
    it('raises the question dpkg would ask, and plans the answer given to it', () => {
      const asked = upgrade('LOCAL');
      assert.deepEqual(
        asked.questions?.map((q) => [q.pkg, q.path, q.userEdited, q.distEdited, q.incoming.kind]),
        [['x', 'etc/x.conf', true, true, 'staged']],
      );
      const old = installed('x', '1', [conf('A')]);
      const disk = new Map<RootPath, DiskState>([[rp('etc/x.conf'), { type: 'file', mode: 0o644, uid: 0, gid: 0, size: 3, md5: 'LOCAL' }], [rp('etc/x.conf.dpkg-dist'), { type: 'file', md5: 'OLD' }]]);
      const answers = new Map([[rp('etc/x.conf'), 'install' as const]]);
      const p = plan(input({ installs: [{ staged: pkg('x', '2', [conf('B')]), resolved: new Map(), old, status: 'installed' }], disk, options: { forceOverwrite: false, conffiles: { forces: NO_CONFFILE_FORCES, answers } } }));
      // As dpkg: the stale .dpkg-dist goes, the administrator's version becomes the .dpkg-old.
      assert.deepEqual(kinds(p.steps), ['place etc/x.conf.dpkg-old', 'place(link) etc/x.conf', 'remove etc/x.conf.dpkg-dist']);
    });
    it('keeps conffiles on remove and deletes them on purge', () => {
      const pk = installed('x', '1', [entry('etc', 'directory'), conf('A'), entry('usr', 'directory'), entry('usr/bin', 'file')]);
      const disk = diskOf([entry('etc', 'directory'), conf('A'), entry('usr', 'directory'), entry('usr/bin', 'file')]);
      disk.set(rp('etc/x.conf.dpkg-dist'), { type: 'file' });
      disk.set(rp('etc'), { ...disk.get(rp('etc'))!, children: [rp('etc/x.conf'), rp('etc/x.conf.dpkg-dist')] });
      disk.set(rp('usr'), { ...disk.get(rp('usr'))!, children: [rp('usr/bin')] });
      const removed = plan(input({ removals: [{ pkg: pk, purge: false }], disk }));
      assert.deepEqual(kinds(removed.steps), ['remove usr/bin', 'remove(dir) usr']);
      assert.equal(removed.records[0].status, 'config-files');
      assert.deepEqual(removed.records[0].files.map((f) => f.path), ['etc', 'etc/x.conf']);
      const purged = plan(input({ removals: [{ pkg: pk, purge: true }], disk }));
      assert.deepEqual(kinds(purged.steps), ['remove usr/bin', 'remove etc/x.conf.dpkg-dist', 'remove etc/x.conf', 'remove(dir) usr', 'remove(dir) etc']);
      assert.equal(purged.deleted.length, 1);
    });
  });

  it('places no filtered member but records it, removes what the old version left there, keeps a filtered conffile', () => {
    const filtered = { filtered: true, sha256: undefined, md5: undefined };
    const v1 = [entry('usr', 'directory'), entry('usr/doc', 'file'), entry('etc', 'directory'), entry('etc/x.conf', 'file', { conffile: true })];
    const v2 = [
      entry('usr', 'directory'),
      entry('usr/doc', 'file', filtered),
      entry('usr/man', 'directory', filtered),
      entry('usr/man/x.1', 'file', filtered),
      entry('etc', 'directory'),
      entry('etc/x.conf', 'file', { ...filtered, conffile: true }),
    ];
    const old = installed('x', '1', v1);
    const p = plan(input({ installs: [{ staged: pkg('x', '2', v2), resolved: new Map(), old, status: 'installed' }], disk: diskOf(v1) }));
    // The old version's file at a filtered path goes, as dpkg removes it; nothing filtered is made or placed.
    assert.deepEqual(kinds(p.steps), ['remove usr/doc']);
    const files = new Map(p.records[0].files.map((f) => [f.path, f]));
    assert.deepEqual([...files.keys()].sort(), ['etc', 'etc/x.conf', 'usr', 'usr/doc', 'usr/man', 'usr/man/x.1']);
    assert.equal(files.get(rp('usr/doc'))?.md5, undefined);
    // The conffile dpkg never removes on upgrade stays, its row the installed one.
    assert.equal(files.get(rp('etc/x.conf'))?.md5, 'md5-etc/x.conf');
    assert.equal(files.get(rp('etc/x.conf'))?.conffile, true);
  });

});
