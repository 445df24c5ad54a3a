import { base256, FIELDS, gnuLong, headerChecksum, paxHeader, paxRecords, tarEntry, type FieldName, type TarHeader } from '../fixtures/hostile/tar-writer';
import { mutateBytes, mutateInPlace } from './bytes';
import type { Dictionary } from './dictionary';
import type { Rng } from './rng';

/**
 * Mutations of an uncompressed tar that know where its headers are: fields rewritten with values that sit
 * on parsing edges, the checksum made right again (most of the time, or the reader would refuse every
 * input at the checksum), entries added, removed, repeated or reordered, pax and GNU long-name records
 * bent. New entries come from the hostile corpus's own tar writer, which never repairs anything.
 */

const BLOCK = 512;

/** One entry as laid out: its header block, then its body padded to a block. */
export interface TarPiece {
  offset: number;
  /** Where the next header starts (or the end of the input, for a body that runs past it). */
  end: number;
  typeflag: string;
  size: number;
}

/** Splits a tar into entries and the tail from the first zero block on, reading sizes leniently. */
export function walkTar(tar: Buffer): { pieces: TarPiece[]; tailAt: number } {
  const pieces: TarPiece[] = [];
  let at = 0;
  while (at + BLOCK <= tar.length) {
    const block = tar.subarray(at, at + BLOCK);
    if (block.every((b) => b === 0)) break;
    const size = looseSize(block.subarray(FIELDS.size[0], FIELDS.size[0] + FIELDS.size[1]));
    const end = Math.min(tar.length, at + BLOCK + Math.ceil(size / BLOCK) * BLOCK);
    pieces.push({ offset: at, end, typeflag: String.fromCharCode(block[156]), size });
    at = end;
  }
  return { pieces, tailAt: at };
}

function looseSize(field: Buffer): number {
  if (field[0] & 0x80) {
    let v = 0;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i];
    return Number.isSafeInteger(v) ? v : 0;
  }
  const m = /^ *([0-7]*)/.exec(field.toString('latin1'));
  const n = m && m[1] !== '' ? parseInt(m[1], 8) : 0;
  return Number.isSafeInteger(n) ? n : 0;
}

/** Writes the checksum the way GNU tar does (six octal digits, NUL, space). */
export function setChecksum(block: Buffer, signed = false): void {
  let sum = headerChecksum(block);
  if (signed) for (let i = 0; i < BLOCK; i++) if (block[i] > 127 && (i < 148 || i >= 156)) sum -= 256;
  const text = Buffer.from(`${(sum >>> 0).toString(8).slice(-6).padStart(6, '0')}\0 `, 'latin1');
  text.copy(block, FIELDS.chksum[0]);
}

function text(s: string, rng: Rng): Buffer {
  // Names are bytes: the same word as UTF-8, or as Latin-1 (invalid UTF-8 when it has accents).
  return Buffer.from(s, rng.chance(0.85) ? 'utf8' : 'latin1');
}

function fitTo(width: number, value: Buffer): Buffer {
  const out = Buffer.alloc(width);
  value.copy(out, 0, 0, Math.min(width, value.length));
  return out;
}

/** Numbers that matter to a size, mode, id or time field. */
function interestingNumber(rng: Rng, field: FieldName, current: number): number | bigint {
  const common = [0, 1, 7, 8, 0o777, 0o7777, 0o170000, 511, 512, 513, 1023, 2 ** 21 - 1, 2 ** 31 - 1, 2 ** 32, 8 ** 11 - 1];
  const sizes = [current + 1, current - 1, current + 512, current * 2, 2 ** 30, 2 ** 33, Number.MAX_SAFE_INTEGER];
  const pool = field === 'size' ? [...common, ...sizes] : common;
  return Math.max(0, rng.pick(pool));
}

function numericValue(rng: Rng, field: FieldName, width: number, current: number): Buffer {
  const octal = (n: number | bigint, digits = width - 1) => Buffer.from(BigInt(n).toString(8).padStart(digits, '0'), 'latin1');
  return rng.weighted<() => Buffer>([
    [5, () => octal(interestingNumber(rng, field, current))],
    [2, () => Buffer.from(' '.repeat(width - 1), 'latin1')],
    [1, () => Buffer.alloc(width)],
    [1, () => Buffer.from(`${' '.repeat(rng.below(width))}${(current >>> 0).toString(8)}`, 'latin1')],
    [2, () => Buffer.from(rng.pick(['-1', '+1', '0x10', '8', '9', '1 2', '12a', '0 ', ' 0', '\t7', '7'.repeat(width), '0'.repeat(width)]), 'latin1')],
    [2, () => base256(rng.pick([0n, 1n, -1n, 511n, 2n ** 33n, 2n ** 53n, 2n ** 63n - 1n, -(2n ** 40n)]), width)],
    [1, () => rng.bytes(width)],
  ])();
}

function fieldValue(rng: Rng, field: FieldName, dict: Dictionary, current: number): Buffer {
  const [, width] = FIELDS[field];
  switch (field) {
    case 'name':
      return text(rng.pick(dict.names), rng);
    case 'linkname':
      return text(rng.pick(rng.chance(0.5) ? dict.linkTargets : dict.hardlinkTargets), rng);
    case 'prefix':
      return text(rng.pick(['', 'usr', '..', '.', '/', 'a'.repeat(155), './usr/lib/evil', ...dict.names.slice(0, 20)]), rng);
    case 'typeflag':
      return Buffer.from(rng.pick(['0', '\0', '1', '2', '3', '4', '5', '6', '7', 'x', 'g', 'L', 'K', 'S', 'V', 'M', 'D', 'N', 'A', 'Z', '8', ' ', '\xff']), 'latin1');
    case 'magic':
      return Buffer.from(rng.pick(['ustar\0', 'ustar ', '\0\0\0\0\0\0', 'ustaR\0', 'ustar']), 'latin1');
    case 'version':
      return Buffer.from(rng.pick(['00', ' \0', 'xx', '\0\0', '0']), 'latin1');
    case 'uname':
    case 'gname':
      return text(rng.pick(['', 'root', 'x'.repeat(width), 'nul\0in', '\xff\xfe', '0', 'a b', 'daemon\n']), rng);
    default:
      return numericValue(rng, field, width, current);
  }
}

const FIELD_WEIGHTS: ReadonlyArray<readonly [number, FieldName]> = [
  [5, 'name'],
  [4, 'size'],
  [4, 'typeflag'],
  [3, 'linkname'],
  [2, 'mode'],
  [1, 'uid'],
  [1, 'gid'],
  [2, 'mtime'],
  [2, 'chksum'],
  [1, 'magic'],
  [1, 'version'],
  [1, 'uname'],
  [1, 'gname'],
  [1, 'devmajor'],
  [1, 'devminor'],
  [2, 'prefix'],
];

/** Rewrites one field of the header at `offset`; the checksum is recomputed unless that field was the point. */
function mutateField(rng: Rng, tar: Buffer, piece: TarPiece, dict: Dictionary): Buffer {
  const out = Buffer.from(tar);
  const block = out.subarray(piece.offset, piece.offset + BLOCK);
  const field = rng.weighted(FIELD_WEIGHTS);
  const [at, width] = FIELDS[field];
  const value = fieldValue(rng, field, dict, piece.size);
  // A value filling the field leaves no NUL: the reader must not run into the next field.
  fitTo(width, value).copy(block, at);
  if (field !== 'chksum' && rng.chance(0.9)) setChecksum(block, rng.chance(0.1));
  return out;
}

function mutateHeaderBytes(rng: Rng, tar: Buffer, piece: TarPiece): Buffer {
  const out = mutateInPlace(rng, tar, piece.offset, piece.offset + BLOCK, 1 + rng.smallInt(3));
  if (rng.chance(0.8)) setChecksum(out.subarray(piece.offset, piece.offset + BLOCK));
  return out;
}

function someData(rng: Rng, dict: Dictionary): Buffer {
  return rng.weighted<() => Buffer>([
    [3, () => Buffer.alloc(0)],
    [3, () => Buffer.from('hostile\n')],
    [1, () => rng.bytes(rng.smallInt(2000))],
    [1, () => Buffer.from(`${dict.names.slice(0, 8).join('\n')}\n`)],
  ])();
}

/** A pax record list: mostly the keys readers act on, sometimes one broken on purpose. */
function paxBody(rng: Rng, dict: Dictionary): Buffer {
  const records: Array<[string, string | Buffer]> = [];
  const n = 1 + rng.smallInt(3);
  for (let i = 0; i < n; i++) {
    const key = rng.pick(['path', 'linkpath', 'size', 'mtime', 'atime', 'uid', 'gid', 'uname', 'gname', 'SCHILY.xattr.user.fuzz', 'SCHILY.xattr.security.capability', 'SCHILY.xattr.', 'GNU.sparse.size', 'comment', 'hdrcharset']);
    const value = rng.weighted<() => string | Buffer>([
      [3, () => (key === 'linkpath' ? rng.pick(dict.linkTargets) : rng.pick(dict.names))],
      [2, () => rng.pick(['0', '1', '-1', '1.5', '1e9', '99999999999999999999', '', ' 1', '7777777777777', '1700000000.123456789'])],
      [1, () => rng.bytes(rng.smallInt(40))],
    ])();
    records.push([key, value]);
  }
  let body = paxRecords(records);
  if (rng.chance(0.25)) body = mutateBytes(rng, body, undefined, 2);
  return body;
}

/** A new entry, often a pair (a pax or GNU record and the entry it names). */
function newEntry(rng: Rng, dict: Dictionary): Buffer {
  const name = text(rng.pick(dict.names), rng);
  const magic = rng.weighted<TarHeader['magic']>([[6, 'ustar'], [3, 'gnu'], [1, 'v7']]);
  const base: Partial<TarHeader> = { magic, mode: rng.pick([0o644, 0o755, 0o4755, 0o777, 0o7777, 0]) };
  const short = (b: Buffer) => (b.length > 99 ? Buffer.from('./short') : b);
  return rng.weighted<() => Buffer>([
    [4, () => tarEntry({ ...base, name: short(name), type: '0' }, someData(rng, dict))],
    [2, () => tarEntry({ ...base, name: short(name), type: '5' })],
    [3, () => tarEntry({ ...base, name: short(name), type: '2', linkname: short(text(rng.pick(dict.linkTargets), rng)) })],
    [3, () => tarEntry({ ...base, name: short(name), type: '1', linkname: short(text(rng.pick(dict.hardlinkTargets), rng)) })],
    [1, () => tarEntry({ ...base, name: short(name), type: rng.pick(['3', '4', '6']), devmajor: rng.pick([0, 1, 8, 0o7777777]), devminor: rng.pick([0, 3, 255]) })],
    [3, () => Buffer.concat([paxHeader('x', paxBody(rng, dict)), tarEntry({ ...base, name: Buffer.from('./pax-named'), type: rng.pick(['0', '2', '5']), linkname: 'x' }, someData(rng, dict))])],
    [1, () => paxHeader('g', paxBody(rng, dict))],
    [2, () => Buffer.concat([gnuLong('L', name), tarEntry({ ...base, magic: 'gnu', name: './././@LongLink', type: '0' }, someData(rng, dict))])],
    [1, () => Buffer.concat([gnuLong('K', text(rng.pick(dict.linkTargets), rng)), tarEntry({ ...base, magic: 'gnu', name: short(name), type: '2', linkname: 'x' })])],
    [1, () => gnuLong(rng.chance(0.5) ? 'L' : 'K', name)],
  ])();
}

function slices(tar: Buffer): { entries: Buffer[]; tail: Buffer } {
  const { pieces, tailAt } = walkTar(tar);
  return { entries: pieces.map((p) => tar.subarray(p.offset, p.end)), tail: tar.subarray(tailAt) };
}

function join(entries: Buffer[], tail: Buffer): Buffer {
  return Buffer.concat([...entries, tail]);
}

/** Rewrites the body of a pax or GNU record and its size field to match (or, sometimes, not). */
function mutateMetaBody(rng: Rng, tar: Buffer, piece: TarPiece, dict: Dictionary): Buffer {
  const header = Buffer.from(tar.subarray(piece.offset, piece.offset + BLOCK));
  const old = tar.subarray(piece.offset + BLOCK, Math.min(piece.end, piece.offset + BLOCK + piece.size));
  const body = rng.chance(0.5) ? mutateBytes(rng, old, undefined, 2) : piece.typeflag === 'x' || piece.typeflag === 'g' ? paxBody(rng, dict) : Buffer.concat([text(rng.pick(dict.names), rng), Buffer.alloc(1)]);
  const size = rng.chance(0.85) ? body.length : body.length + rng.pick([-1, 1, 512]);
  Buffer.from(`${Math.max(0, size).toString(8).padStart(11, '0')}\0`, 'latin1').copy(header, FIELDS.size[0]);
  setChecksum(header);
  const pad = Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK);
  return Buffer.concat([tar.subarray(0, piece.offset), header, body, pad, tar.subarray(piece.end)]);
}

type TarMutation = (rng: Rng, tar: Buffer, dict: Dictionary) => Buffer;

function onPiece(f: (rng: Rng, tar: Buffer, piece: TarPiece, dict: Dictionary) => Buffer, only?: (p: TarPiece) => boolean): TarMutation {
  return (rng, tar, dict) => {
    const pieces = walkTar(tar).pieces.filter((p) => !only || only(p));
    if (pieces.length === 0) return Buffer.concat([newEntry(rng, dict), tar]);
    return f(rng, tar, rng.pick(pieces), dict);
  };
}

const MUTATIONS: ReadonlyArray<readonly [number, TarMutation]> = [
  [10, onPiece(mutateField)],
  [3, onPiece((rng, tar, p) => mutateHeaderBytes(rng, tar, p))],
  [2, onPiece(mutateMetaBody, (p) => 'xgLK'.includes(p.typeflag))],
  [5, (rng, tar, dict) => {
    const { entries, tail } = slices(tar);
    entries.splice(rng.below(entries.length + 1), 0, newEntry(rng, dict));
    return join(entries, tail);
  }],
  [2, (rng, tar) => {
    const { entries, tail } = slices(tar);
    if (entries.length > 0) entries.splice(rng.below(entries.length), 1);
    return join(entries, tail);
  }],
  [2, (rng, tar) => {
    const { entries, tail } = slices(tar);
    if (entries.length > 0) entries.splice(rng.below(entries.length + 1), 0, entries[rng.below(entries.length)]);
    return join(entries, tail);
  }],
  [1, (rng, tar) => {
    const { entries, tail } = slices(tar);
    if (entries.length > 1) {
      const [i, j] = [rng.below(entries.length), rng.below(entries.length)];
      [entries[i], entries[j]] = [entries[j], entries[i]];
    }
    return join(entries, tail);
  }],
  // The end of the archive: gone, early, followed by garbage or by a member only some readers see.
  [2, (rng, tar, dict) => {
    const { entries, tail } = slices(tar);
    return rng.weighted<() => Buffer>([
      [2, () => join(entries, Buffer.alloc(0))],
      [1, () => join(entries, Buffer.alloc(BLOCK))],
      [2, () => join(entries, Buffer.concat([tail, newEntry(rng, dict)]))],
      [1, () => join(entries, Buffer.concat([tail, rng.bytes(1 + rng.smallInt(2000))]))],
      [1, () => join(entries.slice(0, rng.below(entries.length + 1)), Buffer.concat([Buffer.alloc(1024), ...entries]))],
    ])();
  }],
  [2, (rng, tar) => tar.subarray(0, rng.chance(0.5) ? BLOCK * rng.below(Math.ceil(tar.length / BLOCK) + 1) : rng.below(tar.length + 1))],
  // Bodies: control.tar's md5sums and conffiles are parsed, so their bytes matter too.
  [2, onPiece((rng, tar, p) => mutateInPlace(rng, tar, p.offset + BLOCK, p.end, 1 + rng.smallInt(8)), (p) => p.size > 0)],
  [2, (rng, tar) => mutateBytes(rng, tar, undefined, 2)],
];

/** One to three structure-aware mutations of `tar` (uncompressed). */
export function mutateTar(rng: Rng, tar: Buffer, dict: Dictionary): Buffer {
  let out = tar;
  const n = 1 + rng.smallInt(2);
  for (let i = 0; i < n; i++) out = rng.weighted(MUTATIONS)(rng, out, dict);
  return out;
}
