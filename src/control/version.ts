import { OvermergeError } from '../errors';
import { printable } from './printable';

/**
 * A Debian version `[epoch:]upstream[-revision]`, split the way dpkg splits it: the epoch ends at the first
 * colon, the revision starts after the last hyphen. `revision` is '' when there is none; dpkg compares a
 * missing revision equal to "0", so `1.0` and `1.0-0` are the same version.
 */
export interface Version {
  readonly epoch: number;
  readonly upstream: string;
  readonly revision: string;
}

/**
 * What is wrong with a version string, in dpkg's words. dpkg refuses 'error' problems everywhere; it only
 * warns about 'warning' problems in `--compare-versions` (and in its own database), but refuses them in the
 * control file of an archive it is asked to build or install. overmerge installs archives, so
 * `parseVersion` refuses both.
 */
export interface VersionProblem {
  readonly severity: 'error' | 'warning';
  readonly reason: string;
}

/** The lenient reading: `version` is present unless the problem is an error. */
export interface VersionCheck {
  readonly version?: Version;
  readonly problem?: VersionProblem;
}

// dpkg stores the epoch in an int and refuses anything above INT_MAX.
const MAX_EPOCH = 2147483647;

// dpkg trims and splits on "blank" (space, tab) only; newline and friends are ordinary bad characters.
const isBlank = (c: string): boolean => c === ' ' || c === '\t';
const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isAlpha = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

function error(reason: string): VersionCheck {
  return { problem: { severity: 'error', reason } };
}

function warning(version: Version, reason: string): VersionCheck {
  return { version, problem: { severity: 'warning', reason } };
}

/** Reads a version as dpkg's parser does, reporting the first problem with dpkg's severity and wording. */
export function checkVersion(text: string): VersionCheck {
  let start = 0;
  while (start < text.length && isBlank(text[start])) start++;
  if (start === text.length) return error('version string is empty');
  let end = start;
  while (end < text.length && !isBlank(text[end])) end++;
  for (let i = end; i < text.length; i++) {
    if (!isBlank(text[i])) return error('version string has embedded spaces');
  }
  const s = text.slice(start, end);

  let epoch = 0;
  let rest = s;
  const colon = s.indexOf(':');
  if (colon >= 0) {
    const read = readEpoch(s, colon);
    if (typeof read === 'string') return error(read);
    epoch = read;
    rest = s.slice(colon + 1);
    if (rest === '') return error('nothing after colon in version number');
  }

  const hyphen = rest.lastIndexOf('-');
  const upstream = hyphen >= 0 ? rest.slice(0, hyphen) : rest;
  const revision = hyphen >= 0 ? rest.slice(hyphen + 1) : '';
  if (hyphen >= 0 && revision === '') return error('revision number is empty');
  if (upstream === '') return error('version number is empty');

  const version: Version = { epoch, upstream, revision };
  if (!isDigit(upstream[0])) return warning(version, 'version number does not start with digit');
  for (const c of upstream.slice(1)) {
    if (!isDigit(c) && !isAlpha(c) && !'.-+~:'.includes(c)) {
      return warning(version, 'invalid character in version number');
    }
  }
  for (const c of revision) {
    if (!isDigit(c) && !isAlpha(c) && !'.+~'.includes(c)) {
      return warning(version, 'invalid character in revision number');
    }
  }
  return { version };
}

/**
 * The epoch before `colon`, read with strtol's rules as dpkg does (leading white space and a sign are
 * accepted, so "+1:2" has epoch 1), or the reason it is refused.
 */
function readEpoch(s: string, colon: number): number | string {
  // Every part of the pattern is optional, so it always matches.
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]*)/.exec(s)!;
  const [whole, sign, digits] = m;
  if (digits === '') return 'epoch in version is empty';
  if (whole.length !== colon) return 'epoch in version is not number';
  const significant = digits.replace(/^0+/, '');
  if (sign === '-' && significant !== '') return 'epoch in version is negative';
  if (significant.length > 10 || Number(significant || '0') > MAX_EPOCH) return 'epoch in version is too big';
  return Number(significant || '0');
}

/**
 * Parses a version strictly: what dpkg accepts in the control file of an archive it installs. Throws
 * OvermergeError('E_BAD_VERSION') with dpkg's reason.
 */
export function parseVersion(text: string): Version {
  const { version, problem } = checkVersion(text);
  if (problem || !version) {
    throw new OvermergeError('E_BAD_VERSION', `invalid version '${printable(text)}': ${problem?.reason ?? 'unreadable'}`);
  }
  return version;
}

/** Whether dpkg would accept `text` as the Version of an archive it installs. */
export function isValidVersion(text: string): boolean {
  return checkVersion(text).problem === undefined;
}

/**
 * The version as text, round-tripping what parseVersion produced. The epoch is written when it is not 0,
 * and also when a colon elsewhere would otherwise be read as one (dpkg's "non-ambiguous" form).
 */
export function formatVersion(v: Version): string {
  const showEpoch = v.epoch !== 0 || v.upstream.includes(':') || v.revision.includes(':');
  return `${showEpoch ? `${v.epoch}:` : ''}${v.upstream}${v.revision === '' ? '' : `-${v.revision}`}`;
}

/**
 * Compares two versions exactly as dpkg does: epoch numerically, then upstream, then revision with dpkg's
 * ordering. Strings are read leniently (dpkg's warnings are tolerated, as `dpkg --compare-versions` does);
 * a version with an error-level problem throws E_BAD_VERSION. Returns -1, 0 or 1.
 */
export function compareVersions(a: Version | string, b: Version | string): number {
  const va = typeof a === 'string' ? lenient(a) : a;
  const vb = typeof b === 'string' ? lenient(b) : b;
  if (va.epoch !== vb.epoch) return va.epoch < vb.epoch ? -1 : 1;
  return Math.sign(comparePart(va.upstream, vb.upstream) || comparePart(va.revision, vb.revision));
}

function lenient(text: string): Version {
  const { version, problem } = checkVersion(text);
  if (!version) throw new OvermergeError('E_BAD_VERSION', `invalid version '${printable(text)}': ${problem?.reason}`);
  return version;
}

/**
 * dpkg compares bytes, so a non-ASCII string is turned into one char per UTF-8 byte first; an ASCII string
 * already is one.
 */
function asBytes(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s : Buffer.from(s, 'utf8').toString('latin1');
}

const CODE_0 = 48;
const CODE_9 = 57;
const isDigitCode = (c: number): boolean => c >= CODE_0 && c <= CODE_9;

/**
 * The sort weight of one byte in a non-digit run (NaN = end of string): `~` sorts before the end, the end
 * before letters, letters before everything else. Bytes >= 0x80 weigh their own value because dpkg reads
 * them as negative `char`s on amd64 and adds 256; ASCII punctuation weighs code + 256.
 */
function weight(c: number): number {
  if (Number.isNaN(c) || isDigitCode(c)) return 0;
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return c;
  if (c === 126) return -1;
  if (c >= 128) return c;
  return c + 256;
}

/**
 * dpkg's verrevcmp: alternate non-digit runs (compared by weight) and digit runs (compared as numbers of
 * any length, without converting them, so 30-digit runs compare correctly).
 */
function comparePart(left: string, right: string): number {
  const a = asBytes(left);
  const b = asBytes(right);
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigitCode(a.charCodeAt(i))) || (j < b.length && !isDigitCode(b.charCodeAt(j)))) {
      const wa = weight(a.charCodeAt(i));
      const wb = weight(b.charCodeAt(j));
      if (wa !== wb) return wa - wb;
      i++;
      j++;
    }
    while (a.charCodeAt(i) === CODE_0) i++;
    while (b.charCodeAt(j) === CODE_0) j++;
    let firstDiff = 0;
    while (isDigitCode(a.charCodeAt(i)) && isDigitCode(b.charCodeAt(j))) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigitCode(a.charCodeAt(i))) return 1;
    if (isDigitCode(b.charCodeAt(j))) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}
