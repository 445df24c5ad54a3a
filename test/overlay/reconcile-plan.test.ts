import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FileRow } from '../../src/db/types';
import type { RootPath } from '../../src/fs/rootpath';
import type { EntryMetadata, LowerEntry, PackageRecord, ReconcileFacts, UpperEntry } from '../../src/overlay/reconcile/facts';
import { FS_MAGIC, judgeOrigin, originInode, parseOrigin } from '../../src/overlay/reconcile/origin';
import { planReconcile, type ReconcilePlan } from '../../src/overlay/reconcile/plan';

/**
 * The reconcile planner on facts made by hand: every rule of plan.ts, one case each, without layers,
 * mounts or root. The real-mount tests (reconcile.test.ts) check that the rules add up to the new image.
 */

const P = (p: string) => p as RootPath;
const PREFIX = 'trusted.overlay.';
const MTIME = '1700000000000000000';

function meta(kind: EntryMetadata['kind'], extra: Partial<EntryMetadata> = {}): EntryMetadata {
  return { kind, mode: kind === 'directory' ? 0o755 : 0o644, uid: 0, gid: 0, size: 0, mtimeNs: MTIME, rdev: 0, xattrs: {}, ...extra };
}

let ino = 100;
function up(path: string, kind: EntryMetadata['kind'] | 'whiteout', extra: Partial<UpperEntry> = {}): UpperEntry {
  const whiteout = kind === 'whiteout';
  const m = meta(whiteout ? 'char' : kind);
  return { ...m, path: P(path), whiteout, metacopy: false, otherOverlayAttrs: [], bytes: m.kind === 'file' ? 4096 : 0, inode: `1:${ino++}`, nlink: 1, ...extra };
}

function low(path: string, kind: EntryMetadata['kind'], extra: Partial<LowerEntry> = {}): LowerEntry {
  return { ...meta(kind), path: P(path), ino: ino++, layer: 0, ...extra };
}

/** A file with content `c`: its digests are the content itself, to keep cases short. */
function content(c: string): Partial<EntryMetadata> {
  return { size: c.length, sha256: `sha-${c}`, md5: `md5-${c}` };
}

function row(path: string, type: FileRow['type'], c?: string, extra: Partial<FileRow> = {}): FileRow {
  return {
    id: 0,
    packageId: 0,
    path,
    type,
    mode: type === 'directory' ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    size: c?.length ?? 0,
    sha256: c === undefined ? null : `sha-${c}`,
    md5: c === undefined ? null : `md5-${c}`,
    mtime: 1_700_000_000,
    linkTarget: null,
    devMajor: null,
    devMinor: null,
    conffile: false,
    conffileHash: null,
    ...extra,
  };
}

function conffile(path: string, c: string): FileRow {
  return row(path, 'file', c, { conffile: true, conffileHash: `md5-${c}` });
}

function pkg(name: string, version: string, files: FileRow[], status = 'installed'): PackageRecord {
  return { name, architecture: 'all', version, status, control: `Package: ${name}\nVersion: ${version}\n`, installedSize: null, files };
}

function set(...pkgs: PackageRecord[]): Map<string, PackageRecord> {
  return new Map(pkgs.map((p) => [`${p.name}:${p.architecture}`, p]));
}

interface Layers {
  upper: UpperEntry[];
  lower: LowerEntry[];
  upperDb?: PackageRecord[];
  imageDb?: PackageRecord[];
  lowerChildren?: Record<string, string[]>;
}

function plan(l: Layers, opts: { stripOrigin?: boolean } = {}): ReconcilePlan {
  const dirs = new Set<string>();
  for (const e of l.upper) for (let p = e.path; p !== ''; p = P(p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '')) if (p !== e.path) dirs.add(p);
  const upper = [up('', 'directory'), ...[...dirs].filter((d) => !l.upper.some((e) => e.path === d)).map((d) => up(d, 'directory')), ...l.upper];
  upper.sort((a, b) => (a.path === '' ? -1 : b.path === '' ? 1 : a.path.split('/').length - b.path.split('/').length || (a.path < b.path ? -1 : 1)));
  const lower = new Map<RootPath, LowerEntry>(l.lower.map((e) => [e.path, e]));
  if (!lower.has(P(''))) lower.set(P(''), low('', 'directory'));
  const facts: ReconcileFacts = {
    upper,
    lower,
    lowerChildren: new Map(Object.entries(l.lowerChildren ?? {}).map(([k, v]) => [P(k), v])),
    upperDb: l.upperDb && set(...l.upperDb),
    imageDb: l.imageDb && set(...l.imageDb),
    leaveAlone: [P('var/lib/overmerge/db.sqlite')],
  };
  return planReconcile(facts, { stripOrigin: opts.stripOrigin ?? false, prefix: PREFIX });
}

const removed = (p: ReconcilePlan): Record<string, string> => Object.fromEntries(p.removals.map((r) => [r.path, r.reason]));

describe('reconcile plan: upper entries against the new lower', () => {
  it('an upper copy equal to the new lower goes (its blocks are reclaimed); one that differs stays', () => {
    const p = plan({
      upper: [up('usr/a', 'file', content('same')), up('usr/b', 'file', content('mine')), up('usr/c', 'file', { ...content('same'), mtimeNs: '1' })],
      lower: [low('usr', 'directory'), low('usr/a', 'file', content('same')), low('usr/b', 'file', content('theirs')), low('usr/c', 'file', content('same'))],
    });
    assert.deepEqual(removed(p), { 'usr/a': 'redundant' }, 'the file with another mtime stays too: removing it would change the merged view');
    assert.equal(p.reclaimedBytes, 4096);
    assert.deepEqual(p.steps, [{ kind: 'remove', path: 'usr/a' }]);
  });

  it('an upper directory equal to the lower one goes once everything in it went; one holding a kept entry stays', () => {
    const p = plan({
      upper: [up('usr', 'directory'), up('usr/share', 'directory'), up('usr/share/x', 'file', content('x')), up('usr/bin', 'directory'), up('usr/bin/mine', 'file', content('m'))],
      lower: [low('usr', 'directory'), low('usr/share', 'directory'), low('usr/share/x', 'file', content('x')), low('usr/bin', 'directory')],
    });
    assert.deepEqual(removed(p), { 'usr/share': 'redundant', 'usr/share/x': 'redundant' });
    assert.deepEqual(p.steps.map((s) => `${s.kind} ${s.path}`), ['remove usr/share/x', 'rmdir usr/share'], 'children before their folder; the folder at finish');
  });

  it('symlinks, xattrs and modes count: a different target, capability or mode keeps the copy', () => {
    const p = plan({
      upper: [up('l1', 'symlink', { target: 'a' }), up('l2', 'symlink', { target: 'b' }), up('f1', 'file', { ...content('f'), xattrs: { 'security.capability': '01' } }), up('f2', 'file', { ...content('f'), mode: 0o755 })],
      lower: [low('l1', 'symlink', { target: 'a' }), low('l2', 'symlink', { target: 'a' }), low('f1', 'file', content('f')), low('f2', 'file', content('f'))],
    });
    assert.deepEqual(removed(p), { l1: 'redundant' });
  });

  it('a whiteout over nothing goes; over an unowned lower file it stays', () => {
    const p = plan({ upper: [up('etc/gone', 'whiteout'), up('etc/deleted', 'whiteout')], lower: [low('etc', 'directory'), low('etc/deleted', 'file', content('d'))] });
    assert.deepEqual(removed(p), { 'etc/gone': 'dead-whiteout' });
  });

  it("a whiteout over a file of a package the image decides goes (the file comes back); over its conffile it stays", () => {
    const image = pkg('greet', '1.0', [row('usr/bin/goodbye', 'file', 'g'), conffile('etc/greet.conf', 'c')]);
    const p = plan({
      upper: [up('usr/bin/goodbye', 'whiteout'), up('etc/greet.conf', 'whiteout')],
      lower: [low('usr/bin/goodbye', 'file', content('g')), low('etc/greet.conf', 'file', content('c'))],
      upperDb: [pkg('greet', '1.0', [conffile('etc/greet.conf', 'c')])],
      imageDb: [image],
    });
    assert.deepEqual(removed(p), { 'usr/bin/goodbye': 'restored' });
    assert.deepEqual(p.notes.map((n) => `${n.kind} ${n.path}`), ['deleted-conffile etc/greet.conf']);
  });

  it('an opaque directory over nothing loses its mark (the value journaled); over a lower directory it keeps it', () => {
    const p = plan({
      upper: [up('opt/thing', 'directory', { opaque: 'y' }), up('opt/thing/mine', 'file', content('m')), up('srv/x', 'directory', { opaque: 'y' }), up('srv/x/mine', 'file', content('m'))],
      lower: [low('opt', 'directory'), low('srv', 'directory'), low('srv/x', 'directory')],
    });
    assert.deepEqual(p.attributes, [{ path: 'opt/thing', attr: 'opaque', why: 'nothing-beneath' }]);
    assert.deepEqual(p.steps, [{ kind: 'strip-xattr', path: 'opt/thing', name: 'trusted.overlay.opaque', value: Buffer.from('y').toString('hex') }]);
  });

  it('nothing beneath a redirected directory is touched, and the redirect is listed', () => {
    const p = plan({
      upper: [up('usr/new', 'directory', { redirect: 'old' }), up('usr/new/same', 'file', content('s')), up('usr/new/gone', 'whiteout')],
      lower: [low('usr', 'directory'), low('usr/new', 'directory'), low('usr/new/same', 'file', content('s'))],
    });
    assert.deepEqual(p.removals, []);
    assert.deepEqual(p.notes.map((n) => `${n.kind} ${n.path} ${n.detail}`), ['redirect usr/new old']);
  });

  it("a hard-linked inode's blocks count once, when its last name goes", () => {
    const p = plan({
      upper: [up('a', 'file', { ...content('x'), inode: '1:9', nlink: 2 }), up('b', 'file', { ...content('x'), inode: '1:9', nlink: 2 }), up('c', 'file', { ...content('y'), inode: '1:8', nlink: 2 }), up('d', 'file', { ...content('z'), inode: '1:8', nlink: 2 })],
      lower: [low('a', 'file', content('x')), low('b', 'file', content('x')), low('c', 'file', content('y'))],
    });
    assert.deepEqual(removed(p), { a: 'redundant', b: 'redundant', c: 'redundant' });
    assert.equal(p.reclaimedBytes, 4096, 'a and b free their inode; c shares its inode with d, which stays');
  });

  it("overmerge's own database, lock and staging are left alone", () => {
    const p = plan({ upper: [up('var/lib/overmerge/db.sqlite', 'file', content('db'))], lower: [low('var/lib/overmerge/db.sqlite', 'file', content('db'))] });
    assert.deepEqual(p.removals, []);
  });
});

describe('reconcile plan: packages', () => {
  it('a package the image ships at a newer version: its upper files go, a modified conffile stays, a local change is flagged', () => {
    const upperDb = [pkg('alpha', '2.0', [row('usr', 'directory'), row('usr/bin/alpha', 'file', 'a2'), row('usr/share/alpha', 'directory'), row('usr/share/alpha/only2', 'file', 'o'), conffile('etc/alpha.conf', 'c2'), conffile('etc/alpha.d', 'd2')])];
    const imageDb = [pkg('alpha', '3.0', [row('usr', 'directory'), row('usr/bin/alpha', 'file', 'a3'), conffile('etc/alpha.conf', 'c3'), conffile('etc/alpha.d', 'd3')])];
    const p = plan({
      upper: [up('usr/bin/alpha', 'file', content('a2-patched')), up('usr/share/alpha/only2', 'file', content('o')), up('etc/alpha.conf', 'file', content('c2-edited')), up('etc/alpha.d', 'file', content('d2'))],
      lower: [low('usr', 'directory'), low('usr/bin', 'directory'), low('usr/share', 'directory'), low('etc', 'directory'), low('usr/bin/alpha', 'file', content('a3')), low('etc/alpha.conf', 'file', content('c3')), low('etc/alpha.d', 'file', content('d3'))],
      upperDb,
      imageDb,
    });
    assert.deepEqual(removed(p), {
      usr: 'redundant',
      'usr/bin': 'redundant',
      'usr/bin/alpha': 'package-file',
      'usr/share': 'redundant',
      'usr/share/alpha': 'empty-directory',
      'usr/share/alpha/only2': 'package-file',
      'etc/alpha.d': 'package-file',
    });
    assert.equal(p.removals.find((r) => r.path === 'usr/bin/alpha')?.localChange, true);
    assert.equal(p.removals.find((r) => r.path === 'usr/share/alpha/only2')?.obsolete, true);
    assert.deepEqual(p.notes.map((n) => `${n.kind} ${n.path} ${n.detail ?? ''}`), ['modified-conffile etc/alpha.conf the image ships another version of it']);
    assert.deepEqual(p.packages.map((x) => [x.name, x.verdict, x.rows, x.removed]), [['alpha', 'image-newer', 'image', 4]]);
    assert.deepEqual(p.database, { fromImage: ['alpha:all'], kept: [], removed: [], disowned: [] });
  });

  it('the same version in the image: its rows, and upper copies equal to the image are redundant', () => {
    const files = [row('usr/bin/hello', 'file', 'h2')];
    const p = plan({ upper: [up('usr/bin/hello', 'file', content('h2'))], lower: [low('usr/bin/hello', 'file', content('h2'))], upperDb: [pkg('hello', '2.0', files)], imageDb: [pkg('hello', '2.0', files)] });
    assert.deepEqual(removed(p), { 'usr/bin/hello': 'redundant' });
    assert.equal(p.packages[0].verdict, 'image-same');
  });

  it("a kept package newer than the image's: files stay; the image's version's own files get whiteouts (a folder whose entries all would, one itself)", () => {
    const upperDb = [pkg('gamma', '3.0', [row('usr', 'directory'), row('usr/share/gamma', 'directory'), row('usr/share/gamma/three', 'file', '3'), row('usr/share/doc/gamma/copyright', 'file', 'c')])];
    const imageDb = [pkg('gamma', '2.0', [row('usr', 'directory'), row('usr/share/gamma', 'directory'), row('usr/share/gamma/two', 'file', '2'), row('usr/lib/gamma2', 'directory'), row('usr/lib/gamma2/a', 'file', 'a'), row('usr/lib/gamma2/b', 'file', 'b'), row('usr/share/doc/gamma/copyright', 'file', 'c')])];
    const p = plan({
      upper: [up('usr/share/gamma/three', 'file', content('3'))],
      lower: [
        low('usr', 'directory'),
        low('usr/share', 'directory'),
        low('usr/share/gamma', 'directory', { mode: 0o750 }),
        low('usr/share/gamma/two', 'file', content('2')),
        low('usr/lib', 'directory'),
        low('usr/lib/gamma2', 'directory'),
        low('usr/lib/gamma2/a', 'file', content('a')),
        low('usr/lib/gamma2/b', 'file', content('b')),
        low('usr/share/doc/gamma/copyright', 'file', content('c')),
      ],
      lowerChildren: { 'usr/lib/gamma2': ['a', 'b'] },
      upperDb,
      imageDb,
    });
    assert.deepEqual(removed(p), {});
    assert.deepEqual(p.additions.map((a) => `${a.what} ${a.path}`), ['directory usr/lib', 'whiteout usr/lib/gamma2', 'whiteout usr/share/gamma/two']);
    assert.deepEqual(p.steps.filter((s) => s.kind === 'mkdir'), [{ kind: 'mkdir', path: 'usr/lib', meta: { mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_000 }, aside: 'none' }]);
    assert.deepEqual(p.lost, [], 'copyright lived in the old lower, and the new image has the same bytes');
    assert.deepEqual(p.database?.kept, ['gamma:all']);
  });

  it("a kept package's file that lived in the replaced lower and differs in the new one is lost", () => {
    const p = plan({
      upper: [up('usr/bin/tool', 'file', content('t3'))],
      lower: [low('usr/share/doc/tool/copyright', 'file', content('other'))],
      upperDb: [pkg('tool', '3.0', [row('usr/bin/tool', 'file', 't3'), row('usr/share/doc/tool/copyright', 'file', 'c'), row('usr/share/doc/tool/NEWS', 'file', 'n')])],
      imageDb: [pkg('tool', '2.0', [row('usr/share/doc/tool/copyright', 'file', 'other')])],
    });
    assert.deepEqual(
      p.lost.map((l) => `${l.path} ${l.package}`),
      ['usr/share/doc/tool/NEWS tool 3.0', 'usr/share/doc/tool/copyright tool 3.0'],
    );
  });

  it('a package only the upper database has, with none of its files in the upper layer and its files gone: dropped', () => {
    const p = plan({
      upper: [up('usr/share/delta/notes', 'whiteout'), up('etc/delta.conf', 'file', content('edited')), up('usr/bin/extra', 'file', content('e'))],
      lower: [],
      upperDb: [
        pkg('delta', '1.0', [row('usr/share/delta', 'directory'), row('usr/share/delta/notes', 'file', 'n'), row('usr/bin/delta', 'file', 'd'), conffile('etc/delta.conf', 'c')]),
        pkg('extra', '1', [row('usr/bin/extra', 'file', 'e'), row('usr/share/extra/data', 'file', 'x')]),
      ],
    });
    assert.deepEqual(p.packages.map((x) => [x.name, x.verdict, x.rows]), [['delta', 'dropped', 'none'], ['extra', 'upper-only', 'upper']]);
    assert.deepEqual(removed(p), { 'usr/share/delta/notes': 'dead-whiteout', 'usr/share/delta': 'empty-directory' }, "the folder deleting notes copied up goes too: only delta had it, and nothing is beneath");
    assert.deepEqual(p.notes.map((n) => `${n.kind} ${n.path}`), ['left-behind etc/delta.conf']);
    assert.deepEqual(p.lost.map((l) => l.path), ['usr/share/extra/data'], "extra was installed through the overlay (its binary is in the upper layer): kept, and its file that lived in the old image is lost");
    assert.deepEqual(p.database?.removed, ['delta:all']);
  });

  it('a package the upper installed and the image lacks: kept, with its files', () => {
    const p = plan({ upper: [up('usr/bin/extra', 'file', content('e'))], lower: [], upperDb: [pkg('extra', '1', [row('usr/bin/extra', 'file', 'e')])] });
    assert.deepEqual(p.packages.map((x) => [x.name, x.verdict, x.rows]), [['extra', 'upper-only', 'upper']]);
    assert.deepEqual(p.removals, []);
    assert.deepEqual(p.lost, []);
  });

  it("a file a kept package took over from an image package: the image package's row for it goes", () => {
    const p = plan({
      upper: [up('usr/bin/hello', 'file', content('tools'))],
      lower: [low('usr/bin/hello', 'file', content('h2'))],
      upperDb: [pkg('hello', '2.0', []), pkg('hello-tools', '1.0', [row('usr/bin/hello', 'file', 'tools')])],
      imageDb: [pkg('hello', '2.0', [row('usr/bin/hello', 'file', 'h2')])],
    });
    assert.deepEqual(p.removals, []);
    assert.deepEqual(p.database?.disowned, [{ key: 'hello:all', path: 'usr/bin/hello' }]);
  });

  it("an upper package that is not installed (config-files) gives way to the image's", () => {
    const p = plan({ upper: [], lower: [], upperDb: [pkg('hello', '3.0', [], 'config-files')], imageDb: [pkg('hello', '2.0', [])] });
    assert.equal(p.packages[0].verdict, 'image-over-unfinished');
  });
});

describe('reconcile plan: overlay attributes', () => {
  const fh = (inode: number, uuid = Buffer.alloc(16)): Buffer => {
    const fid = Buffer.alloc(8);
    fid.writeUInt32LE(inode, 0);
    return Buffer.concat([Buffer.from([0, 0xfb, 21 + 8, 0, 1]), uuid, fid]);
  };
  const origin = (b: Buffer) => {
    const handle = parseOrigin(b);
    return { raw: b.toString('hex'), handle, inode: originInode(handle, FS_MAGIC.squashfs) };
  };

  it('reads overlayfs origin handles: empty, squashfs (null UUID), malformed', () => {
    assert.deepEqual(parseOrigin(Buffer.alloc(0)), { kind: 'null' });
    const h = parseOrigin(fh(2));
    assert.equal(h.kind, 'handle');
    assert.equal(h.kind === 'handle' && h.nullUuid, true);
    assert.equal(originInode(h, FS_MAGIC.squashfs), 2);
    assert.equal(originInode(h, undefined), undefined, 'an unknown filesystem: the layout is not guessed');
    assert.equal(parseOrigin(Buffer.from([0, 0xfa, 3])).kind, 'malformed');
    assert.equal(judgeOrigin(origin(fh(2)), 2), 'current');
    assert.equal(judgeOrigin(origin(fh(2)), 3), 'stale');
    assert.equal(judgeOrigin(origin(fh(2)), undefined), 'stale');
    assert.equal(judgeOrigin(origin(Buffer.alloc(0)), 3), 'null');
  });

  it('stale origins are listed; --strip-origin removes them (the value journaled) and leaves current and null ones', () => {
    const layers: Layers = {
      upper: [up('d', 'directory', { origin: origin(fh(1)) }), up('d/a', 'file', { ...content('A2'), origin: origin(fh(2)) }), up('d/z', 'file', { ...content('Z2'), origin: origin(Buffer.alloc(0)) })],
      lower: [low('d', 'directory', { ino: 1 }), low('d/a', 'file', { ...content('A'), ino: 3 }), low('d/z', 'file', { ...content('Z'), ino: 9 })],
    };
    const listed = plan(layers);
    assert.deepEqual(listed.origins, [{ path: 'd/a', verdict: 'stale', inode: 2, lowerInode: 3, nullUuid: true, stripped: false }]);
    assert.deepEqual(listed.steps, []);
    const stripped = plan(layers, { stripOrigin: true });
    assert.deepEqual(stripped.steps, [{ kind: 'strip-xattr', path: 'd/a', name: 'trusted.overlay.origin', value: fh(2).toString('hex') }]);
  });

  it("a kept metacopy file whose data the new lower has as its package recorded it is fine; any other's data is lost", () => {
    const p = plan({
      upper: [up('usr/bin/ok', 'file', { size: 2, metacopy: true, mode: 0o700 }), up('usr/bin/gone', 'file', { size: 2, metacopy: true, mode: 0o700 }), up('home/x', 'file', { size: 2, metacopy: true, mode: 0o600 })],
      lower: [low('usr/bin/ok', 'file', content('ok')), low('home/x', 'file', content('yy'))],
      upperDb: [pkg('p', '2', [row('usr/bin/ok', 'file', 'ok'), row('usr/bin/gone', 'file', 'go')])],
      imageDb: [pkg('p', '1', [row('usr/bin/ok', 'file', 'ok')])],
    });
    assert.deepEqual(p.notes.map((n) => `${n.kind} ${n.path}`), ['metacopy usr/bin/ok']);
    assert.deepEqual(p.lost.map((l) => `${l.kind} ${l.path}`), ['metacopy home/x', 'metacopy usr/bin/gone']);
    assert.deepEqual(removed(p), {});
  });

  it('a metacopy file whose metadata equals the lower file is redundant (its data was that file anyway)', () => {
    const p = plan({ upper: [up('f', 'file', { size: 2, metacopy: true })], lower: [low('f', 'file', content('ab'))] });
    assert.deepEqual(removed(p), { f: 'redundant' });
  });
});
