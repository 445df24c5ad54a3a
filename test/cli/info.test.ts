import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { buildDeb } from '../../src/archive/build';
import { ar, entry, tar } from '../archive/fixtures';
import { execFileP, makeFixtureTree } from '../archive/fixture-tree';
import { withTempDir } from '../helpers/temp';
import { runCli } from '../helpers/run-cli';

describe('overmerge info', () => {
  it('prints the control file exactly as dpkg-deb -f does', async () => {
    await withTempDir('cli-info', async (dir) => {
      const tree = path.join(dir, 'tree');
      await makeFixtureTree(tree);
      // Odd but valid spacing that dpkg-deb -f passes through untouched.
      await fsp.writeFile(path.join(tree, 'DEBIAN/control'), 'Package:   om-fixture\nVersion: 1.0\nArchitecture: all\nX-Odd  :  value  \nDescription: d\n more\n');
      for (const c of ['xz', 'gzip', 'zstd', 'none'] as const) {
        const deb = path.join(dir, `f-${c}.deb`);
        await buildDeb(tree, deb, { compression: c });
        const r = await runCli(['info', deb]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, (await execFileP('dpkg-deb', ['-f', deb])).stdout);
      }
    });
  });

  it('refuses an archive whose control file is invalid or missing, in one line', async () => {
    await withTempDir('cli-info', async (dir) => {
      const data = tar(entry({ name: './', type: 'directory' }));
      const cases: Array<[Buffer, RegExp]> = [
        [tar(entry({ name: './control', data: 'Package: x\nVersion: 1\n' })), /Architecture/],
        [tar(entry({ name: './md5sums', data: '' })), /control\.tar has no control file/],
        [tar(entry({ name: './control', data: 'Package x\n' })), /control:1: field name 'Package' must be followed by a colon/],
      ];
      for (const [control, pattern] of cases) {
        const deb = path.join(dir, 'bad.deb');
        await fsp.writeFile(
          deb,
          ar([
            { name: 'debian-binary', data: '2.0\n' },
            { name: 'control.tar', data: control },
            { name: 'data.tar', data },
          ]),
        );
        const r = await runCli(['info', deb]);
        assert.equal(r.status, 1);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /^overmerge: [^\n]*bad\.deb[^\n]*\n$/);
        assert.match(r.stderr, pattern);
      }
    });
  });

  it('exits 2 without an archive and documents itself', async () => {
    assert.equal((await runCli(['info'])).status, 2);
    assert.match((await runCli(['info', '--help'])).stdout, /info FILE\.deb/);
  });
});
