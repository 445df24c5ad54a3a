import type { EntryType } from './tar';
import { BLOCK } from './tar-header';

/**
 * Encodes tar headers in GNU format, byte for byte as GNU tar 1.34 does under dpkg-deb (`--format=gnu`):
 * `ustar  \0` magic, zero-padded octal fields ended by NUL, `%06o\0 ` checksum, `././@LongLink` records
 * for names and link targets of 100 bytes or more, base-256 for numbers too big for octal, and the
 * archive padded to 10240-byte records.
 */
export interface TarWriteHeader {
  nameBytes: Buffer;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  size: number;
  mtime: number;
  linkBytes?: Buffer;
  devmajor?: number;
  devminor?: number;
}

export const RECORD_SIZE = 10240;

const TYPEFLAG: Record<EntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
};

/** An octal field of `width` bytes (digits and a NUL), or base-256 when the value does not fit. */
function putNumber(block: Buffer, at: number, width: number, value: number): void {
  const digits = width - 1;
  if (value >= 0 && value < 8 ** digits) {
    block.write(`${value.toString(8).padStart(digits, '0')}\0`, at, width, 'latin1');
    return;
  }
  let v = BigInt(Math.trunc(value));
  if (v < 0n) v += 1n << BigInt(8 * width);
  for (let i = width - 1; i >= 0; i--) {
    block[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  block[at] = value < 0 ? 0xff : 0x80;
}

function putString(block: Buffer, at: number, width: number, bytes: Buffer): void {
  bytes.copy(block, at, 0, Math.min(width, bytes.length));
}

function finishChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i];
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
}

function baseBlock(h: TarWriteHeader, nameBytes: Buffer, typeflag: string): Buffer {
  const block = Buffer.alloc(BLOCK);
  putString(block, 0, 100, nameBytes);
  putNumber(block, 100, 8, h.mode & 0o7777);
  putNumber(block, 108, 8, h.uid);
  putNumber(block, 116, 8, h.gid);
  putNumber(block, 124, 12, h.size);
  putNumber(block, 136, 12, Math.trunc(h.mtime));
  block.write(typeflag, 156, 1, 'latin1');
  block.write('ustar  \0', 257, 8, 'latin1');
  putString(block, 265, 32, Buffer.from(h.uname, 'utf8'));
  putString(block, 297, 32, Buffer.from(h.gname, 'utf8'));
  return block;
}

/** A GNU long-name (`L`) or long-link (`K`) record: a header and the NUL-terminated name, padded. */
function longRecord(h: TarWriteHeader, typeflag: 'L' | 'K', value: Buffer): Buffer[] {
  const data = Buffer.concat([value, Buffer.alloc(1)]);
  const block = baseBlock(
    { ...h, mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 0 },
    Buffer.from('././@LongLink', 'latin1'),
    typeflag,
  );
  finishChecksum(block);
  return [block, data, Buffer.alloc(padding(data.length))];
}

export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The header blocks (long-name records first) for one entry; its data and padding follow separately. */
export function encodeHeader(h: TarWriteHeader): Buffer {
  const parts: Buffer[] = [];
  const link = h.linkBytes ?? Buffer.alloc(0);
  if (h.type === 'symlink' || h.type === 'hardlink') {
    if (link.length >= 100) parts.push(...longRecord(h, 'K', link));
  }
  if (h.nameBytes.length >= 100) parts.push(...longRecord(h, 'L', h.nameBytes));
  const block = baseBlock(h, h.nameBytes, TYPEFLAG[h.type]);
  if (h.type === 'symlink' || h.type === 'hardlink') putString(block, 157, 100, link);
  if (h.type === 'char' || h.type === 'block') {
    putNumber(block, 329, 8, h.devmajor ?? 0);
    putNumber(block, 337, 8, h.devminor ?? 0);
  }
  finishChecksum(block);
  parts.push(block);
  return Buffer.concat(parts);
}

/** The end-of-archive marker plus the zeros that round the archive up to a whole record. */
export function encodeEnd(bytesSoFar: number): Buffer {
  const withMarker = bytesSoFar + 2 * BLOCK;
  const total = Math.ceil(withMarker / RECORD_SIZE) * RECORD_SIZE;
  return Buffer.alloc(total - bytesSoFar);
}
