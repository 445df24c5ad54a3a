import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mountContaining, parseMountInfo, parseMountInfoLine, pathInMount, unescapeOctal, type MountInfoEntry } from '../../src/overlay/mountinfo';
import { KCONFIG_DEFAULTS, moduleDefaults, parseOverlayOptions, splitLowerdir, unescapeOverlay } from '../../src/overlay/options';

/** Lines as Linux 6.18 printed them for mounts made by these tests' author (paths shortened). */
const LEGACY_6_18 =
  '67 27 0:58 / /tmp/x/mnt rw,relatime - overlay ovexp rw,lowerdir=/tmp/x/l\\134:1:/tmp/x/l\\134\\0542:/tmp/x/l\\0403:/tmp/x/l\\134\\1344::/tmp/x/data,upperdir=/tmp/x/up,workdir=/tmp/x/wk,redirect_dir=on,uuid=on,metacopy=on';
/** The same layers given one by one with fsconfig(2) (`lowerdir+`, `datadir+`): names are not overlay-escaped. */
const NEW_API_6_18 =
  '63 27 0:54 / /tmp/x/mnt rw,relatime - overlay ovexp2 rw,lowerdir+=/tmp/x/l:1,lowerdir+=/tmp/x/l\\0542,lowerdir+=/tmp/x/l\\0403,lowerdir+=/tmp/x/l\\1344,datadir+=/tmp/x/data,upperdir=/tmp/x/up,workdir=/tmp/x/wk,redirect_dir=on,metacopy=on';

function options(line: string) {
  const e = parseMountInfoLine(line);
  assert.ok(e, 'the line parses');
  return parseOverlayOptions(e.superOptions);
}

describe('mountinfo lines', () => {
  it('splits the fields, optional ones included, and undoes octal escapes in paths', () => {
    const e = parseMountInfoLine('36 35 98:0 /mnt1 /mnt/my\\040root rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue');
    assert.deepEqual(e, {
      id: 36,
      parentId: 35,
      major: 98,
      minor: 0,
      root: '/mnt1',
      mountPoint: '/mnt/my root',
      mountOptions: ['rw', 'noatime'],
      optionalFields: ['master:1', 'shared:7'],
      fsType: 'ext3',
      source: '/dev/root',
      superOptions: [{ key: 'rw' }, { key: 'errors', value: 'continue' }],
    });
  });

  it('decodes escapes byte by byte, so a UTF-8 name survives, and leaves a lone backslash alone', () => {
    assert.equal(unescapeOctal('/m\\303\\251dia\\011x\\012y\\134z'), '/média\tx\ny\\z');
    assert.equal(unescapeOctal('/a\\b\\9999'), '/a\\b\\9999');
  });

  it('skips lines without the shape of a mountinfo line', () => {
    const text = ['garbage', '1 2 3:4 / /x rw - tmpfs t rw', '1 2 x / /x rw - tmpfs t rw', '22 1 0:21 / /proc rw - proc proc rw', ''].join('\n');
    assert.deepEqual(parseMountInfo(text).map((e) => e.mountPoint), ['/x', '/proc']);
  });
});

describe('overlay options from mountinfo', () => {
  it('legacy lowerdir= as 6.18 prints it: \\: and \\, escapes, octal-escaped, and :: before data-only layers', () => {
    const o = options(LEGACY_6_18);
    assert.deepEqual(o.layers, { lower: ['/tmp/x/l:1', '/tmp/x/l,2', '/tmp/x/l 3', '/tmp/x/l\\4'], data: ['/tmp/x/data'], upper: '/tmp/x/up', work: '/tmp/x/wk' });
    assert.equal(o.features.metacopy.value, true);
    assert.equal(o.features.metacopy.source, 'mountinfo');
    assert.equal(o.features.redirectDir.value, 'on');
    assert.equal(o.features.uuid.value, 'on');
    assert.equal(o.readOnly, false);
    assert.deepEqual(o.unknown, []);
  });

  it('lowerdir+ and datadir+ (the new mount API): the same layers, names taken as they are', () => {
    const o = options(NEW_API_6_18);
    assert.deepEqual(o.layers.lower, ['/tmp/x/l:1', '/tmp/x/l,2', '/tmp/x/l 3', '/tmp/x/l\\4']);
    assert.deepEqual(o.layers.data, ['/tmp/x/data']);
    assert.equal(o.features.uuid.source, 'default');
  });

  it('a colon printed as \\072 (kernels that escaped each layer name) is part of the name, not a separator', () => {
    assert.deepEqual(splitLowerdir('/a\\072b:/c\\072\\072d::/data'), { lower: ['/a:b', '/c::d'], data: ['/data'] });
  });

  it('older kernels printed overlayfs escapes raw: \\: is still a colon in a name', () => {
    assert.deepEqual(splitLowerdir('/a\\:b:/c\\\\:/d'), { lower: ['/a:b', '/c\\', '/d'], data: [] });
  });

  it('several data-only layers, and a single layer', () => {
    assert.deepEqual(splitLowerdir('/l1:/l2::/d1::/d2'), { lower: ['/l1', '/l2'], data: ['/d1', '/d2'] });
    assert.deepEqual(splitLowerdir('/only'), { lower: ['/only'], data: [] });
    assert.deepEqual(splitLowerdir(''), { lower: [], data: [] });
  });

  it('upperdir and workdir go through overlayfs unescaping as the kernel does (a colon needs none)', () => {
    const o = options('60 27 0:55 / /m rw - overlay o rw,lowerdir=/lo,upperdir=/u\\134\\134x:y,workdir=/w\\134\\054z');
    assert.equal(o.layers.upper, '/u\\x:y');
    assert.equal(o.layers.work, '/w,z');
    assert.equal(unescapeOverlay('a\\\\b\\c\\'), 'a\\bc');
  });

  it('every feature the kernel prints, with its value; flags; unknown options kept as printed', () => {
    const o = options(
      '1 2 0:9 / /m rw - overlay o rw,lowerdir=/l,upperdir=/u,workdir=/w,default_permissions,redirect_dir=nofollow,index=on,uuid=null,nfs_export=on,xino=auto,metacopy=off,volatile,userxattr,verity=require,frobnicate=7',
    );
    const values = Object.fromEntries(Object.entries(o.features).map(([k, s]) => [k, [s.value, s.source]]));
    assert.deepEqual(values, {
      redirectDir: ['nofollow', 'mountinfo'],
      index: [true, 'mountinfo'],
      metacopy: [false, 'mountinfo'],
      nfsExport: [true, 'mountinfo'],
      xino: ['auto', 'mountinfo'],
      uuid: ['null', 'mountinfo'],
      verity: ['require', 'mountinfo'],
      volatile: [true, 'mountinfo'],
      fsync: ['volatile', 'mountinfo'],
      userxattr: [true, 'mountinfo'],
      defaultPermissions: [true, 'mountinfo'],
    });
    assert.deepEqual(o.unknown, ['frobnicate=7']);
  });

  it('an absent feature has the module default: Kconfig defaults, or those of /sys/module/overlay/parameters', () => {
    const plain = '1 2 0:9 / /m rw - overlay o rw,lowerdir=/l,upperdir=/u,workdir=/w';
    const e = parseMountInfoLine(plain)!;
    const k = parseOverlayOptions(e.superOptions, KCONFIG_DEFAULTS).features;
    assert.deepEqual([k.redirectDir.value, k.index.value, k.metacopy.value, k.xino.value, k.uuid.value, k.nfsExport.value, k.verity.value], ['follow', false, false, 'off', 'auto', false, 'off']);
    assert.equal(k.index.source, 'default');
    const sysfs = moduleDefaults({ redirect_dir: 'Y\n', redirect_always_follow: 'N\n', index: 'Y\n', nfs_export: 'N\n', metacopy: 'Y\n', xino_auto: 'Y\n' });
    const m = parseOverlayOptions(e.superOptions, sysfs).features;
    assert.deepEqual([m.redirectDir.value, m.index.value, m.metacopy.value, m.xino.value], ['on', true, true, 'auto']);
    const noFollow = moduleDefaults({ redirect_dir: 'N', redirect_always_follow: 'N' });
    assert.equal(parseOverlayOptions(e.superOptions, noFollow).features.redirectDir.value, 'nofollow');
  });

  it('fsync= (Linux 6.18): volatile is fsync=volatile; strict is printed, auto is the default', () => {
    const f = (opt: string) => options(`1 2 0:9 / /m rw - overlay o rw,lowerdir=/l,upperdir=/u,workdir=/w${opt}`).features;
    assert.deepEqual([f(',fsync=volatile').volatile.value, f(',fsync=volatile').fsync.value], [true, 'volatile']);
    assert.deepEqual([f(',fsync=strict').volatile.value, f(',fsync=strict').fsync.value], [false, 'strict']);
    assert.deepEqual([f('').volatile, f('').fsync], [{ value: false, source: 'default' }, { value: 'auto', source: 'default' }]);
  });

  it('redirect_dir=off (older kernels print what was given) is follow or nofollow by redirect_always_follow', () => {
    const e = parseMountInfoLine('1 2 0:9 / /m rw - overlay o rw,lowerdir=/l,redirect_dir=off')!;
    assert.equal(parseOverlayOptions(e.superOptions, moduleDefaults({ redirect_always_follow: 'Y' })).features.redirectDir.value, 'follow');
    assert.equal(parseOverlayOptions(e.superOptions, moduleDefaults({ redirect_always_follow: 'N' })).features.redirectDir.value, 'nofollow');
  });

  it('read-only: ro, or no upper layer; a later lowerdir= replaces the layers before it', () => {
    assert.equal(options('1 2 0:9 / /m ro - overlay o ro,lowerdir=/l,upperdir=/u,workdir=/w').readOnly, true);
    const o = options('1 2 0:9 / /m rw - overlay o rw,lowerdir=/a:/b,lowerdir=/c');
    assert.equal(o.readOnly, true);
    assert.deepEqual(o.layers.lower, ['/c']);
  });

  it('a bad value is an unknown option and the default stands', () => {
    const o = options('1 2 0:9 / /m rw - overlay o rw,lowerdir=/l,index=maybe,xino=sometimes');
    assert.deepEqual(o.unknown, ['index=maybe', 'xino=sometimes']);
    assert.equal(o.features.index.source, 'default');
  });
});

describe('the mount that holds a path', () => {
  const entry = (id: number, parentId: number, mountPoint: string, fsType: string, dev = '0:1', root = '/'): MountInfoEntry =>
    parseMountInfoLine(`${id} ${parentId} ${dev} ${root} ${mountPoint.replace(/ /g, '\\040')} rw - ${fsType} src rw`)!;
  const table = [
    entry(1, 0, '/', 'ext4', '8:1'),
    entry(2, 1, '/srv', 'xfs', '8:2'),
    entry(3, 2, '/srv/root', 'tmpfs', '0:40'),
    entry(4, 3, '/srv/root', 'overlay', '0:41'), // mounted over the tmpfs
    entry(5, 2, '/srv/root2', 'overlay', '0:42'),
    entry(6, 1, '/my root', 'overlay', '0:43', '/sub'),
  ];

  it('is the one whose mount point is the nearest ancestor (or the path itself)', () => {
    assert.equal(mountContaining(table, '/srv/root/usr/bin')?.id, 4);
    assert.equal(mountContaining(table, '/srv/root')?.id, 4);
    assert.equal(mountContaining(table, '/srv/root2x')?.id, 2, '/srv/root2 is not an ancestor of /srv/root2x');
    assert.equal(mountContaining(table, '/etc')?.id, 1);
    assert.equal(mountContaining(table, '/my root/a')?.id, 6);
  });

  it('of several on one mount point, the one on top; the device number settles it when given', () => {
    assert.equal(mountContaining([table[3], table[2]], '/srv/root/x')?.id, 4, 'not just the last line');
    assert.equal(mountContaining(table, '/srv/root/x', { major: 0, minor: 40 })?.id, 3);
  });

  it('knows where the path lies inside the mounted filesystem (a bind mount of a subfolder included)', () => {
    assert.equal(pathInMount(table[3], '/srv/root'), '/');
    assert.equal(pathInMount(table[3], '/srv/root/usr'), '/usr');
    assert.equal(pathInMount(table[5], '/my root/a/b'), '/sub/a/b');
    assert.equal(pathInMount(table[0], '/etc/x'), '/etc/x');
  });
});
