import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { DecodeAhead } from '../../src/archive/decode-ahead';
import { readDebData } from '../../src/archive/deb';
import { hostXz } from '../../src/archive/xz-process';
import { OvermergeError } from '../../src/errors';
import { hostPathOf } from '../../src/fs/host-path';
import { ar, compressBuffer, CONTROL, deb, entry, tar } from './fixtures';
import { withTempDir } from '../helpers/temp';
import { tick, withAheadFolder } from '../helpers/ahead-folder';
import { buildFixtureDebs } from '../helpers/fixtures';
import { ADMIN_REL } from '../helpers/root-state';
import { spawnCli } from '../helpers/run-cli';

/**
 * Data members decoded ahead by the host's xz into files (decode-ahead.ts): what a later read takes is
 * the archive's own tar, read with every check; what changed, failed or was not begun is not handed over,
 * and the read then decodes the archive itself, as without it.
 */
const why = hostXz() === undefined ? 'no xz on this host (/usr/bin/xz, /bin/xz): nothing is decoded ahead' : false;
if (why) console.warn(`SKIP decode-ahead tests: ${why}`);

const BIG = randomBytes(200 * 1024);
const DATA = tar(entry({ name: './', type: 'directory', mode: 0o755 }), entry({ name: './big', data: BIG }), entry({ name: './after', data: 'tail' }));

async function entriesOf(file: string, ahead?: DecodeAhead): Promise<Array<[string, string]>> {
  const seen: Array<[string, string]> = [];
  for await (const e of readDebData(file, ahead && { ahead })) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(c as Buffer);
    seen.push([e.header.name, Buffer.concat(parts).toString('base64').slice(0, 40)]);
  }
  return seen;
}

/** A folder with `archives` written into it and a decode-ahead folder beside them, closed after `fn`. */
function withAhead<T>(archives: Record<string, Buffer>, fn: (files: Record<string, string>, ahead: DecodeAhead, dir: string) => Promise<T>): Promise<T> {
  return withAheadFolder('decode-ahead', archives, (dir) => DecodeAhead.open(hostPathOf(dir)), (files, ahead, dir) => fn(files, ahead, dir));
}

describe('data members decoded ahead', { skip: why }, () => {
  it('hands over the decoded tar once, read as the archive reads, and removed after the read', async () => {
    await withAhead({ 'a.deb': await deb(DATA, 'xz') }, async ({ 'a.deb': a }, ahead, dir) => {
      const expected = await entriesOf(a);
      ahead.queue([a]);
      await tick();
      const decoded = await ahead.take(a);
      assert.ok(decoded !== undefined && existsSync(decoded), 'a file of the decoded tar');
      assert.ok((await fsp.readFile(decoded)).subarray(0, DATA.length).equals(DATA), 'the archive\'s own tar');
      await fsp.unlink(decoded);

      ahead.queue([a]);
      await tick();
      assert.deepEqual(await entriesOf(a, ahead), expected);
      assert.deepEqual(readdirSync(dir), [], 'the read removed what it took');
      assert.equal(await ahead.take(a), undefined, 'taken once');
    });
  });

  it('hands over nothing for an archive that changed since, or whose decoding has not begun', async () => {
    const other = tar(entry({ name: './', type: 'directory', mode: 0o755 }), entry({ name: './other', data: randomBytes(100 * 1024) }));
    await withAhead({ 'a.deb': await deb(DATA, 'xz'), 'b.deb': await deb(DATA, 'xz') }, async (files, ahead, dir) => {
      ahead.queue([files['a.deb'], files['b.deb']]);
      // b's decoding waits for a's: taken now, it is the reader's to decode, sooner than after a.
      assert.equal(await ahead.take(files['b.deb']), undefined);
      await tick();
      // a is rewritten while (or after) it is decoded: its identity differs, the file is dropped.
      await fsp.writeFile(files['a.deb'], await deb(other, 'xz'));
      assert.equal(await ahead.take(files['a.deb']), undefined);
      assert.deepEqual(readdirSync(dir), []);
      const names = (await entriesOf(files['a.deb'], ahead)).map(([n]) => n);
      assert.deepEqual(names, ['./', './other'], 'the archive as it is now');
    });
  });

  it('a corrupt member is not handed over: the read decodes it and says what is wrong, on one line', async () => {
    const good = await compressBuffer(DATA, 'xz');
    const corrupt = Buffer.from(good);
    for (let i = Math.floor(good.length / 3); i < good.length - 8; i += 7) corrupt[i] ^= 0x5a;
    const file = ar([
      { name: 'debian-binary', data: '2.0\n' },
      { name: 'control.tar.xz', data: await compressBuffer(tar(entry({ name: './control', data: CONTROL })), 'xz') },
      { name: 'data.tar.xz', data: corrupt },
    ]);
    await withAhead({ 'bad.deb': file }, async ({ 'bad.deb': bad }, ahead, dir) => {
      ahead.queue([bad]);
      await tick();
      await assert.rejects(entriesOf(bad, ahead), (err: unknown) => {
        assert.ok(err instanceof OvermergeError, String(err));
        assert.equal(err.code, 'E_BAD_ARCHIVE');
        assert.match(err.message, /bad\.deb: data\.tar\.xz: corrupt xz data/);
        assert.ok(!err.message.includes('\n'));
        return true;
      });
      assert.deepEqual(readdirSync(dir), [], 'the failed decoding left nothing');
    });
  });

  it('leaves members that are not xz to the reader, and close stops a decoding under way', async () => {
    const big = tar(entry({ name: './', type: 'directory', mode: 0o755 }), entry({ name: './big', data: randomBytes(2 * 1024 * 1024) }));
    await withAhead({ 'gz.deb': await deb(DATA, 'gzip'), 'big.deb': await deb(big, 'xz') }, async (files, ahead) => {
      ahead.queue([files['gz.deb'], files['big.deb']]);
      await tick();
      assert.equal(await ahead.take(files['gz.deb']), undefined);
      // close() (in withAhead) while big.deb decodes: the decoder is killed, its file removed.
    });
  });
});

describe('what a killed bootstrap decoded ahead', () => {
  it('is removed by recover, which owns no transaction of it', async () => {
    await withTempDir('decode-ahead-recover', async (dir) => {
      const debs = await buildFixtureDebs(dir);
      const root = path.join(dir, 'root');
      await fsp.mkdir(root);
      const installed = await spawnCli(['--root', root, 'install', debs['hello-1.0']]);
      assert.equal(installed.status, 0, installed.stderr);
      const ahead = path.join(root, ADMIN_REL, 'staging', 'ahead');
      await fsp.mkdir(ahead, { recursive: true });
      await fsp.writeFile(path.join(ahead, '0.tar'), DATA);
      const r = await spawnCli(['--root', root, 'recover']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(existsSync(ahead), false);
    });
  });
});
