import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { buildDeb } from '../../src/archive/build';
import { execFileP, makeFixtureTree } from '../archive/fixture-tree';
import { withTempDir } from '../helpers/temp';
import { hostileCases } from '../../fixtures/hostile/cases';
import { runCli, spawnCli } from '../helpers/run-cli';

async function withFixtureDeb(fn: (deb: string, dir: string) => Promise<void>): Promise<void> {
  await withTempDir('cli-contents', async (dir) => {
    const tree = path.join(dir, 'tree');
    await makeFixtureTree(tree);
    const deb = path.join(dir, 'fixture.deb');
    await buildDeb(tree, deb, { compression: 'xz', sourceDateEpoch: 1700000000 });
    await fn(deb, dir);
  });
}

function oneLineError(r: { status: number; stdout: string; stderr: string }, pattern: RegExp): void {
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^overmerge: [^\n]+\n$/);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/, 'no stack trace');
}

describe('overmerge contents', () => {
  it('prints what dpkg-deb -c prints, in each time zone', async () => {
    await withFixtureDeb(async (deb) => {
      for (const TZ of ['UTC', 'Pacific/Chatham']) {
        const expected = await execFileP('dpkg-deb', ['-c', deb], { env: { ...process.env, TZ } });
        const r = await runCli(['contents', deb], { env: { TZ } });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, expected.stdout, `TZ=${TZ}`);
      }
    });
  });

  it('refuses a file that is not a .deb, in one line, with nothing on stdout', async () => {
    await withTempDir('cli-contents', async (dir) => {
      const file = path.join(dir, 'notes.txt');
      await fsp.writeFile(file, 'hello');
      oneLineError(await runCli(['contents', file]), /notes\.txt: not a Debian archive \(no ar magic\)/);
      oneLineError(await runCli(['contents', path.join(dir, 'missing.deb')]), /cannot open .*missing\.deb: no such file or directory/);
    });
  });

  it('prints nothing of a listing when the archive turns out corrupt partway', async () => {
    await withFixtureDeb(async (deb) => {
      const data = await fsp.readFile(deb);
      const cut = deb.replace(/\.deb$/, '-cut.deb');
      await fsp.writeFile(cut, data.subarray(0, data.length - 2000));
      oneLineError(await runCli(['contents', cut]), /data\.tar\.xz' .* runs past the end of the file/);
      const corrupt = Buffer.from(data);
      const dataAt = data.indexOf('data.tar.xz') + 60;
      for (let i = dataAt + 200; i < data.length - 100; i += 3) corrupt[i] ^= 0xa5;
      const bad = deb.replace(/\.deb$/, '-bad.deb');
      await fsp.writeFile(bad, corrupt);
      oneLineError(await runCli(['contents', bad]), /bad\.deb: data\.tar\.xz: corrupt xz data/);
    });
  });

  it('streams a listing longer than the part it holds back (20,000 members), the same as dpkg-deb -c', async () => {
    await withTempDir('cli-contents', async (dir) => {
      const deb = path.join(dir, 'many.deb');
      await fsp.writeFile(deb, hostileCases({ manyMembers: 20_000 }).find((c) => c.id === 'resource-200k-members')!.deb);
      const expected = (await execFileP('dpkg-deb', ['-c', deb], { env: { ...process.env, TZ: 'UTC' }, maxBuffer: 1 << 26 })).stdout;
      assert.ok(expected.length > 1 << 20, `${expected.length} bytes: more than is held back`);
      for (const run of [runCli, spawnCli]) {
        const r = await run(['contents', deb], { env: { TZ: 'UTC' } });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, expected);
      }
    });
  });

  it('exits 2 on usage errors and shows --help', async () => {
    assert.equal((await runCli(['contents'])).status, 2);
    assert.equal((await runCli(['contents', 'a.deb', 'b.deb'])).status, 2);
    const help = await runCli(['contents', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /contents FILE\.deb/);
  });

  it('behaves the same through bin/overmerge', async () => {
    await withFixtureDeb(async (deb, dir) => {
      const ok = await spawnCli(['contents', deb], { env: { TZ: 'UTC' } });
      assert.equal(ok.status, 0);
      assert.equal(ok.stdout, (await execFileP('dpkg-deb', ['-c', deb], { env: { ...process.env, TZ: 'UTC' } })).stdout);
      const junk = path.join(dir, 'junk.deb');
      await fsp.writeFile(junk, '!<arch>\nshort');
      oneLineError(await spawnCli(['contents', junk]), /junk\.deb: truncated ar member header at byte 8/);
    });
  });
});
