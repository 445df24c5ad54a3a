import { PassThrough, pipeline, Readable, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import type * as ZstdNapi from 'zstd-napi';
import type * as ZstdBinding from 'zstd-napi/binding';
import { requirePacked, XZ_PACK } from '../build/lazy-pack';
import { optionalAddon } from '../fs/own-addon';
import { loadNative } from '../native';
import { decodeXzByProcess, hostXz } from './xz-process';

/**
 * The compressions a .deb member may use, picked by member-name suffix as dpkg does.
 *
 * gzip is Node's zlib. xz is lzma-native (liblzma). zstd is zstd-napi: Node 20 has no zstd in zlib, and
 * zstd-napi is a maintained Node-API binding (ABI-stable across Node releases, prebuilt, current libzstd)
 * that exposes both streaming directions and the raw ZSTD_decompressStream, which lets us decode in
 * bounded steps. Its own DecompressStream pushes all output of an input chunk at once, so a hostile
 * frame of a few KiB could expand to gigabytes in memory; we drive the context ourselves instead.
 */
export type Compression = 'gzip' | 'xz' | 'zstd' | 'none';

const SUFFIXES: Record<string, Compression> = { '': 'none', '.gz': 'gzip', '.xz': 'xz', '.zst': 'zstd' };

/** The compression a member-name suffix ('' | '.gz' | '.xz' | '.zst') denotes, or undefined. */
export function compressionOfSuffix(suffix: string): Compression | undefined {
  return Object.prototype.hasOwnProperty.call(SUFFIXES, suffix) ? SUFFIXES[suffix] : undefined;
}

export function suffixOf(c: Compression): string {
  return { none: '', gzip: '.gz', xz: '.xz', zstd: '.zst' }[c];
}

/** The subset of lzma-native we use; it ships no type declarations. */
interface LzmaNative {
  createStream(coder: 'streamDecoder' | 'easyEncoder', options: Record<string, unknown>): Transform;
  CHECK_CRC64: number;
}

/*
 * The native codecs are loaded on first use, not with this module: most archives are one kind or the other
 * (or gzip), the CLI's start-up pays for every module loaded, and lzma-native brings readable-stream along.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
let lzmaNative: LzmaNative | undefined;
// lzma-native through its own pack where the build made one (build/lazy-pack.ts): 18 files fewer to find and compile.
const lzma = (): LzmaNative => (lzmaNative ??= loadNative('lzma-native', () => requirePacked(XZ_PACK, () => require('lzma-native') as LzmaNative)));
let zstdNapi: typeof ZstdNapi | undefined;
const zstd = (): typeof ZstdNapi => (zstdNapi ??= loadNative('zstd-napi', () => require('zstd-napi') as typeof ZstdNapi));
let zstdNative: typeof ZstdBinding | undefined;
const zstdBinding = (): typeof ZstdBinding => (zstdNative ??= loadNative('zstd-napi', () => require('zstd-napi/binding') as typeof ZstdBinding));
/* eslint-enable @typescript-eslint/no-require-imports */

/** liblzma allocates the dictionary a header asks for; real archives need well under this. */
export const XZ_MEMLIMIT = 256 * 1024 * 1024;
/**
 * lzma-native, like zstd-napi's stream, emits everything one input chunk decodes to before it looks at
 * backpressure again, so input goes in slices: memory stays within a slice times the compression ratio.
 */
const XZ_INPUT_SLICE = 16 * 1024;

async function* sliced(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    for (let at = 0; at < chunk.length; at += size) yield chunk.subarray(at, at + size);
  }
}

/**
 * xz members from this size on are decoded by the host's xz where there is one (xz-process.ts); smaller
 * ones (control members, small packages) decode faster here than a process starts.
 */
const XZ_PROCESS_FROM = 64 * 1024;

/**
 * Decompressed bytes of `source` (`size` compressed bytes, when known). Errors (corrupt or truncated data,
 * the source's own read errors) are raised from the iteration as they are; callers turn them into messages
 * naming the archive member.
 */
export function decompress(source: AsyncIterable<Buffer>, c: Compression, size?: number): AsyncIterable<Buffer> {
  switch (c) {
    case 'none':
      return source;
    case 'gzip':
      // Node's zlib waits for the reader between output chunks, so no slicing is needed.
      return through(source, zlib.createGunzip());
    case 'xz': {
      const xz = size !== undefined && size >= XZ_PROCESS_FROM ? hostXz() : undefined;
      if (xz !== undefined) return decodeXzByProcess(source, xz, XZ_MEMLIMIT);
      return through(sliced(source, XZ_INPUT_SLICE), lzma().createStream('streamDecoder', { memlimit: XZ_MEMLIMIT }));
    }
    case 'zstd':
      return zstdDecode(source);
  }
}

/**
 * Runs `source` through `t` as a pipeline, so a failure anywhere (a read error on the archive, corrupt
 * data) reaches whoever iterates the result, and a reader that stops early tears everything down. The
 * final PassThrough gives a Node stream even for lzma-native's readable-stream based transform.
 */
function through(source: AsyncIterable<Buffer>, t: Transform): Readable {
  const out = new PassThrough({ highWaterMark: 64 * 1024 });
  pipeline(Readable.from(source, { objectMode: false }), t, out, () => {
    // Errors are delivered through `out`; nothing else to do here.
  });
  return out;
}

/** zstd decoding in steps of at most one output buffer, resumed only when the reader wants more. */
async function* zstdDecode(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const binding = zstdBinding();
  const dctx = new binding.DCtx();
  const outSize = binding.dStreamOutSize();
  let inFrame = false;
  let sawInput = false;
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    sawInput = true;
    let input: Buffer = chunk;
    for (;;) {
      const out = Buffer.allocUnsafe(outSize);
      const [hint, produced, consumed] = dctx.decompressStream(out, input);
      input = input.subarray(consumed);
      inFrame = hint !== 0;
      if (produced > 0) yield out.subarray(0, produced);
      // A full output buffer may leave more decoded data inside the context: call again even without input.
      if (input.length === 0 && produced < outSize) break;
    }
  }
  if (!sawInput) throw new Error('empty zstd data');
  if (inFrame) throw new Error('zstd data ends in the middle of a frame');
}

/** src/fs/native/stage_tar.c's one-call xz decoder (the host's liblzma). */
interface XzWholeAddon {
  decodeXz(input: Buffer, memlimit: number, maxOutput: number): Buffer | null;
}
const xzWhole = optionalAddon<XzWholeAddon>('stage_tar');

/**
 * `bytes` (a whole member, in memory) decoded in one call on this thread, or undefined: more than
 * `maxOutput` bytes, anything that does not decode whole, zstd, or no decoder of that kind here. A small
 * member (control.tar) decodes in less time than a decoder stream's set-up and thread-pool round trips
 * take. Undefined leaves the member to decompress(), which decodes it again and words what is wrong: this
 * only ever gives what decompress() would.
 */
export function decodeWhole(bytes: Buffer, c: Compression, maxOutput: number): Buffer | undefined {
  switch (c) {
    case 'none':
      return bytes.length <= maxOutput ? bytes : undefined;
    case 'gzip':
      try {
        return zlib.gunzipSync(bytes, { maxOutputLength: maxOutput });
      } catch {
        return undefined;
      }
    case 'xz':
      return xzWhole()?.decodeXz(bytes, XZ_MEMLIMIT, maxOutput) ?? undefined;
    case 'zstd':
      return undefined;
  }
}

export interface CompressOptions {
  /** Compression level; defaults are dpkg-deb's (gzip 9, xz 6, zstd 3). */
  level?: number;
}

/**
 * A compressing transform with settings that give the same bytes for the same input every time: gzip
 * headers carry no time or name (Node writes neither), xz and zstd run single-threaded.
 */
export function compressor(c: Compression, options: CompressOptions = {}): Transform {
  switch (c) {
    case 'none':
      return new PassThrough();
    case 'gzip':
      return zlib.createGzip({ level: options.level ?? 9 });
    case 'xz':
      return lzma().createStream('easyEncoder', { preset: options.level ?? 6, check: lzma().CHECK_CRC64 });
    case 'zstd':
      return new (zstd().CompressStream)({ compressionLevel: options.level ?? 3, nbWorkers: 0, checksumFlag: true });
  }
}
