import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { decompress } from '../../src/archive/compression';
import { readDebData } from '../../src/archive/deb';
import { hostXz } from '../../src/archive/xz-process';
import { OvermergeError } from '../../src/errors';
import { ar, compressBuffer, CONTROL, deb, entry, tar } from './fixtures';
import { withTempDir } from '../helpers/temp';

/**
 * xz members of 64 KiB and more are decoded by the host's xz in a process of its own (xz-process.ts): the
 * same bytes as lzma-native gives, the same one-line errors for corrupt and truncated data, and a decoder
 * that a reader stopping early does not leave behind.
 */
const why = hostXz() === undefined ? 'no xz on this host (/usr/bin/xz, /bin/xz): lzma-native decodes every member' : false;
if (why) console.warn(`SKIP xz-process tests: ${why}`);

// Random bytes do not compress: the member stays over the 64 KiB from which the process decodes.
const BIG = randomBytes(300 * 1024);
const DATA = tar(entry({ name: './', type: 'directory', mode: 0o755 }), entry({ name: './big', data: BIG }), entry({ name: './after', data: 'tail' }));

async function* chunksOf(data: Buffer, size = 16 * 1024): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

async function all(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(c);
  return Buffer.concat(parts);
}

function withFile<T>(data: Buffer, fn: (file: string) => Promise<T>): Promise<T> {
  return withTempDir('xz-process', async (dir) => {
    const file = path.join(dir, 'pkg.deb');
    await fsp.writeFile(file, data);
    return fn(file);
  });
}

describe('xz decoded by the host xz process', { skip: why }, () => {
  it('gives the bytes lzma-native gives', async () => {
    const xz = await compressBuffer(DATA, 'xz');
    assert.ok(xz.length >= 64 * 1024, 'the member is large enough for the process');
    const byProcess = await all(decompress(chunksOf(xz), 'xz', xz.length));
    const inProcess = await all(decompress(chunksOf(xz), 'xz'));
    assert.ok(byProcess.equals(DATA));
    assert.ok(inProcess.equals(DATA));
  });

  it('reads a .deb whose data member it decodes', async () => {
    await withFile(await deb(DATA, 'xz'), async (file) => {
      const seen: Array<[string, number]> = [];
      for await (const e of readDebData(file)) {
        let n = 0;
        for await (const c of e.body) n += (c as Buffer).length;
        seen.push([e.header.name, n]);
      }
      assert.deepEqual(seen, [['./', 0], ['./big', BIG.length], ['./after', 4]]);
    });
  });

  it('turns corrupt and truncated data into one-line errors naming the file and member', async () => {
    const good = await compressBuffer(DATA, 'xz');
    const corrupt = Buffer.from(good);
    for (let i = Math.floor(good.length / 3); i < good.length - 8; i += 7) corrupt[i] ^= 0x5a;
    const truncated = good.subarray(0, Math.floor(good.length * 0.9));
    const garbage = Buffer.concat([randomBytes(100 * 1024)]);
    for (const data of [corrupt, truncated, garbage]) {
      const file = ar([
        { name: 'debian-binary', data: '2.0\n' },
        { name: 'control.tar.xz', data: await compressBuffer(tar(entry({ name: './control', data: CONTROL })), 'xz') },
        { name: 'data.tar.xz', data },
      ]);
      await withFile(file, async (f) => {
        await assert.rejects(
          (async () => {
            for await (const e of readDebData(f)) e.body.resume();
          })(),
          (err: unknown) => {
            assert.ok(err instanceof OvermergeError, String(err));
            assert.equal(err.code, 'E_BAD_ARCHIVE');
            assert.match(err.message, /: data\.tar\.xz: /);
            assert.ok(!err.message.includes('\n'), 'one line');
            return true;
          },
        );
      });
    }
  });

  it('a reader that stops after the first chunk ends the decoder (the iteration returns, nothing hangs)', async () => {
    const xz = await compressBuffer(Buffer.concat([DATA, randomBytes(2 * 1024 * 1024)]), 'xz');
    let chunks = 0;
    for await (const c of decompress(chunksOf(xz), 'xz', xz.length)) {
      assert.ok(c.length > 0);
      if (++chunks === 1) break;
    }
    assert.equal(chunks, 1);
  });

  it("a read error of the source is the error raised, not xz's", async () => {
    const xz = await compressBuffer(DATA, 'xz');
    async function* failing(): AsyncGenerator<Buffer> {
      yield xz.subarray(0, 32 * 1024);
      throw new Error('EIO: the disk said no');
    }
    await assert.rejects(all(decompress(failing(), 'xz', xz.length)), /EIO: the disk said no/);
  });
});
