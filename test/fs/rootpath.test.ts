import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { seededRandom } from '../../fixtures/random';
import { OvermergeError } from '../../src/errors';
import {
  type Root,
  type RootPath,
  LIMITS,
  baseName,
  hardLinkTargetToRootPath,
  hostPath,
  isRootPath,
  joinRootPath,
  memberNameFromBytes,
  memberToRootPath,
  openRoot,
  parentOf,
  parseRootPath,
  rootPathFromHost,
} from '../../src/fs/rootpath';
import { resolveInRoot, resolveParentInRoot } from '../../src/fs/resolve-in-root';
import { withTempDir } from '../helpers/temp';
import { missing } from '../helpers/gate';

const rp = (s: string) => s as RootPath;

function refusal(code: string, message: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof OvermergeError, `expected an OvermergeError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    assert.ok(!err.message.includes('\n'), `message is one line: ${JSON.stringify(err.message)}`);
    return true;
  };
}

test('memberToRootPath normalises the names dpkg-deb and tar write', () => {
  const cases: Array<[string, string]> = [
    ['./usr/bin/x', 'usr/bin/x'],
    ['usr/bin/x/', 'usr/bin/x'],
    ['./', ''],
    ['.', ''],
    ['././usr//share/./doc/', 'usr/share/doc'],
    ['...', '...'],
    ['..a/b..', '..a/b..'],
    [`./${'c'.repeat(255)}`, 'c'.repeat(255)],
    [Array(LIMITS.depth).fill('d').join('/'), Array(LIMITS.depth).fill('d').join('/')],
  ];
  for (const [member, want] of cases) assert.equal(memberToRootPath(member), want, member);
});

test('memberToRootPath refuses names that could leave the root, with one line naming member and reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['../x', /'\.\.\/x'.*'\.\.' component/],
    ['./../../x', /'\.\/\.\.\/\.\.\/x'.*'\.\.' component/],
    ['./a/../../x', /'\.\.' component/],
    ['a/..', /'\.\.' component/],
    ['./a/../b', /'\.\.' component/],
    ['/etc/x', /'\/etc\/x'.*absolute/],
    ['////etc/x', /absolute/],
    ['', /is empty/],
    ['./a\0b', /'\.\/a\\x00b'.*NUL/],
    ['./a\nb', /newline/],
    [`./${'c'.repeat(256)}`, /component 256 bytes long/],
    [`./é${'c'.repeat(254)}`, /component 256 bytes long/],
    [Array(LIMITS.depth + 1).fill('d').join('/'), /nested 257 levels deep/],
    [Array(1000).fill('a').join('/'), /nested 1000 levels deep/],
    [Array(21).fill('b'.repeat(200)).join('/'), /is 4220 bytes long/],
  ];
  for (const [member, message] of cases) {
    assert.throws(() => memberToRootPath(member), refusal('E_UNSAFE_PATH', message), JSON.stringify(member));
  }
});

test('long member names are shortened in the message', () => {
  assert.throws(
    () => memberToRootPath(Array(1000).fill('a').join('/')),
    (err: OvermergeError) => err.message.length < 300,
  );
});

test('hard link targets follow the member rules and name both members', () => {
  assert.equal(hardLinkTargetToRootPath('./h', './usr/bin/x'), 'usr/bin/x');
  assert.throws(
    () => hardLinkTargetToRootPath('./h', '../../etc/passwd'),
    refusal('E_UNSAFE_PATH', /hard link '\.\/h' -> '\.\.\/\.\.\/etc\/passwd'.*'\.\.' component/),
  );
  assert.throws(() => hardLinkTargetToRootPath('./h', '/etc/passwd'), refusal('E_UNSAFE_PATH', /absolute/));
});

test('memberNameFromBytes accepts UTF-8 and refuses other encodings', () => {
  assert.equal(memberNameFromBytes(Buffer.from('./usr/share/café', 'utf8')), './usr/share/café');
  assert.throws(
    () => memberNameFromBytes(Buffer.from([0x2e, 0x2f, 0x63, 0x61, 0x66, 0xe9])),
    refusal('E_UNSAFE_PATH', /'\.\/caf.*not valid UTF-8/),
  );
});

test('parseRootPath takes absolute and relative command-line paths inside the root', () => {
  assert.equal(parseRootPath('/usr/bin/x'), 'usr/bin/x');
  assert.equal(parseRootPath('usr/bin/x'), 'usr/bin/x');
  assert.equal(parseRootPath('//usr//bin/'), 'usr/bin');
  assert.equal(parseRootPath('/'), '');
  assert.throws(() => parseRootPath('/usr/../etc'), refusal('E_USAGE', /'\.\.'/));
  assert.throws(() => parseRootPath(''), refusal('E_USAGE', /empty/));
  assert.throws(() => parseRootPath('/a\0b'), refusal('E_USAGE', /NUL/));
});

test('hostPath joins only well-formed root paths', () => {
  const root: Root = { host: hostPathOf('/srv/root') };
  assert.equal(hostPath(root, rp('')), '/srv/root');
  assert.equal(hostPath(root, rp('usr/bin/x')), '/srv/root/usr/bin/x');
  assert.equal(hostPath({ host: hostPathOf('/') }, rp('usr')), '/usr');
  for (const bad of ['../x', '/etc', 'a//b', 'a/./b', 'a/', 'a\0b']) {
    assert.throws(() => hostPath(root, rp(bad)), refusal('E_INTERNAL', /not a root path/), bad);
  }
});

test('hostPath gives what path.join gives, for roots written any way', () => {
  const hosts = ['/srv/root', '/', '/srv/root/', '/srv//root', '/srv/./root', '/srv/x/../root', '/srv/root/.', '/srv/root/..', 'rel/root', '.', '/srv/.hidden', '/srv/..x/r'];
  const paths = ['usr', 'usr/bin/x', '.hidden/..x/...', 'a b/c'];
  for (const h of hosts) {
    for (const p of paths) assert.equal(hostPath({ host: h as HostPath }, rp(p)), path.join(h, p), `${h} + ${p}`);
    assert.equal(hostPath({ host: h as HostPath }, rp('')), h);
  }
});

test('small root path helpers', () => {
  assert.equal(joinRootPath(rp(''), 'usr'), 'usr');
  assert.equal(joinRootPath(rp('usr'), 'bin'), 'usr/bin');
  for (const bad of ['', '.', '..', 'a/b']) assert.throws(() => joinRootPath(rp('usr'), bad), /cannot join/);
  assert.equal(parentOf(rp('usr/bin/x')), 'usr/bin');
  assert.equal(parentOf(rp('usr')), '');
  assert.equal(parentOf(rp('')), '');
  assert.equal(baseName(rp('usr/bin/x')), 'x');
  assert.equal(baseName(rp('')), '');
  assert.ok(isRootPath('') && isRootPath('a/b') && !isRootPath('/a') && !isRootPath('a/../b'));
  const root: Root = { host: hostPathOf('/srv/root') };
  assert.equal(rootPathFromHost(root, '/srv/root/usr/bin'), 'usr/bin');
  assert.equal(rootPathFromHost(root, '/srv/root'), '');
  assert.throws(() => rootPathFromHost(root, '/srv/rootx/a'), refusal('E_UNSAFE_PATH', /not inside the root/));
  assert.throws(() => rootPathFromHost(root, '/srv'), refusal('E_UNSAFE_PATH', /not inside the root/));
});

/** A temporary folder holding `canary/` (with a file) and a root three levels down, so `../../..` from the
 * root lands on the folder that holds the canary. */
async function withDecoyRoot(fn: (root: Root, canary: string) => Promise<void>): Promise<void> {
  await withTempDir('rootpath', async (top) => {
    const canary = path.join(top, 'canary');
    await fsp.mkdir(canary);
    await fsp.writeFile(path.join(canary, 'secret'), 'canary\n');
    const rootDir = path.join(top, 'r1', 'r2', 'root');
    await fsp.mkdir(rootDir, { recursive: true });
    await fn(await openRoot(rootDir), await fsp.realpath(canary));
  });
}

async function makeTree(root: Root, links: Record<string, string>, dirs: string[] = [], files: string[] = []) {
  for (const d of dirs) await fsp.mkdir(hostPath(root, rp(d)), { recursive: true });
  for (const f of files) await fsp.writeFile(hostPath(root, rp(f)), 'x');
  for (const [name, target] of Object.entries(links)) await fsp.symlink(target, hostPath(root, rp(name)));
}

/** The resolution stays inside the root and does not name the canary. */
function assertInside(root: Root, canary: string, got: RootPath): void {
  assert.ok(isRootPath(got), got);
  const host = hostPath(root, got);
  assert.ok(host === root.host || host.startsWith(`${root.host}/`), host);
  assert.ok(!host.startsWith(canary), host);
}

test('openRoot realpaths the folder and refuses what is not one', async () => {
  await withTempDir('rootpath', async (top) => {
    await fsp.mkdir(path.join(top, 'real'));
    await fsp.symlink('real', path.join(top, 'link'));
    await fsp.writeFile(path.join(top, 'file'), '');
    const real = await fsp.realpath(path.join(top, 'real'));
    assert.equal((await openRoot(path.join(top, 'link'))).host, real);
    await assert.rejects(openRoot(path.join(top, 'file')), refusal('E_FS', /not a directory/));
    await assert.rejects(openRoot(path.join(top, 'missing')), refusal('E_FS', /no such file/));
  });
});

test('resolveInRoot follows decoy symlinks inside the root, never to the canary', async () => {
  await withDecoyRoot(async (root, canary) => {
    await makeTree(
      root,
      {
        etc: canary, // absolute, at the canary
        a: '../../..', // relative, climbs to the folder holding the canary
        b: '../../../canary',
        c1: 'c2',
        c2: '../../..',
        up: 'usr/../../../..',
        lib: 'usr/lib',
        bin: 'usr/bin',
        lib64: '/usr/lib',
        flink: 'file',
        dangling: 'nothere/y',
        slash: '/',
      },
      ['usr/lib', 'usr/bin'],
      ['file'],
    );
    const canaryInRoot = canary.slice(1);
    const want: Array<[string, boolean, string]> = [
      ['etc/secret', false, `${canaryInRoot}/secret`],
      ['etc', true, canaryInRoot],
      ['etc', false, 'etc'],
      ['a/x', false, 'x'],
      ['a/canary/secret', false, 'canary/secret'],
      ['b/secret', false, 'canary/secret'],
      ['c1/x', false, 'x'],
      ['c1', true, ''],
      ['up/etc/passwd', false, `${canaryInRoot}/passwd`],
      ['slash/etc/x', false, `${canaryInRoot}/x`],
      ['lib/x', false, 'usr/lib/x'],
      ['bin/sh', true, 'usr/bin/sh'],
      ['lib64/x/y', false, 'usr/lib/x/y'],
      ['lib', false, 'lib'],
      ['lib', true, 'usr/lib'],
      ['flink', true, 'file'],
      ['flink', false, 'flink'],
      ['dangling/z', false, 'nothere/y/z'],
      ['dangling', true, 'nothere/y'],
      ['missing/deeper/x', true, 'missing/deeper/x'],
      ['', true, ''],
    ];
    for (const [p, followFinal, expected] of want) {
      const got = await resolveInRoot(root, rp(p), { followFinal });
      assert.equal(got, expected, `${p} followFinal=${followFinal}`);
      assertInside(root, canary, got);
    }
    assert.deepEqual(await fsp.readdir(canary), ['secret']);
  });
});

test('resolveInRoot stops symlink loops and refuses a non-directory in a parent position', async () => {
  await withDecoyRoot(async (root) => {
    const links = { loop1: 'loop2', loop2: 'loop1', self: 'self', flink: 'file', tofile: 'flink/' };
    await makeTree(root, links, [], ['file']);
    const loop = refusal('E_FS', /too many levels of symbolic links/);
    await assert.rejects(resolveInRoot(root, rp('loop1/x'), { followFinal: false }), loop);
    await assert.rejects(resolveInRoot(root, rp('self'), { followFinal: true }), loop);
    assert.equal(await resolveInRoot(root, rp('self'), { followFinal: false }), 'self');
    const notDir = refusal('E_FS', /\/file is not a directory/);
    await assert.rejects(resolveInRoot(root, rp('file/x'), { followFinal: false }), notDir);
    await assert.rejects(resolveInRoot(root, rp('flink/x'), { followFinal: false }), notDir);
    // A trailing slash in a link target demands a directory, as it does for the kernel.
    await assert.rejects(resolveInRoot(root, rp('tofile'), { followFinal: true }), notDir);
    await assert.rejects(resolveInRoot(root, rp('loop1/x'), { followFinal: false }), (err: OvermergeError) => {
      return err.errno === 'ELOOP';
    });
  });
});

test('resolveParentInRoot resolves the folder and keeps the final name', async () => {
  await withDecoyRoot(async (root, canary) => {
    const links = { lib: 'usr/lib', etc: canary, flink: 'file', x: '/etc/alternatives/x' };
    await makeTree(root, links, ['usr/lib'], ['file']);
    assert.deepEqual(await resolveParentInRoot(root, rp('lib/x')), { parent: 'usr/lib', name: 'x' });
    assert.deepEqual(await resolveParentInRoot(root, rp('lib')), { parent: '', name: 'lib' });
    assert.deepEqual(await resolveParentInRoot(root, rp('x')), { parent: '', name: 'x' });
    const inside = await resolveParentInRoot(root, rp('etc/passwd'));
    assert.deepEqual(inside, { parent: canary.slice(1), name: 'passwd' });
    assertInside(root, canary, inside.parent);
    await assert.rejects(resolveParentInRoot(root, rp('')), refusal('E_UNSAFE_PATH', /root itself/));
    await assert.rejects(resolveParentInRoot(root, rp('flink/x')), refusal('E_FS', /\/file is not a directory/));
    await assert.rejects(resolveParentInRoot(root, rp('file/x')), refusal('E_FS', /\/file is not a directory/));
  });
});

// ---- property test: random symlink trees, compared with a resolution done by the kernel inside chroot(2) ----


const NAMES = ['a', 'b', 'c', 'd', 'e'];

interface RandomTree {
  dirs: string[];
  files: string[];
  links: Record<string, string>;
}

function randomTree(rand: () => number, canary: string): RandomTree {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const dirs: string[] = [];
  const files: string[] = [];
  const links: Record<string, string> = {};
  const taken = new Set<string>();
  const randomRel = (): string => {
    const n = 1 + Math.floor(rand() * 4);
    return Array.from({ length: n }, () => pick([...NAMES, '..', '..', '.', 'zz'])).join('/');
  };
  const walk = (prefix: string, depth: number) => {
    for (const name of NAMES) {
      const p = prefix === '' ? name : `${prefix}/${name}`;
      const r = rand();
      if (r < 0.35 && depth < 3) {
        dirs.push(p);
        taken.add(p);
        walk(p, depth + 1);
      } else if (r < 0.45) {
        files.push(p);
        taken.add(p);
      } else if (r < 0.85) {
        const kind = rand();
        let target: string;
        if (kind < 0.2) target = `/${randomRel().replace(/^\.\.?(\/|$)/, '')}`;
        else if (kind < 0.3) target = pick([canary, `${canary}/secret`, '/', '../../../..', '../../../canary']);
        else target = randomRel();
        if (rand() < 0.1) target += '/';
        links[p] = target;
        taken.add(p);
      }
    }
  };
  walk('', 0);
  return { dirs, files, links };
}

function randomQuery(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 5);
  return Array.from({ length: n }, () => NAMES.concat(['zz'])[Math.floor(rand() * (NAMES.length + 1))]).join('/');
}

/**
 * Resolves paths inside chroot(2): Python's realpath walks with lstat/readlink, and the kernel keeps every
 * lookup (absolute targets, '..' at the top) inside the chroot. An independent implementation to compare with.
 */
const ORACLE = `
import json, os, sys
queries = json.load(sys.stdin)
os.chroot(sys.argv[1]); os.chdir('/')
out = []
for q in queries:
    p = '/' + q['path']
    if q['followFinal']:
        out.append(os.path.realpath(p))
    else:
        d, b = os.path.split(p)
        out.append(os.path.join(os.path.realpath(d), b))
print(json.dumps(out))
`;
import { hostPathOf, type HostPath } from '../../src/fs/host-path';

/** The python3 interpreter itself (not a version-manager shim, which costs a process per call), or why not. */
function findOracle(): { python: string } | { unavailable: string } {
  const noRoot = missing({ root: 'chroot(2)' });
  if (noRoot !== undefined) return { unavailable: noRoot };
  const probe = spawnSync('python3', ['-c', 'import os, sys; assert hasattr(os, "chroot"); print(sys.executable)'], {
    encoding: 'utf8',
  });
  if (probe.status !== 0 || probe.stdout.trim() === '') return { unavailable: 'python3 with os.chroot not found' };
  return { python: probe.stdout.trim() };
}

test('random walks over random symlink trees never leave the root and match chroot(2)', async (t) => {
  const oracle = findOracle();
  if ('unavailable' in oracle) t.diagnostic(`chroot oracle comparison skipped: ${oracle.unavailable}`);
  let compared = 0;
  let loops = 0;
  let notDirs = 0;
  for (let seed = 1; seed <= 40; seed++) {
    await withDecoyRoot(async (root, canary) => {
      const rand = seededRandom(seed);
      const tree = randomTree(rand, canary);
      await makeTree(root, tree.links, tree.dirs, tree.files);
      const queries = Array.from({ length: 60 }, () => ({ path: randomQuery(rand), followFinal: rand() < 0.5 }));
      const expected: string[] | undefined =
        'python' in oracle
          ? JSON.parse(
              spawnSync(oracle.python, ['-c', ORACLE, root.host], { input: JSON.stringify(queries), encoding: 'utf8' })
                .stdout,
            )
          : undefined;
      for (const [i, q] of queries.entries()) {
        const where = `seed ${seed}, ${q.path} followFinal=${q.followFinal}`;
        let got: RootPath;
        try {
          got = await resolveInRoot(root, rp(q.path), { followFinal: q.followFinal });
        } catch (err) {
          assert.ok(err instanceof OvermergeError && err.code === 'E_FS', `${where}: ${String(err)}`);
          if (err.errno === 'ELOOP') loops++;
          else if (err.errno === 'ENOTDIR') notDirs++;
          else assert.fail(`${where}: ${err.message}`);
          continue;
        }
        assertInside(root, canary, got);
        await assertNoLinkInParents(root, got, where);
        if (expected !== undefined) {
          assert.equal(`/${got}`, expected[i], where);
          compared++;
        }
      }
      assert.deepEqual(await fsp.readdir(canary), ['secret']);
    });
  }
  t.diagnostic(`compared ${compared} with chroot, ${loops} loops, ${notDirs} non-directories`);
  if ('python' in oracle) assert.ok(compared > 1000, `only ${compared} comparisons`);
});

/** Every parent component of a resolved path that exists is a real directory, not a symlink. */
async function assertNoLinkInParents(root: Root, p: RootPath, where: string): Promise<void> {
  const parts = p === '' ? [] : p.split('/');
  for (let i = 1; i < parts.length; i++) {
    const prefix = rp(parts.slice(0, i).join('/'));
    const st = await fsp.lstat(hostPath(root, prefix)).catch(() => undefined);
    if (st === undefined) return;
    assert.ok(st.isDirectory(), `${where}: ${prefix} in ${p} is not a directory`);
  }
}
