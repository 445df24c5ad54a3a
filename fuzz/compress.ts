import * as zlib from 'node:zlib';
import { compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi';
import type { Compression } from '../src/archive/compression';

/**
 * Whole-buffer (de)compression for building fuzz inputs. Levels are the fastest: the fuzzer recompresses
 * a mutated tar for every input that goes back into a .deb, and the ratio does not matter.
 */

interface Lzma {
  compress(data: Buffer, options: unknown, done: (out: Buffer, err?: Error) => void): void;
  decompress(data: Buffer, options: unknown, done: (out: Buffer, err?: Error) => void): void;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const lzma = require('lzma-native') as Lzma;

export async function compressBytes(data: Buffer, c: Compression): Promise<Buffer> {
  switch (c) {
    case 'none':
      return data;
    case 'gzip':
      return zlib.gzipSync(data, { level: 1 });
    case 'zstd':
      return zstdCompress(data);
    case 'xz':
      return new Promise((resolve, reject) => lzma.compress(data, { preset: 0 }, (out, err) => (err ? reject(err) : resolve(out))));
  }
}

/** The decompressed bytes, or undefined when they cannot be had (a seed that is itself broken). */
export async function decompressBytes(data: Buffer, c: Compression): Promise<Buffer | undefined> {
  try {
    switch (c) {
      case 'none':
        return data;
      case 'gzip':
        return zlib.gunzipSync(data);
      case 'zstd':
        return zstdDecompress(data);
      case 'xz':
        return await new Promise((resolve, reject) => lzma.decompress(data, {}, (out, err) => (err ? reject(err) : resolve(out))));
    }
  } catch {
    return undefined;
  }
}
