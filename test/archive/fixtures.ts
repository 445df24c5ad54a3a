/**
 * Archives built in memory for tests: tar headers with any field bent, pax records, ar containers, and
 * compressed members. Hostile inputs are made here, in code, never stored.
 */
import * as zlib from 'node:zlib';
import { compress as zstdCompress } from 'zstd-napi';
import { formatArHeader, AR_MAGIC } from '../../src/archive/ar';
import type { Compression } from '../../src/archive/compression';
import { readTar, type TarHeader, type TarReadOptions } from '../../src/archive/tar';
import { encodeEnd, encodeHeader, padding, type TarWriteHeader } from '../../src/archive/tar-writer';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const lzma = require('lzma-native') as { compress(data: Buffer, opts: unknown, cb: (out: Buffer) => void): void };

export function header(over: Partial<TarWriteHeader> & { name?: string } = {}): TarWriteHeader {
  return {
    nameBytes: over.nameBytes ?? Buffer.from(over.name ?? './file'),
    type: over.type ?? 'file',
    mode: over.mode ?? 0o644,
    uid: over.uid ?? 0,
    gid: over.gid ?? 0,
    uname: over.uname ?? 'root',
    gname: over.gname ?? 'root',
    size: over.size ?? 0,
    mtime: over.mtime ?? 1700000000,
    linkBytes: over.linkBytes,
    devmajor: over.devmajor,
    devminor: over.devminor,
  };
}

/** One entry: its header blocks, data and padding. */
export function entry(over: Partial<TarWriteHeader> & { name?: string; data?: Buffer | string } = {}): Buffer {
  const data = over.data === undefined ? Buffer.alloc(0) : Buffer.from(over.data);
  const h = header({ ...over, size: over.size ?? data.length });
  return Buffer.concat([encodeHeader(h), data, Buffer.alloc(padding(data.length))]);
}

/** A tar archive of the given parts, with the end marker and record padding. */
export function tar(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([body, encodeEnd(body.length)]);
}

/** Rewrites the checksum of the header block at `at` after a test bent one of its fields. */
export function fixChecksum(buf: Buffer, at = 0): Buffer {
  buf.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += buf[at + i];
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 8, 'latin1');
  return buf;
}

/** A single raw header block with `edit` applied and the checksum made right again. */
export function rawBlock(over: Parameters<typeof entry>[0], edit: (block: Buffer) => void): Buffer {
  const block = Buffer.from(encodeHeader(header(over)));
  edit(block);
  return fixChecksum(block);
}

/** A metadata record (pax `x`/`g`, GNU `L`/`K`) with the given data. */
export function metaRecord(typeflag: 'x' | 'g' | 'L' | 'K', data: Buffer | string): Buffer {
  const body = Buffer.from(data);
  const block = rawBlock({ name: './PaxHeaders/x', size: body.length }, (b) => b.write(typeflag, 156, 1, 'latin1'));
  return Buffer.concat([block, body, Buffer.alloc(padding(body.length))]);
}

/** One pax record with its self-counting length. */
export function paxRecord(key: string, value: Buffer | string): Buffer {
  const kv = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let len = kv.length + 1;
  while (String(len).length + kv.length !== len) len = String(len).length + kv.length;
  return Buffer.concat([Buffer.from(String(len)), kv]);
}

export interface ReadEntry {
  header: TarHeader;
  data: Buffer;
}

/** Every entry of a tar held in memory, bodies read whole, fed in chunks of `chunk` bytes. */
export async function readAll(data: Buffer, options: TarReadOptions = {}, chunk = 4096): Promise<ReadEntry[]> {
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
  }
  const out: ReadEntry[] = [];
  for await (const e of readTar(chunks(), { label: 'test.tar', ...options })) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(c as Buffer);
    out.push({ header: e.header, data: Buffer.concat(parts) });
  }
  return out;
}

export async function compressBuffer(data: Buffer, c: Compression): Promise<Buffer> {
  switch (c) {
    case 'none':
      return data;
    case 'gzip':
      return zlib.gzipSync(data);
    case 'zstd':
      return zstdCompress(data);
    case 'xz':
      return new Promise((resolve) => lzma.compress(data, { preset: 1 }, resolve));
  }
}

/** An ar archive of the given members (names as written), each padded to an even size. */
export function ar(members: Array<{ name: string; data: Buffer | string }>): Buffer {
  const parts: Buffer[] = [AR_MAGIC];
  for (const m of members) {
    const data = Buffer.from(m.data);
    parts.push(formatArHeader(m.name, data.length, 1700000000), data);
    if (data.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

export const CONTROL = 'Package: demo\nVersion: 1.0-1\nArchitecture: all\nMaintainer: T <t@example.org>\nDescription: demo\n';

/** A minimal well-formed .deb around the given data.tar, all members compressed with `c`. */
export async function deb(dataTar: Buffer, c: Compression = 'none', control = CONTROL): Promise<Buffer> {
  const suffix = { none: '', gzip: '.gz', xz: '.xz', zstd: '.zst' }[c];
  const controlTar = tar(entry({ name: './', type: 'directory', mode: 0o755 }), entry({ name: './control', data: control }));
  return ar([
    { name: 'debian-binary', data: '2.0\n' },
    { name: `control.tar${suffix}`, data: await compressBuffer(controlTar, c) },
    { name: `data.tar${suffix}`, data: await compressBuffer(dataTar, c) },
  ]);
}
