import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ArReader } from '../../src/archive/ar';
import { buildDeb } from '../../src/archive/build';
import type { Compression } from '../../src/archive/compression';
import { readDebControl, readDebData } from '../../src/archive/deb';
import { OvermergeError } from '../../src/errors';
import { dpkgInRoot, execFileP, FIXTURE_CONTROL, FIXTURE_PACKAGE, makeDpkgRoot, makeFixtureTree, setTimes } from './fixture-tree';
import { gate } from '../helpers/gate';
import { withTempDir } from '../helpers/temp';

const SDE = 1700000000;
const KINDS: Compression[] = ['xz', 'gzip', 'zstd', 'none'];

async function arMembers(file: string): Promise<Array<{ name: string; mtime: number; data: Buffer }>> {
  const reader = await ArReader.open(file);
  try {
    const out = [];
    for (let m = await reader.next(); m; m = await reader.next()) {
      out.push({ name: m.name, mtime: m.mtime, data: await reader.readMember(m, 1 << 30) });
    }
    return out;
  } finally {
    await reader.close();
  }
}

describe('deb builder', () => {
  for (const c of KINDS) {
    it(`builds with -Z ${c} what dpkg-deb reads and dpkg installs and verifies`, async () => {
      await withTempDir('build', async (dir) => {
        const tree = path.join(dir, 'tree');
        const out = path.join(dir, 'out.deb');
        await makeFixtureTree(tree);
        const result = await buildDeb(tree, out, { compression: c, sourceDateEpoch: SDE });
        assert.deepEqual(result, { path: out, package: FIXTURE_PACKAGE, version: '1:2.0-1', architecture: 'all' });

        const suffix = { none: '', gzip: '.gz', xz: '.xz', zstd: '.zst' }[c];
        assert.deepEqual(
          (await arMembers(out)).map((m) => m.name),
          ['debian-binary', `control.tar${suffix}`, `data.tar${suffix}`],
        );
        assert.equal((await execFileP('dpkg-deb', ['-f', out])).stdout, FIXTURE_CONTROL);
        const info = (await execFileP('dpkg-deb', ['--info', out])).stdout;
        for (const name of ['control', 'md5sums', 'conffiles', 'postinst', 'prerm']) assert.match(info, new RegExp(`\\s${name}\\s`));
        const listing = (await execFileP('dpkg-deb', ['-c', out])).stdout;
        assert.match(listing, /^-rwsr-xr-x root\/root +\d+ 2020-\d\d-\d\d \d\d:\d\d \.\/usr\/bin\/om-tool$/m);
        assert.match(listing, /^hrwsr-xr-x root\/root +0 .* \.\/usr\/bin\/om-tool-hard link to \.\/usr\/bin\/om-tool$/m);
        assert.match(listing, /^lrwxrwxrwx root\/root +0 .* \.\/usr\/bin\/om-tool-link -> om-tool$/m);
        assert.match(listing, /^drwxr-xr-x root\/root +0 .* \.\/usr\/share\/om-empty\/$/m);
        // Our own reader agrees with what we wrote.
        const control = await readDebControl(out);
        assert.equal(control.dataCompression, c);
        const md5sums = control.files.get('md5sums')?.toString() ?? '';
        assert.match(md5sums, /^[0-9a-f]{32} {2}usr\/bin\/om-tool$/m);
        assert.doesNotMatch(md5sums, /etc\/om-fixture\.conf/, 'conffiles are left out, as dh_md5sums does');

        const root = path.join(dir, 'root');
        await makeDpkgRoot(root);
        await dpkgInRoot(root, '-i', out);
        assert.equal(await fsp.readFile(path.join(root, 'postinst-ran'), 'utf8'), 'configure\n');
        const st = await fsp.lstat(path.join(root, 'usr/bin/om-tool'));
        assert.equal(st.mode & 0o7777, 0o4755);
        assert.equal(st.nlink, 2);
        assert.equal(await fsp.readlink(path.join(root, 'usr/bin/om-tool-link')), 'om-tool');
        assert.ok((await fsp.stat(path.join(root, 'usr/share/om-empty'))).isDirectory());
        const verify = await dpkgInRoot(root, '--verify', FIXTURE_PACKAGE);
        assert.equal(verify.stdout, '');
        const status = (await dpkgInRoot(root, '-s', FIXTURE_PACKAGE)).stdout;
        assert.match(status, /^Status: install ok installed$/m);
        assert.match(status, /^Conffiles:\n \/etc\/om-fixture\.conf [0-9a-f]{32}$/m);
      });
    });
  }

  it('is reproducible: the same SOURCE_DATE_EPOCH gives byte-identical archives, with clamped times', async () => {
    await withTempDir('build', async (dir) => {
      const tree = path.join(dir, 'tree');
      await makeFixtureTree(tree, SDE + 1000);
      await setTimes(path.join(tree, 'usr/share/doc'), SDE - 5000);
      for (const c of KINDS) {
        const a = path.join(dir, `a-${c}.deb`);
        const b = path.join(dir, `b-${c}.deb`);
        await buildDeb(tree, a, { compression: c, sourceDateEpoch: SDE });
        // Touch the tree in between: clamped times must hide it.
        await setTimes(path.join(tree, 'usr/bin'), SDE + 99999);
        await buildDeb(tree, b, { compression: c, sourceDateEpoch: SDE });
        await setTimes(path.join(tree, 'usr/bin'), SDE + 1000);
        assert.deepEqual(await fsp.readFile(a), await fsp.readFile(b), `-Z ${c}`);
        const members = await arMembers(a);
        assert.deepEqual(
          members.map((m) => m.mtime),
          [SDE, SDE, SDE],
        );
        if (c === 'gzip') assert.equal(members[2].data.readUInt32LE(4), 0, 'no time in the gzip header');
      }
      const times = new Map<string, number>();
      for await (const e of readDebData(path.join(dir, 'a-xz.deb'))) {
        times.set(e.header.name, e.header.mtime);
        e.body.resume();
      }
      assert.equal(times.get('./usr/bin/om-tool'), SDE);
      assert.equal(times.get('./usr/share/doc/om-fixture/big.bin'), SDE - 5000);
    });
  });

  it('writes data.tar and control.tar byte-identical to dpkg-deb --root-owner-group', async () => {
    await withTempDir('build', async (dir) => {
      const tree = path.join(dir, 'tree');
      await makeFixtureTree(tree);
      execFileSync('mknod', [path.join(tree, 'usr/share/om-null'), 'c', '1', '3']);
      execFileSync('mkfifo', [path.join(tree, 'usr/share/om-fifo')]);
      // dpkg-deb does not write md5sums; give the tree one so both control areas hold the same files.
      await fsp.writeFile(path.join(tree, 'DEBIAN/md5sums'), 'd41d8cd98f00b204e9800998ecf8427e  usr/share/om-empty-file\n');
      await setTimes(tree, 1600000000);
      const ours = path.join(dir, 'ours.deb');
      const theirs = path.join(dir, 'theirs.deb');
      await buildDeb(tree, ours, { compression: 'none', sourceDateEpoch: SDE });
      await execFileP('dpkg-deb', ['--root-owner-group', '-Znone', '--build', tree, theirs], { env: { ...process.env, SOURCE_DATE_EPOCH: String(SDE) } });
      const [a, b] = [await arMembers(ours), await arMembers(theirs)];
      assert.deepEqual(
        a.map((m) => m.name),
        b.map((m) => m.name),
      );
      for (let i = 0; i < a.length; i++) assert.ok(a[i].data.equals(b[i].data), `${a[i].name} differs from dpkg-deb's`);
      assert.deepEqual(await fsp.readFile(ours), await fsp.readFile(theirs));
    });
  });

  it('refuses bad trees with one clear error and leaves nothing behind', async () => {
    const cases: Array<[string, (tree: string) => Promise<void>, RegExp, string]> = [
      ['no control file', (t) => fsp.rm(path.join(t, 'DEBIAN/control')), /no DEBIAN\/control file/, 'E_BAD_CONTROL'],
      ['a control file without Version', (t) => fsp.writeFile(path.join(t, 'DEBIAN/control'), 'Package: x\nArchitecture: all\n'), /Version/, 'E_BAD_CONTROL'],
      ['a control syntax error', (t) => fsp.writeFile(path.join(t, 'DEBIAN/control'), 'Package: x\n \nVersion: 1\n'), /control:2: blank line/, 'E_BAD_CONTROL'],
      ['a maintainer script that is not executable', (t) => fsp.chmod(path.join(t, 'DEBIAN/postinst'), 0o644), /maintainer script 'postinst' has bad permissions 644/, 'E_BAD_CONTROL'],
      ['a conffile missing from the tree', (t) => fsp.rm(path.join(t, 'etc/om-fixture.conf')), /conffile '\/etc\/om-fixture\.conf' does not appear in the package/, 'E_BAD_CONTROL'],
      ['a conffile that is a symlink', async (t) => {
        await fsp.rm(path.join(t, 'etc/om-fixture.conf'));
        await fsp.symlink('x', path.join(t, 'etc/om-fixture.conf'));
      }, /is not a plain file/, 'E_BAD_CONTROL'],
      ['a socket in the tree', async (t) => {
        execFileSync('python3', ['-c', `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(path.join(t, 'sock'))})`]);
      }, /cannot put a socket/, 'E_FS'],
    ];
    for (const [what, spoil, pattern, code] of cases) {
      await withTempDir('build', async (dir) => {
        const tree = path.join(dir, 'tree');
        const outDir = path.join(dir, 'out');
        await fsp.mkdir(outDir);
        await makeFixtureTree(tree);
        await spoil(tree);
        await assert.rejects(buildDeb(tree, path.join(outDir, 'x.deb'), { compression: 'xz' }), (err: unknown) => {
          assert.ok(err instanceof OvermergeError, `${what}: ${String(err)}`);
          assert.equal(err.code, code, what);
          assert.match(err.message, pattern, what);
          return true;
        });
        assert.deepEqual(await fsp.readdir(outDir), [], `${what}: nothing written`);
      });
    }
  });

  it('removes its temporary output when the disk fills up midway (real tmpfs)', async (t) => {
    if (gate(t, { mount: 'tmpfs' })) return;
    await withTempDir('build', async (dir) => {
      const tree = path.join(dir, 'tree');
      const outDir = path.join(dir, 'small');
      await fsp.mkdir(outDir);
      await makeFixtureTree(tree);
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'om-test', outDir], { stdio: 'pipe' });
      } catch (err) {
        // Root, yet not allowed to mount (a container without CAP_SYS_ADMIN): what mount said is the reason.
        gate(t, { skip: `cannot mount a tmpfs here: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}` });
        return;
      }
      try {
        await assert.rejects(buildDeb(tree, path.join(outDir, 'x.deb'), { compression: 'none' }), (err: unknown) => {
          assert.ok(err instanceof OvermergeError);
          assert.equal(err.code, 'E_NO_SPACE');
          assert.match(err.message, /no space left on device/);
          return true;
        });
        assert.deepEqual(await fsp.readdir(outDir), []);
      } finally {
        execFileSync('umount', [outDir]);
      }
    });
  });

  it('writes NAME_VERSION_ARCH.deb (no epoch) when OUT is a folder', async () => {
    await withTempDir('build', async (dir) => {
      const tree = path.join(dir, 'tree');
      await makeFixtureTree(tree);
      const result = await buildDeb(tree, dir, { compression: 'gzip', sourceDateEpoch: SDE });
      assert.equal(result.path, path.join(dir, `${FIXTURE_PACKAGE}_2.0-1_all.deb`));
      await fsp.access(result.path);
    });
  });
});
