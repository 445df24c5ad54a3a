import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { buildAdHocDeb, buildFixtureDebs, fixtureSource, type AdHocEntry, type FixtureName } from '../helpers/fixtures';
import { withOverlay, withTmpfs } from '../helpers/mounts';
import { ADMIN_REL, assertSameTree, dbState, rootState } from '../helpers/root-state';
import { om, REPO_ROOT, type CliResult, type OmOptions } from '../helpers/run-cli';
import { tempDir, withTempDir } from '../helpers/temp';
import { gate, missing } from '../helpers/gate';

/**
 * The install engine end to end through the CLI, on real roots: plain folders, overlayfs roots whose old
 * version sits in the lower layer, staging on a tmpfs (a real cross-device move). Fixture archives are
 * built by overmerge's own builder (`buildDeb`, what `overmerge build` runs); dpkg-deb is the oracle for
 * what `files` must list.
 */

const execFileP = promisify(execFile);
const MODES = ['rename', 'copy', 'hardlink'] as const;

const workDir = tempDir('install', { after });
let debs: Record<FixtureName, string>;
/** dpkg-deb is the oracle for `files`; without it those comparisons are skipped (and said so). */
const haveDpkgDeb = missing({ tools: ['dpkg-deb'] }) === undefined;

before(async () => {
  debs = await buildFixtureDebs(workDir);
});

// ---------------------------------------------------------------------------------------------------
// helpers

/** Like om, and the command must succeed. */
async function ok(root: string, argv: string[], opts: OmOptions = {}): Promise<CliResult> {
  const r = await om(root, argv, opts);
  assert.equal(r.status, 0, `overmerge ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r;
}

/** A fresh root with the mode and the /var/lib every system has, removed afterwards. */
function withRoot<T>(fn: (root: string) => Promise<T>): Promise<T> {
  return withTempDir('root', async (root) => {
    await fsp.chmod(root, 0o755);
    await fsp.mkdir(path.join(root, 'var/lib'), { recursive: true });
    return fn(root);
  });
}

function at(root: string, p: string): string {
  return path.join(root, p);
}

async function read(root: string, p: string): Promise<string> {
  return fsp.readFile(at(root, p), 'utf8');
}

async function kind(root: string, p: string): Promise<'file' | 'dir' | 'symlink' | 'absent' | 'other'> {
  const st = await fsp.lstat(at(root, p)).catch(() => undefined);
  if (!st) return 'absent';
  return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
}

async function source(name: FixtureName, p: string): Promise<string> {
  return fsp.readFile(path.join(fixtureSource(name), p), 'utf8');
}

async function assertVerifyClean(root: string, ...names: string[]): Promise<void> {
  const r = await om(root, ['verify', ...names]);
  assert.equal(r.stdout, '', 'verify must print nothing for an intact root');
  assert.equal(r.status, 0, `verify exit status (stderr: ${r.stderr})`);
}

/** What `dpkg -L` prints for a freshly installed archive: every member, '/.' for the root, no trailing '/'. */
async function dpkgListing(deb: string): Promise<string[]> {
  const { stdout } = await execFileP('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -tf -', 'sh', deb]);
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.replace(/^\.\/?/, '/').replace(/(.)\/$/, '$1'))
    .map((l) => (l === '/' ? '/.' : l));
}

/**
 * The same paths as dpkg -L, compared in path order: dpkg -L keeps the archive's order (dpkg-deb puts
 * symlinks last); `files` lists by path.
 */
function samePaths(actual: string[], expected: string[], what: string): void {
  assert.deepEqual([...actual].sort(), [...expected].sort(), what);
}

async function filesOf(root: string, name: string): Promise<string[]> {
  return (await ok(root, ['files', name])).stdout.split('\n').filter((l) => l !== '');
}

async function listJson(root: string): Promise<unknown> {
  return JSON.parse((await ok(root, ['list', '--json'])).stdout);
}

async function stagingLeftovers(root: string, stagingBase = at(root, `${ADMIN_REL}/staging`)): Promise<string[]> {
  return fsp.readdir(stagingBase).catch(() => []);
}

function oneLine(stderr: string): void {
  assert.match(stderr, /^overmerge: [^\n]+\n$/, `one line of error: ${JSON.stringify(stderr)}`);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
}

// ---------------------------------------------------------------------------------------------------
// life cycle

test('install, upgrade (directory becomes a file), downgrade, reinstall, remove, purge', async (t) => {
  if (!haveDpkgDeb) t.diagnostic('NOT CHECKED: `files` against dpkg-deb\'s listing (no dpkg-deb on this system)');
  await withRoot(async (root) => {
    // install
    await ok(root, ['install', debs['hello-1.0']]);
    assert.deepEqual(await listJson(root), [{ name: 'hello', version: '1.0-1', architecture: 'all', status: 'installed' }]);
    const files1 = await filesOf(root, 'hello');
    if (haveDpkgDeb) samePaths(files1, await dpkgListing(debs['hello-1.0']), 'files lists what dpkg -L would');
    for (const f of files1) assert.notEqual(await kind(root, f === '/.' ? '.' : f), 'absent', `${f} is installed`);
    assert.equal(await kind(root, 'usr/share/bug/hello'), 'dir');
    assert.equal(await read(root, 'usr/bin/hello'), await source('hello-1.0', 'usr/bin/hello'));
    assert.equal((await ok(root, ['owner', '/usr/bin/hello'])).stdout, 'hello: /usr/bin/hello\n');
    assert.equal((await om(root, ['owner', '/usr/bin/nobody'])).status, 1);
    await assertVerifyClean(root);

    // upgrade: /usr/share/bug/hello turns from a directory into a file, README.old goes, /usr/bin/hi comes
    await ok(root, ['install', debs['hello-2.0']]);
    assert.deepEqual(await listJson(root), [{ name: 'hello', version: '2.0-1', architecture: 'all', status: 'installed' }]);
    assert.equal(await kind(root, 'usr/share/bug/hello'), 'file');
    assert.equal(await read(root, 'usr/share/bug/hello'), await source('hello-2.0', 'usr/share/bug/hello'));
    assert.equal(await kind(root, 'usr/share/doc/hello/README.old'), 'absent');
    assert.equal(await fsp.readlink(at(root, 'usr/bin/hi')), 'hello');
    assert.equal(await read(root, 'etc/hello.conf'), await source('hello-2.0', 'etc/hello.conf'), 'unmodified conffile replaced');
    if (haveDpkgDeb) samePaths(await filesOf(root, 'hello'), await dpkgListing(debs['hello-2.0']), 'files after the upgrade');
    await assertVerifyClean(root);

    // downgrade: everything back, the file becomes a directory again
    await ok(root, ['install', debs['hello-1.0']]);
    assert.equal(await kind(root, 'usr/share/bug/hello'), 'dir');
    assert.equal(await read(root, 'usr/share/bug/hello/script'), await source('hello-1.0', 'usr/share/bug/hello/script'));
    assert.equal(await kind(root, 'usr/bin/hi'), 'absent');
    assert.equal(await read(root, 'usr/share/doc/hello/README.old'), await source('hello-1.0', 'usr/share/doc/hello/README.old'));
    assert.equal(await read(root, 'etc/hello.conf'), await source('hello-1.0', 'etc/hello.conf'));
    assert.deepEqual(await filesOf(root, 'hello'), files1);
    await assertVerifyClean(root);

    // reinstall of identical content touches nothing at all
    const beforeReinstall = await rootState(root);
    await ok(root, ['install', debs['hello-1.0']]);
    assertSameTree(await rootState(root), beforeReinstall, 'root after a reinstall of the same archive');

    // remove keeps the conffile (and the directory holding it)
    await ok(root, ['remove', 'hello']);
    assert.deepEqual(await listJson(root), [{ name: 'hello', version: '1.0-1', architecture: 'all', status: 'config-files' }]);
    assert.deepEqual(await filesOf(root, 'hello'), ['/etc', '/etc/hello.conf']);
    assert.equal(await read(root, 'etc/hello.conf'), await source('hello-1.0', 'etc/hello.conf'));
    assert.equal(await kind(root, 'usr'), 'absent', 'everything else is gone, directories included');

    // purge takes the rest
    await ok(root, ['purge', 'hello']);
    assert.deepEqual(await listJson(root), []);
    assert.deepEqual((await fsp.readdir(root)).sort(), ['var']);
    assert.equal((await om(root, ['files', 'hello'])).status, 1);
    assert.deepEqual(await stagingLeftovers(root), []);

    // history, newest first
    const history = JSON.parse((await ok(root, ['history', '--json'])).stdout) as Array<{
      id: number;
      kind: string;
      state: string;
      changes: Array<{ action: string; oldVersion: string | null; newVersion: string | null }>;
    }>;
    assert.deepEqual(
      history.map((h) => [h.kind, h.state, ...h.changes.map((c) => `${c.action} ${c.oldVersion ?? '-'} ${c.newVersion ?? '-'}`)]),
      [
        ['purge', 'committed', 'purge 1.0-1 -'],
        ['remove', 'committed', 'remove 1.0-1 -'],
        ['install', 'committed', 'reinstall 1.0-1 1.0-1'],
        ['install', 'committed', 'downgrade 2.0-1 1.0-1'],
        ['install', 'committed', 'upgrade 1.0-1 2.0-1'],
        ['install', 'committed', 'install - 1.0-1'],
      ],
    );
    const ids = history.map((h) => h.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
    const text = (await ok(root, ['history'])).stdout;
    assert.ok(text.indexOf('purge') < text.indexOf('upgrade hello:all 1.0-1 -> 2.0-1'), text);
  });
});

// ---------------------------------------------------------------------------------------------------
// type changes

const SHAPES_V1: AdHocEntry[] = [
  { path: 'opt/shapes/t', type: 'file', content: 'a plain file that links point at\n' },
  { path: 'opt/shapes/a', type: 'file', content: 'a is a file in 1.0\n' },
  { path: 'opt/shapes/b/x', type: 'file', content: 'b is a directory in 1.0\n' },
  { path: 'opt/shapes/c', type: 'file', content: 'c is a file in 1.0\n' },
  { path: 'opt/shapes/d', type: 'symlink', target: 't' },
  { path: 'opt/shapes/e/y', type: 'file', content: 'e is a directory in 1.0\n' },
  { path: 'opt/shapes/f', type: 'symlink', target: 't' },
];

const SHAPES_V2: AdHocEntry[] = [
  { path: 'opt/shapes/t', type: 'file', content: 'a plain file that links point at\n' },
  { path: 'opt/shapes/a/inner', type: 'file', content: 'a is a directory in 2.0\n' },
  { path: 'opt/shapes/b', type: 'file', content: 'b is a file in 2.0\n' },
  { path: 'opt/shapes/c', type: 'symlink', target: 't' },
  { path: 'opt/shapes/d', type: 'file', content: 'd is a file in 2.0\n' },
  { path: 'opt/shapes/e', type: 'symlink', target: 't' },
  { path: 'opt/shapes/f/z', type: 'file', content: 'f is a directory in 2.0\n' },
];

async function shapesDebs(dir: string): Promise<{ v1: string; v2: string }> {
  return {
    v1: await buildAdHocDeb(dir, { name: 'shapes', version: '1.0', entries: SHAPES_V1 }),
    v2: await buildAdHocDeb(dir, { name: 'shapes', version: '2.0', entries: SHAPES_V2 }),
  };
}

async function assertShapesV2(root: string): Promise<void> {
  const s = (p: string) => `opt/shapes/${p}`;
  assert.equal(await kind(root, s('a')), 'dir', 'file -> directory');
  assert.equal(await read(root, s('a/inner')), 'a is a directory in 2.0\n');
  assert.equal(await kind(root, s('b')), 'file', 'directory -> file');
  assert.equal(await read(root, s('b')), 'b is a file in 2.0\n');
  assert.equal(await kind(root, s('c')), 'symlink', 'file -> symlink');
  assert.equal(await fsp.readlink(at(root, s('c'))), 't');
  assert.equal(await kind(root, s('d')), 'file', 'symlink -> file');
  assert.equal(await read(root, s('d')), 'd is a file in 2.0\n');
  assert.equal(await kind(root, s('e')), 'dir', 'directory -> symlink keeps the directory, as dpkg does');
  assert.deepEqual(await fsp.readdir(at(root, s('e'))), [], "and empties it of the old version's files");
  assert.equal(await kind(root, s('f')), 'dir', 'symlink -> directory');
  assert.equal(await read(root, s('f/z')), 'f is a directory in 2.0\n');
}

async function assertShapesV1(root: string): Promise<void> {
  const s = (p: string) => `opt/shapes/${p}`;
  assert.equal(await kind(root, s('a')), 'file', 'directory -> file');
  assert.equal(await read(root, s('a')), 'a is a file in 1.0\n');
  assert.equal(await kind(root, s('b')), 'dir', 'file -> directory');
  assert.equal(await read(root, s('b/x')), 'b is a directory in 1.0\n');
  assert.equal(await kind(root, s('c')), 'file', 'symlink -> file');
  assert.equal(await kind(root, s('d')), 'symlink', 'file -> symlink');
  assert.equal(await fsp.readlink(at(root, s('d'))), 't');
  assert.equal(await read(root, s('e/y')), 'e is a directory in 1.0\n');
  assert.equal(await kind(root, s('f')), 'dir', 'directory -> symlink keeps the directory');
  assert.deepEqual(await fsp.readdir(at(root, s('f'))), []);
}

/** Upgrade 1.0 -> 2.0 and downgrade again on `root`, where 1.0 is already installed. */
async function shapesRoundTrip(root: string, v1: string, v2: string, extra: string[] = []): Promise<void> {
  const up = await ok(root, [...extra, 'install', v2]);
  assert.match(up.stderr, /keeping directory \/opt\/shapes\/e where the package ships a symlink/);
  await assertShapesV2(root);
  await assertVerifyClean(root);
  if (haveDpkgDeb) samePaths(await filesOf(root, 'shapes'), await dpkgListing(v2), 'files after the upgrade');
  assert.equal((await ok(root, ['owner', '/opt/shapes/e'])).stdout, 'shapes: /opt/shapes/e\n');

  const down = await ok(root, [...extra, 'install', v1]);
  assert.match(down.stderr, /keeping directory \/opt\/shapes\/f/);
  await assertShapesV1(root);
  await assertVerifyClean(root);
}

test('every type change in both directions, on a plain root', async () => {
  await withTempDir('shapes', async (dir) => {
    const { v1, v2 } = await shapesDebs(dir);
    await withRoot(async (root) => {
      await ok(root, ['install', v1]);
      await shapesRoundTrip(root, v1, v2);
      await ok(root, ['purge', 'shapes']);
      assert.equal(await kind(root, 'opt'), 'absent', 'purge leaves nothing of it, kept directories included');
    });
  });
});

test('every type change in both directions, on an overlay root with 1.0 in the lower layer', async (t) => {
  if (gate(t, { mount: 'overlay' })) return;
  await withTempDir('shapes', async (dir) => {
    const { v1, v2 } = await shapesDebs(dir);
    const lower = path.join(dir, 'lower');
    await fsp.mkdir(path.join(lower, 'var/lib'), { recursive: true });
    await ok(lower, ['install', v1]);
    // The same upgrade on a plain root is the reference for the merged view.
    let reference: Awaited<ReturnType<typeof rootState>> | undefined;
    await withRoot(async (plain) => {
      await ok(plain, ['install', v1]);
      await ok(plain, ['install', v2]);
      reference = await rootState(plain);
    });
    await withOverlay(
      async ({ merged }) => {
        await ok(merged, ['install', v2]);
        await assertShapesV2(merged);
        assertSameTree(await rootState(merged), reference!, 'overlay root after the upgrade vs the same upgrade on a plain root');
        await ok(merged, ['install', v1]);
        await assertShapesV1(merged);
        await assertVerifyClean(merged);
      },
      { lowerDir: lower },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// several archives in one transaction (staged two at a time: src/engine/phases/stage.ts)

test('five archives in one transaction: each package gets its own files; together past --max-members, refused with nothing changed', async () => {
  await withTempDir('lanes', async (dir) => {
    // 7 members each: ./, usr/, usr/share/, usr/share/pN/ and three files of different sizes.
    const pkgs: string[] = [];
    for (let n = 0; n < 5; n++) {
      const entries: AdHocEntry[] = ['a', 'b', 'c'].map((f, k) => ({ path: `usr/share/p${n}/${f}`, type: 'file', content: `${n}${f}`.repeat(1 + 500 * k * n) }));
      pkgs.push(await buildAdHocDeb(dir, { name: `p${n}`, version: '1.0', entries }));
    }
    await withRoot(async (root) => {
      // Each archive alone is under the limit; the five together (35 members) are not.
      const [rootBefore, dbBefore] = [await rootState(root), await dbState(root)];
      const r = await om(root, ['install', '--max-members', '30', ...pkgs]);
      assert.equal(r.status, 1, r.stderr);
      oneLine(r.stderr);
      assert.match(r.stderr, /more (members )?than the 30 one transaction may unpack/);
      assertSameTree(await rootState(root), rootBefore, 'root after the refused install');
      assert.deepEqual(await dbState(root), dbBefore, 'database after the refused install');
      assert.deepEqual(await stagingLeftovers(root), []);

      await ok(root, ['install', '--max-members', '35', ...pkgs]);
      for (let n = 0; n < 5; n++) {
        assert.deepEqual(await filesOf(root, `p${n}`), ['/.', '/usr', '/usr/share', `/usr/share/p${n}`, `/usr/share/p${n}/a`, `/usr/share/p${n}/b`, `/usr/share/p${n}/c`]);
        assert.equal(await read(root, `usr/share/p${n}/c`), `${n}c`.repeat(1 + 1000 * n));
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------------
// conflicts, Replaces, --force-overwrite

test('a file conflict is refused, naming both packages; root and database stay as they were', async () => {
  await withRoot(async (root) => {
    await ok(root, ['install', debs['hello-1.0']]);
    const [rootBefore, dbBefore] = [await rootState(root), await dbState(root)];
    const r = await om(root, ['install', debs['hello-clash-1.0']]);
    assert.equal(r.status, 1);
    oneLine(r.stderr);
    assert.match(r.stderr, /hello-clash.*trying to overwrite '\/usr\/bin\/hello', which is also in package hello 1\.0-1/);
    assertSameTree(await rootState(root), rootBefore, 'root after the refused install');
    assert.deepEqual(await dbState(root), dbBefore, 'database after the refused install');
    assert.deepEqual(await stagingLeftovers(root), []);
  });
});

test('Replaces lets hello-tools take /usr/bin/hello over from hello', async () => {
  await withRoot(async (root) => {
    await ok(root, ['install', debs['hello-1.0']]);
    await ok(root, ['install', debs['hello-tools-1.0']]);
    assert.equal((await ok(root, ['owner', '/usr/bin/hello'])).stdout, 'hello-tools: /usr/bin/hello\n');
    assert.equal(await read(root, 'usr/bin/hello'), await source('hello-tools-1.0', 'usr/bin/hello'));
    assert.ok(!(await filesOf(root, 'hello')).includes('/usr/bin/hello'), 'hello no longer lists the file');
    await assertVerifyClean(root);
    // Removing hello leaves the file it gave away.
    await ok(root, ['remove', 'hello']);
    assert.equal(await read(root, 'usr/bin/hello'), await source('hello-tools-1.0', 'usr/bin/hello'));
    await assertVerifyClean(root, 'hello-tools');
  });
});

test('--force-overwrite installs the clashing package and moves the ownership', async () => {
  await withRoot(async (root) => {
    await ok(root, ['install', debs['hello-1.0']]);
    const r = await ok(root, ['install', '--force-overwrite', debs['hello-clash-1.0']]);
    assert.match(r.stderr, /hello-clash: overwriting '\/usr\/bin\/hello', which is also in package hello 1\.0-1/);
    assert.equal((await ok(root, ['owner', '/usr/bin/hello'])).stdout, 'hello-clash: /usr/bin/hello\n');
    assert.equal(await read(root, 'usr/bin/hello'), await source('hello-clash-1.0', 'usr/bin/hello'));
    assert.ok(!(await filesOf(root, 'hello')).includes('/usr/bin/hello'));
    await assertVerifyClean(root);
  });
});

// ---------------------------------------------------------------------------------------------------
// conffiles

const CONF = 'etc/hello.conf';
const MINE = 'greeting=mine\n';

test('conffiles follow dpkg', async (t) => {
  const v2 = await source('hello-2.0', CONF);

  await t.test('unmodified: replaced by the new version', () =>
    withRoot(async (root) => {
      await ok(root, ['install', debs['hello-1.0']]);
      await ok(root, ['install', debs['hello-2.0']]);
      assert.equal(await read(root, CONF), v2);
      assert.equal(await kind(root, `${CONF}.dpkg-dist`), 'absent');
      assert.equal(await kind(root, `${CONF}.dpkg-old`), 'absent');
    }));

  await t.test('modified: kept, the new version beside it as .dpkg-dist; remove keeps both, purge takes both', () =>
    withRoot(async (root) => {
      await ok(root, ['install', debs['hello-1.0']]);
      await fsp.writeFile(at(root, CONF), MINE);
      const r = await ok(root, ['install', debs['hello-2.0']]);
      assert.match(r.stderr, /keeping locally modified config file \/etc\/hello\.conf/);
      assert.equal(await read(root, CONF), MINE);
      assert.equal(await read(root, `${CONF}.dpkg-dist`), v2);
      const verify = await om(root, ['verify']);
      assert.equal(verify.stdout, '??5?????? c /etc/hello.conf\n');
      assert.equal(verify.status, 1);

      await ok(root, ['remove', 'hello']);
      assert.deepEqual(await listJson(root), [{ name: 'hello', version: '2.0-1', architecture: 'all', status: 'config-files' }]);
      assert.equal(await read(root, CONF), MINE);
      assert.equal(await kind(root, `${CONF}.dpkg-dist`), 'file');
      await ok(root, ['purge', 'hello']);
      assert.equal(await kind(root, 'etc'), 'absent', 'purge deletes the conffile, its .dpkg-dist and the emptied /etc');
      assert.deepEqual(await listJson(root), []);
    }));

  await t.test('--force-confnew: the new version goes in, the old one is kept as .dpkg-old', () =>
    withRoot(async (root) => {
      await ok(root, ['install', debs['hello-1.0']]);
      await fsp.writeFile(at(root, CONF), MINE);
      await ok(root, ['install', '--force-confnew', debs['hello-2.0']]);
      assert.equal(await read(root, CONF), v2);
      assert.equal(await read(root, `${CONF}.dpkg-old`), MINE);
      await assertVerifyClean(root);
      await ok(root, ['purge', 'hello']);
      assert.equal(await kind(root, `${CONF}.dpkg-old`), 'absent', 'purge takes .dpkg-old too');
    }));

  await t.test('--force-confold: the local version stays, the new one as .dpkg-dist', () =>
    withRoot(async (root) => {
      await ok(root, ['install', debs['hello-1.0']]);
      await fsp.writeFile(at(root, CONF), MINE);
      await ok(root, ['install', '--force-confold', debs['hello-2.0']]);
      assert.equal(await read(root, CONF), MINE);
      assert.equal(await read(root, `${CONF}.dpkg-dist`), v2);
    }));

  await t.test('deleted by the user: stays deleted, the changed version beside it as .dpkg-dist (as dpkg --force-confold)', () =>
    withRoot(async (root) => {
      await ok(root, ['install', debs['hello-1.0']]);
      await fsp.unlink(at(root, CONF));
      const r = await ok(root, ['install', debs['hello-2.0']]);
      assert.match(r.stderr, /config file \/etc\/hello\.conf was deleted locally; leaving it deleted \(new version installed as \/etc\/hello\.conf\.dpkg-dist\)/);
      assert.equal(await kind(root, CONF), 'absent');
      assert.equal(await read(root, `${CONF}.dpkg-dist`), v2);
      assert.ok((await filesOf(root, 'hello')).includes('/etc/hello.conf'), 'still the package\'s conffile');
      assert.equal((await om(root, ['verify'])).stdout, 'missing   c /etc/hello.conf\n');
    }));

  await t.test('unchanged by the package, modified locally: left alone without a .dpkg-dist', () =>
    withRoot(async (root) => {
      await ok(root, ['install', debs['hello-1.0']]);
      await fsp.writeFile(at(root, CONF), MINE);
      await ok(root, ['install', debs['hello-1.0']]);
      assert.equal(await read(root, CONF), MINE);
      assert.equal(await kind(root, `${CONF}.dpkg-dist`), 'absent');
    }));
});

// ---------------------------------------------------------------------------------------------------
// overlay roots, modes, cross-device staging

/** Opens `p` for reading now, and reads all of it later through the same descriptor. */
async function holdOpen(p: string): Promise<{ readAll(): Promise<string>; close(): Promise<void> }> {
  const fh = await fsp.open(p, 'r');
  return {
    async readAll() {
      const { size } = await fh.stat();
      const buf = Buffer.alloc(size);
      await fh.read(buf, 0, size, 0);
      return buf.toString('utf8');
    },
    close: () => fh.close(),
  };
}

test('upgrade on an overlay root with 1.0 in the lower layer, every --mode, staging on tmpfs', async (t) => {
  if (gate(t, { mount: ['overlay', 'tmpfs'] })) return;
  await withTempDir('overlay-lower', async (base) => {
    const lower = path.join(base, 'lower');
    await fsp.mkdir(path.join(lower, 'var/lib'), { recursive: true });
    await ok(lower, ['install', debs['hello-1.0']]);
    let reference: Awaited<ReturnType<typeof rootState>> | undefined;
    await withRoot(async (plain) => {
      await ok(plain, ['install', debs['hello-1.0']]);
      await ok(plain, ['install', debs['hello-2.0']]);
      reference = await rootState(plain);
    });
    const oldHello = await source('hello-1.0', 'usr/bin/hello');
    const newHello = await source('hello-2.0', 'usr/bin/hello');
    const copyright = 'usr/share/doc/hello/copyright';
    assert.equal(await source('hello-1.0', copyright), await source('hello-2.0', copyright), 'the fixture keeps this file identical');

    await withTmpfs(16 << 20, async (tmpfs) => {
      const layouts = [
        ...MODES.map((mode) => ({ mode, staging: path.join(tmpfs, `staging-${mode}`) })),
        { mode: 'rename' as const, staging: undefined }, // staging in the root itself, on the overlay
      ];
      for (const { mode, staging } of layouts) {
        const label = `--mode ${mode}, staging ${staging ? 'on tmpfs' : 'inside the overlay root'}`;
        await withOverlay(
          async ({ merged, upper }) => {
            const reader = await holdOpen(at(merged, 'usr/bin/hello'));
            try {
              const globals = ['--mode', mode, ...(staging ? ['--staging', staging] : [])];
              await ok(merged, [...globals, 'install', debs['hello-2.0']]);
              assert.equal(await reader.readAll(), oldHello, `${label}: a reader of the old file keeps reading old bytes`);
            } finally {
              await reader.close();
            }
            assert.equal(await read(merged, 'usr/bin/hello'), newHello, label);
            assert.equal(await kind(merged, 'usr/share/bug/hello'), 'file', `${label}: the lower directory became a file`);
            await assertVerifyClean(merged);
            assertSameTree(await rootState(merged), reference!, `${label}: merged view vs the same upgrade on a plain root`);
            assert.equal(await kind(upper, copyright), 'absent', `${label}: an identical file must not be copied up`);
            assert.equal(await kind(upper, 'usr/bin/hello'), 'file', `${label}: a changed file is in the upper layer`);
            assert.deepEqual(await stagingLeftovers(merged, staging), [], `${label}: staging left behind`);
          },
          { lowerDir: lower },
        );
      }
    });
  });
});

test('copy mode: no placed file shares an inode with staging', async (t) => {
  // Staging is emptied at the first step after the commit, so the command is stopped right there
  // (OVERMERGE_DEBUG_FAIL_AT at the first point after the commit), the inodes compared, then recovered.
  await withRoot(async (root) => {
    await ok(root, ['install', debs['hello-1.0']]);
    let r: CliResult | undefined;
    let n = 1;
    for (; n < 500; n++) {
      r = await om(root, ['--mode', 'copy', 'install', debs['hello-2.0']], { env: { OVERMERGE_DEBUG_FAIL_AT: String(n) } });
      if (r.status === 0 || /committed/.test(r.stderr)) break;
    }
    assert.match(r!.stderr, /committed/, 'the sweep reached the commit');
    t.diagnostic(`stopped at point ${n}, the first after the commit`);
    const staged = await inodesUnder(at(root, `${ADMIN_REL}/staging`));
    assert.ok(staged.size >= 3, `staging still holds the staged files (${staged.size})`);
    for (const p of ['usr/bin/hello', 'usr/share/bug/hello', 'etc/hello.conf']) {
      const st = await fsp.lstat(at(root, p), { bigint: true });
      assert.ok(!staged.has(`${st.dev}:${st.ino}`), `${p} shares its inode with a staged file`);
      assert.equal(st.nlink, 1n, `${p} has no other name`);
    }
    await ok(root, ['recover']);
    await assertVerifyClean(root);
    assert.deepEqual(await stagingLeftovers(root), []);
  });
});

async function inodesUnder(dir: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const e of await fsp.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const st = await fsp.lstat(path.join(e.parentPath, e.name), { bigint: true });
    out.add(`${st.dev}:${st.ino}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// the writer lock

const LOCK_JS = path.join(REPO_ROOT, 'dist', 'src', 'fs', 'lock.js');

/** A node process holding the writer lock of `root` until told `release` on stdin. */
async function lockHolder(root: string): Promise<{ pid: number; release(): Promise<void> }> {
  const script = `
    const { acquireLock } = require(${JSON.stringify(LOCK_JS)});
    acquireLock(${JSON.stringify(at(root, `${ADMIN_REL}/lock`))}, { label: ${JSON.stringify(root)} })
      .then((lock) => {
        process.stdout.write('held\\n');
        process.stdin.on('data', () => { lock.release(); process.exit(0); });
      }, (err) => { process.stdout.write('failed ' + err.message + '\\n'); process.exit(1); });
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(buf.trim());
    });
    child.once('exit', () => reject(new Error(`lock holder exited: ${buf}`)));
  });
  assert.equal(line, 'held');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid as number,
    async release() {
      if (child.exitCode === null) child.stdin.end('release\n');
      await exited;
    },
  };
}

test('a second writer fails at once naming the PID that holds the lock; --lock-wait waits for it', async () => {
  await withRoot(async (root) => {
    await ok(root, ['install', debs['hello-1.0']]);
    const rootBefore = await rootState(root);
    const holder = await lockHolder(root);
    try {
      const r = await om(root, ['install', debs['hello-2.0']], { spawn: true });
      assert.equal(r.status, 1);
      oneLine(r.stderr);
      assert.match(r.stderr, new RegExp(`is locked by PID ${holder.pid}\\b`));
      assert.match(r.stderr, /--lock-wait/, 'the hint names the option that exists');
      assertSameTree(await rootState(root), rootBefore, 'root after the refused writer');
      assert.equal((await ok(root, ['list', '--json'])).status, 0, 'readers do not lock');

      let settled = false;
      const waiting = om(root, ['--lock-wait', '60', 'install', debs['hello-2.0']]).finally(() => {
        settled = true;
      });
      await new Promise((r2) => setTimeout(r2, 400));
      assert.equal(settled, false, '--lock-wait must wait while the lock is held');
      await holder.release();
      const w = await waiting;
      assert.equal(w.status, 0, w.stderr);
      assert.equal(await read(root, 'usr/bin/hello'), await source('hello-2.0', 'usr/bin/hello'));
    } finally {
      await holder.release();
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// verify

test('verify reports changed content, a changed mode and a missing file, and exits 1', async () => {
  await withRoot(async (root) => {
    await ok(root, ['install', debs['hello-1.0']]);
    await assertVerifyClean(root);
    await fsp.writeFile(at(root, 'usr/share/doc/hello/copyright'), 'X'.repeat((await read(root, 'usr/share/doc/hello/copyright')).length));
    await fsp.chmod(at(root, 'usr/bin/hello'), 0o700);
    await fsp.unlink(at(root, 'usr/share/doc/hello/README.old'));
    await fsp.writeFile(at(root, CONF), MINE);
    const r = await om(root, ['verify']);
    assert.equal(r.status, 1);
    assert.deepEqual(
      r.stdout.split('\n').filter((l) => l).sort(),
      [
        '??5?????? c /etc/hello.conf',
        '??5??????   /usr/share/doc/hello/copyright',
        '?M???????   /usr/bin/hello',
        'missing     /usr/share/doc/hello/README.old',
      ].sort(),
    );
    assert.equal((await om(root, ['verify', 'hello'])).stdout, r.stdout, 'naming the package checks the same');
    const bin = await om(root, ['verify'], { spawn: true });
    assert.equal(bin.status, 1, 'the real binary exits 1 too');
  });
});

// ---------------------------------------------------------------------------------------------------
// bad input

test('a missing archive or a file that is not a .deb: one line, exit 1, nothing changed', async () => {
  await withRoot(async (root) => {
    await ok(root, ['install', debs['hello-1.0']]);
    const [rootBefore, dbBefore] = [await rootState(root), await dbState(root)];
    const notDeb = path.join(workDir, 'not-a-package.deb');
    await fsp.writeFile(notDeb, 'this is plain text, not an ar archive\n');
    const truncated = path.join(workDir, 'truncated.deb');
    await fsp.writeFile(truncated, (await fsp.readFile(debs['hello-2.0'])).subarray(0, 300));
    const cases: Array<[string, string[], RegExp]> = [
      ['missing archive', ['install', path.join(workDir, 'no-such.deb')], /no-such\.deb/],
      ['not a deb', ['install', notDeb], /not-a-package\.deb/],
      ['truncated deb', ['install', truncated], /truncated\.deb/],
      ['a good archive with a missing one', ['install', debs['hello-2.0'], path.join(workDir, 'no-such.deb')], /no-such\.deb/],
      ['remove of a package that is not installed', ['remove', 'nonesuch'], /nonesuch/],
    ];
    for (const [what, argv, names] of cases) {
      const r = await om(root, argv, { spawn: true });
      assert.equal(r.status, 1, `${what}: exit status (${r.stderr})`);
      oneLine(r.stderr);
      assert.match(r.stderr, names, `${what}: the message names it`);
      assertSameTree(await rootState(root), rootBefore, `${what}: root`);
      assert.deepEqual(await dbState(root), dbBefore, `${what}: database`);
      assert.deepEqual(await stagingLeftovers(root), [], `${what}: staging`);
    }
  });
});

test('usage errors exit 2 with one line', async () => {
  await withRoot(async (root) => {
    const cases: string[][] = [
      ['install'],
      ['--mode', 'bogus', 'list'],
      ['owner', 'usr/bin/hello'],
      ['frobnicate'],
      ['install', '--force-confnew', '--force-confold', debs['hello-1.0']],
    ];
    for (const argv of cases) {
      const r = await om(root, argv);
      assert.equal(r.status, 2, `overmerge ${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^overmerge: /, `overmerge ${argv.join(' ')}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    const bin = await om(root, ['install'], { spawn: true });
    assert.equal(bin.status, 2, 'the real binary too');
    assert.deepEqual(await fsp.readdir(at(root, 'var/lib')), [], 'usage errors create nothing');
  });
});
