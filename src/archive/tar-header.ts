/**
 * Decodes one 512-byte tar header block (v7, POSIX ustar or GNU) into raw fields, checking everything a
 * hostile archive could bend: the checksum, every numeric field (octal or GNU base-256), the type flag.
 * Pure: no stream state; the tar reader combines headers with pax and GNU long-name records.
 */

export const BLOCK = 512;

/**
 * A structural problem in the tar stream; the tar reader adds the archive name and offset. `code` is
 * E_UNSAFE_PATH when the problem is the name itself (empty, NUL inside), E_BAD_ARCHIVE otherwise.
 */
export class TarProblem extends Error {
  constructor(
    message: string,
    readonly code: 'E_BAD_ARCHIVE' | 'E_UNSAFE_PATH' = 'E_BAD_ARCHIVE',
  ) {
    super(message);
  }
}

export type TarFormat = 'ustar' | 'gnu' | 'v7';

export interface RawHeader {
  typeflag: string;
  nameBytes: Buffer;
  linkBytes: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  uname: Buffer;
  gname: Buffer;
  devmajor: number;
  devminor: number;
  format: TarFormat;
}

/** Type flags we understand: entries, and the metadata records that modify the next entry. */
export const ENTRY_FLAGS = new Set(['0', '\0', '1', '2', '3', '4', '5', '6', '7']);
export const META_FLAGS = new Set(['L', 'K', 'x', 'g']);

const FIELD = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const;

type FieldName = keyof typeof FIELD;

function field(block: Buffer, name: FieldName): Buffer {
  const [at, len] = FIELD[name];
  return block.subarray(at, at + len);
}

/** The bytes of a NUL-terminated (or full-width) string field. */
export function cString(buf: Buffer): Buffer {
  const nul = buf.indexOf(0);
  return nul === -1 ? buf : buf.subarray(0, nul);
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * A numeric header field: octal digits (leading spaces allowed, ended by space or NUL, nothing but
 * spaces/NULs after), or GNU base-256 when the top bit of the first byte is set (two's complement when
 * the next bit is set too). Values outside the safe integer range are refused rather than rounded.
 */
export function parseNumeric(buf: Buffer, what: string, allowNegative = false): number {
  if (buf.length > 0 && (buf[0] & 0x80) !== 0) return parseBase256(buf, what, allowNegative);
  let i = 0;
  while (i < buf.length && buf[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < buf.length; i++) {
    const c = buf[i];
    if (c < 0x30 || c > 0x37) break;
    value = value * 8 + (c - 0x30);
    digits++;
  }
  for (; i < buf.length; i++) {
    if (buf[i] !== 0x20 && buf[i] !== 0) {
      throw new TarProblem(`bad ${what} field ${JSON.stringify(buf.toString('latin1'))} in tar header`);
    }
  }
  if (digits === 0) return 0;
  if (!Number.isSafeInteger(value)) throw new TarProblem(`${what} field out of range in tar header`);
  return value;
}

function parseBase256(buf: Buffer, what: string, allowNegative: boolean): number {
  const negative = (buf[0] & 0x40) !== 0;
  let v = BigInt(buf[0] & 0x7f);
  for (let i = 1; i < buf.length; i++) v = (v << 8n) | BigInt(buf[i]);
  if (negative) v -= 1n << BigInt(7 + 8 * (buf.length - 1));
  if (v < 0n && !allowNegative) throw new TarProblem(`negative ${what} in tar header`);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new TarProblem(`${what} field out of range in tar header`);
  }
  return Number(v);
}

/** Checks the header checksum; historic tars summed signed bytes, so either sum is accepted (as GNU tar does). */
export function checksumMatches(block: Buffer): boolean {
  const stored = parseNumeric(field(block, 'chksum'), 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

function formatOf(block: Buffer): TarFormat {
  const magic = field(block, 'magic').toString('latin1');
  const version = field(block, 'version').toString('latin1');
  if (magic === 'ustar\0') return 'ustar';
  if (magic === 'ustar ' && version === ' \0') return 'gnu';
  return 'v7';
}

/** Decodes a non-zero header block. Throws TarProblem for a bad checksum, number or type flag. */
export function parseHeaderBlock(block: Buffer): RawHeader {
  if (block.length !== BLOCK) throw new TarProblem('truncated tar header');
  if (!checksumMatches(block)) throw new TarProblem('bad tar header checksum');
  const format = formatOf(block);
  let nameBytes = cString(field(block, 'name'));
  if (format === 'ustar') {
    const prefix = cString(field(block, 'prefix'));
    if (prefix.length > 0) nameBytes = Buffer.concat([prefix, Buffer.from('/'), nameBytes]);
  }
  // The checksum holds, so the name is what the writer meant: naming the member makes the refusal findable.
  const member = `member ${JSON.stringify(Buffer.from(nameBytes).toString('utf8'))}`;
  const typeflag = String.fromCharCode(block[156]);
  if (!ENTRY_FLAGS.has(typeflag) && !META_FLAGS.has(typeflag)) {
    throw new TarProblem(`unsupported tar entry type ${JSON.stringify(typeflag)} of ${member}`);
  }
  const isDevice = typeflag === '3' || typeflag === '4';
  try {
    return {
      typeflag,
      nameBytes: Buffer.from(nameBytes),
      linkBytes: Buffer.from(cString(field(block, 'linkname'))),
      mode: parseNumeric(field(block, 'mode'), 'mode') & 0o7777,
      uid: parseNumeric(field(block, 'uid'), 'uid'),
      gid: parseNumeric(field(block, 'gid'), 'gid'),
      size: parseNumeric(field(block, 'size'), 'size'),
      mtime: parseNumeric(field(block, 'mtime'), 'mtime', true),
      uname: format === 'v7' ? Buffer.alloc(0) : Buffer.from(cString(field(block, 'uname'))),
      gname: format === 'v7' ? Buffer.alloc(0) : Buffer.from(cString(field(block, 'gname'))),
      devmajor: isDevice && format !== 'v7' ? parseNumeric(field(block, 'devmajor'), 'devmajor') : 0,
      devminor: isDevice && format !== 'v7' ? parseNumeric(field(block, 'devminor'), 'devminor') : 0,
      format,
    };
  } catch (err) {
    throw err instanceof TarProblem ? new TarProblem(`${err.message} of ${member}`, err.code) : err;
  }
}
