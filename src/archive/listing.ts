import type { TarHeader } from './tar';

/**
 * Formats tar entries the way `tar -tv` (and so `dpkg-deb -c`) prints them. The layout facts, all
 * checked against GNU tar 1.34: the owner/size column is right-aligned to a width that starts at 19 and
 * only ever grows within one listing; the date column starts at 16 and grows the same way; names are
 * quoted in tar's "escape" style, which depends on whether the locale's character set is UTF-8; hard
 * link targets lose leading `/` and `..` prefixes the way tar strips them, symlink targets do not.
 */
export interface ListingOptions {
  /** Whether the locale is UTF-8 (printable multibyte characters pass through unescaped). */
  utf8: boolean;
}

/** Whether the locale the environment asks for uses UTF-8, by the POSIX precedence of the variables. */
export function localeIsUtf8(env: NodeJS.ProcessEnv): boolean {
  const value = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  return /utf-?8/i.test(value);
}

export class TarListing {
  private ownerSizeWidth = 19;
  private dateWidth = 16;

  constructor(private readonly options: ListingOptions) {}

  /** One line, newline included. Stateful: column widths carry over to later lines as in tar. */
  line(h: TarHeader): string {
    const modes = typeChar(h) + modeString(h.mode);
    const user = h.uname !== '' ? h.uname : String(h.uid);
    const group = h.gname !== '' ? h.gname : String(h.gid);
    const size = h.type === 'char' || h.type === 'block' ? `${h.devmajor},${h.devminor}` : String(h.size);
    // tar measures the column in bytes (strlen), so a multi-byte owner name widens it by its bytes.
    const pad = Buffer.byteLength(user) + 1 + Buffer.byteLength(group) + 1 + size.length;
    if (pad > this.ownerSizeWidth) this.ownerSizeWidth = pad;
    const stamp = formatTime(h.mtime);
    if (stamp.length > this.dateWidth) this.dateWidth = stamp.length;
    const sizeField = size.padStart(this.ownerSizeWidth - pad + size.length);
    let out = `${modes} ${user}/${group} ${sizeField} ${stamp.padEnd(this.dateWidth)} ${this.quote(h.nameBytes)}`;
    if (h.type === 'symlink') out += ` -> ${this.quote(h.linkBytes ?? Buffer.alloc(0))}`;
    else if (h.type === 'hardlink') out += ` link to ${this.quote(strippedLinkTarget(h.linkBytes ?? Buffer.alloc(0)))}`;
    return `${out}\n`;
  }

  private quote(bytes: Buffer): string {
    return quoteEscape(bytes, this.options.utf8);
  }
}

function typeChar(h: TarHeader): string {
  if (h.typeflag === '7') return 'C';
  // A regular file is read as a directory for its trailing '/'; tar strips trailing slashes first and
  // keeps a lone '/', so for that name alone it sees none and lists a file.
  if (h.type === 'directory' && h.typeflag !== '5' && h.nameBytes.length === 1 && h.nameBytes[0] === 0x2f) return '-';
  switch (h.type) {
    case 'file':
      return '-';
    case 'directory':
      return 'd';
    case 'symlink':
      return 'l';
    case 'hardlink':
      return 'h';
    case 'fifo':
      return 'p';
    case 'char':
      return 'c';
    case 'block':
      return 'b';
  }
}

/** `rwxr-xr-x` with s/S, s/S and t/T for setuid, setgid and sticky, as ls and tar print them. */
export function modeString(mode: number): string {
  const bit = (mask: number, c: string): string => (mode & mask ? c : '-');
  const special = (exec: number, flag: number, set: string, unset: string): string => {
    if (mode & flag) return mode & exec ? set : unset;
    return mode & exec ? 'x' : '-';
  };
  return (
    bit(0o400, 'r') +
    bit(0o200, 'w') +
    special(0o100, 0o4000, 's', 'S') +
    bit(0o40, 'r') +
    bit(0o20, 'w') +
    special(0o10, 0o2000, 's', 'S') +
    bit(0o4, 'r') +
    bit(0o2, 'w') +
    special(0o1, 0o1000, 't', 'T')
  );
}

const MAX_DATE_MS = 8.64e15;
/** The Gregorian calendar, weekdays included, repeats every 400 years. */
const CYCLE_SECONDS = 146097 * 86400;

/**
 * `YYYY-MM-DD HH:MM` in the local time zone (TZ applies). Times beyond what Date can hold (hostile
 * archives) are moved by whole 400-year cycles into range and the year moved back: zone rules that far
 * out are the zone's repeating rule, which repeats with the calendar, so the local time is the same.
 */
export function formatTime(mtime: number): string {
  const seconds = Math.trunc(mtime);
  let cycles = 0;
  if (Math.abs(seconds * 1000) > MAX_DATE_MS) cycles = Math.trunc(seconds / CYCLE_SECONDS);
  const ms = (seconds - cycles * CYCLE_SECONDS) * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) return String(seconds).padStart(16);
  const d = new Date(ms);
  const year = d.getFullYear() + cycles * 400;
  const yearText = year < 0 ? `-${String(-year).padStart(3, '0')}` : String(year).padStart(4, '0');
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${yearText}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

/**
 * What tar does to a hard link target before using it: drops everything up to the last `..`
 * component, then leading slashes; an empty result becomes `.`.
 */
export function strippedLinkTarget(name: Buffer): Buffer {
  let cut = 0;
  let i = 0;
  while (i < name.length) {
    if (name[i] === 0x2e && name[i + 1] === 0x2e && (i + 2 === name.length || name[i + 2] === 0x2f)) cut = i + 2;
    // Advance past the next slash (or to the end): the start of the following component.
    do {
      const c = name[i++];
      if (c === 0x2f) break;
    } while (i < name.length);
  }
  while (cut < name.length && name[cut] === 0x2f) cut++;
  const rest = name.subarray(cut);
  return rest.length === 0 ? Buffer.from('.') : rest;
}

const C_ESCAPES: Record<number, string> = { 7: 'a', 8: 'b', 9: 't', 10: 'n', 11: 'v', 12: 'f', 13: 'r', 0x5c: '\\' };

function octal(byte: number): string {
  return `\\${byte.toString(8).padStart(3, '0')}`;
}

const NOT_PRINTABLE = /[\p{Cc}\p{Cn}\p{Cs}\u2028\u2029]/u;

/** Length of a well-formed UTF-8 sequence at `i` whose character is printable, or 0. */
function printableUtf8Length(bytes: Buffer, i: number): number {
  const b0 = bytes[i];
  let len: number;
  let min: number;
  let cp: number;
  if (b0 >= 0xc2 && b0 <= 0xdf) [len, min, cp] = [2, 0x80, b0 & 0x1f];
  else if (b0 >= 0xe0 && b0 <= 0xef) [len, min, cp] = [3, 0x800, b0 & 0x0f];
  else if (b0 >= 0xf0 && b0 <= 0xf4) [len, min, cp] = [4, 0x10000, b0 & 0x07];
  else return 0;
  if (i + len > bytes.length) return 0;
  for (let k = 1; k < len; k++) {
    const b = bytes[i + k];
    if ((b & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return NOT_PRINTABLE.test(String.fromCodePoint(cp)) ? 0 : len;
}

/** tar's default quoting ("escape" style): C escapes and octal for what the locale cannot print. */
export function quoteEscape(bytes: Buffer, utf8: boolean): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      if (C_ESCAPES[b] !== undefined) out += `\\${C_ESCAPES[b]}`;
      else if (b < 0x20 || b === 0x7f) out += octal(b);
      else out += String.fromCharCode(b);
      i++;
      continue;
    }
    const len = utf8 ? printableUtf8Length(bytes, i) : 0;
    if (len > 0) {
      out += bytes.toString('utf8', i, i + len);
      i += len;
    } else {
      out += octal(b);
      i++;
    }
  }
  return out;
}
