import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { decodeWhole, decompress, type Compression } from '../../src/archive/compression';
import { compressBuffer, entry, tar } from './fixtures';

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

/** What the streaming decoder makes of `data`: its bytes, or its error. */
async function streamed(data: Buffer, c: Compression): Promise<{ bytes: Buffer } | { error: string }> {
  try {
    const parts: Buffer[] = [];
    for await (const chunk of decompress(once(data), c, data.length)) parts.push(chunk);
    return { bytes: Buffer.concat(parts) };
  } catch (err) {
    return { error: String(err) };
  }
}

const CONTROL_TAR = tar(
  entry({ name: './', type: 'directory', mode: 0o755 }),
  entry({ name: './control', data: 'Package: demo\nVersion: 1\nArchitecture: all\nMaintainer: T <t@example.org>\nDescription: demo\n' }),
  entry({ name: './md5sums', data: Array.from({ length: 400 }, (_, i) => `${(i * 2654435761).toString(16).padStart(32, '0')}  usr/share/doc/f${i}\n`).join('') }),
);

/** The member bent the ways a hostile or damaged archive bends it; `decodes` says whether it is whole. */
async function variants(c: 'gzip' | 'xz'): Promise<Array<[string, Buffer, boolean]>> {
  const good = await compressBuffer(CONTROL_TAR, c);
  const flipped = (i: number): Buffer => {
    const b = Buffer.from(good);
    b[i] ^= 0xff;
    return b;
  };
  const out: Array<[string, Buffer, boolean]> = [
    ['whole', good, true],
    ['another stream after it', Buffer.concat([good, await compressBuffer(Buffer.alloc(1024), c)]), true],
    ['corrupt in the middle', flipped(Math.floor(good.length / 2)), false],
    ['its last bytes spoiled (a check)', flipped(good.length - (c === 'xz' ? 13 : 5)), false],
    ['cut short', good.subarray(0, good.length - 20), false],
    ['garbage after it', Buffer.concat([good, Buffer.from('garbage!')]), false],
    ['empty', Buffer.alloc(0), false],
  ];
  if (c === 'xz') {
    // A check liblzma cannot verify (ID 5), header and footer CRC32s made right again.
    const unsupported = Buffer.from(good);
    unsupported[7] = 5;
    unsupported.writeUInt32LE(zlib.crc32(unsupported.subarray(6, 8)), 8);
    unsupported[unsupported.length - 3] = 5;
    unsupported.writeUInt32LE(zlib.crc32(unsupported.subarray(unsupported.length - 8, unsupported.length - 2)), unsupported.length - 12);
    out.push(['a check liblzma cannot verify', unsupported, false]);
  }
  return out;
}

describe('a member decoded in one call (control reads)', () => {
  for (const c of ['gzip', 'xz'] as const) {
    it(`${c}: gives exactly what the streaming decoder gives, or declines and leaves the member to it`, async () => {
      for (const [what, data, decodes] of await variants(c)) {
        const whole = decodeWhole(data, c, 16 << 20);
        const stream = await streamed(data, c);
        if (whole !== undefined) {
          assert.ok('bytes' in stream, `${what}: decoded in one call, but the stream says ${JSON.stringify(stream)}`);
          assert.ok(whole.equals(stream.bytes), `${what}: not the stream's bytes`);
        }
        // What decodes whole is decoded in one call, not left to the stream (the host's liblzma, the addon built).
        if (decodes) assert.ok(whole !== undefined, `${what}: declined`);
        else assert.equal(whole, undefined, `${what}: accepted`);
      }
    });

    it(`${c}: declines a member that decodes to more than asked, and takes one of exactly that size`, async () => {
      const data = await compressBuffer(CONTROL_TAR, c);
      assert.equal(decodeWhole(data, c, CONTROL_TAR.length - 1), undefined);
      assert.ok(decodeWhole(data, c, CONTROL_TAR.length)?.equals(CONTROL_TAR));
      // A bomb: 64 MiB of zeros in a few KiB, declined at the bound without making all of it.
      const bomb = await compressBuffer(Buffer.alloc(64 << 20), c);
      assert.equal(decodeWhole(bomb, c, 1 << 20), undefined);
    });
  }

  it('takes a plain member as it is, within the bound, and leaves zstd to the stream', async () => {
    assert.equal(decodeWhole(CONTROL_TAR, 'none', CONTROL_TAR.length), CONTROL_TAR);
    assert.equal(decodeWhole(CONTROL_TAR, 'none', CONTROL_TAR.length - 1), undefined);
    assert.equal(decodeWhole(await compressBuffer(CONTROL_TAR, 'zstd'), 'zstd', 16 << 20), undefined);
  });
});
