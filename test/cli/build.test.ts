import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ArReader } from '../../src/archive/ar';
import { execFileP, makeFixtureTree } from '../archive/fixture-tree';
import { withTempDir } from '../helpers/temp';
import { runCli, spawnCli } from '../helpers/run-cli';

async function memberNames(file: string): Promise<string[]> {
  const r = await ArReader.open(file);
  try {
    const names: string[] = [];
    for (let m = await r.next(); m; m = await r.next()) names.push(m.name);
    return names;
  } finally {
    await r.close();
  }
}

describe('overmerge build', () => {
  it('builds xz by default and honours -Z, reproducibly under SOURCE_DATE_EPOCH', async () => {
    await withTempDir('cli-build', async (dir) => {
      const tree = path.join(dir, 'tree');
      await makeFixtureTree(tree);
      const env = { SOURCE_DATE_EPOCH: '1700000000' };
      const a = await runCli(['build', tree, path.join(dir, 'a.deb')], { env });
      assert.equal(a.status, 0, a.stderr);
      assert.equal(a.stdout, `overmerge: building package 'om-fixture' in '${path.join(dir, 'a.deb')}'.\n`);
      assert.deepEqual(await memberNames(path.join(dir, 'a.deb')), ['debian-binary', 'control.tar.xz', 'data.tar.xz']);
      for (const [flag, suffix] of [['zstd', '.zst'], ['gzip', '.gz'], ['none', '']]) {
        const out = path.join(dir, `${flag}.deb`);
        const r = await runCli(['build', '-Z', flag, tree, out], { env });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(await memberNames(out), ['debian-binary', `control.tar${suffix}`, `data.tar${suffix}`]);
      }
      const again = await runCli(['build', tree, path.join(dir, 'b.deb'), '--compression', 'xz'], { env });
      assert.equal(again.status, 0);
      assert.deepEqual(await fsp.readFile(path.join(dir, 'a.deb')), await fsp.readFile(path.join(dir, 'b.deb')));
      await execFileP('dpkg-deb', ['--info', path.join(dir, 'b.deb')]);
    });
  });

  it('exits 2 on usage errors: missing operands, unknown compression, bad SOURCE_DATE_EPOCH', async () => {
    await withTempDir('cli-build', async (dir) => {
      const tree = path.join(dir, 'tree');
      await makeFixtureTree(tree);
      assert.equal((await runCli(['build', tree])).status, 2);
      assert.equal((await runCli(['build', '-Z', 'bzip2', tree, path.join(dir, 'x.deb')])).status, 2);
      const bad = await runCli(['build', tree, path.join(dir, 'x.deb')], { env: { SOURCE_DATE_EPOCH: 'yesterday' } });
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /^overmerge: SOURCE_DATE_EPOCH must be a number of seconds/);
      assert.deepEqual((await fsp.readdir(dir)).sort(), ['tree']);
    });
  });

  it('refuses a bad tree with one line on stderr, exit 1, and writes nothing (through bin/overmerge)', async () => {
    await withTempDir('cli-build', async (dir) => {
      const tree = path.join(dir, 'tree');
      await makeFixtureTree(tree);
      await fsp.writeFile(path.join(tree, 'DEBIAN/control'), 'Package: bad_name\nVersion: 1\nArchitecture: all\n');
      const r = await spawnCli(['build', tree, path.join(dir, 'x.deb')]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^overmerge: [^\n]*DEBIAN\/control[^\n]*Package[^\n]*\n$/);
      assert.deepEqual((await fsp.readdir(dir)).sort(), ['tree']);
    });
  });

  it('documents itself', async () => {
    const help = await runCli(['build', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /build DIR OUT\.deb \[-Z xz\|gzip\|zstd\|none\]/);
  });
});
