import type { ByteString } from './bytes';
import { corrupt } from './corrupt';

/**
 * `diversions` (lib/dpkg/db-fsys-divert.c, written by dpkg-divert): three lines per diversion — the
 * diverted path, where it goes instead, and the package allowed to install the original (`:` for a local
 * diversion, made by the administrator). Pure.
 *
 * Reading as dpkg does: every line ends with a newline and has at most 1022 characters (dpkg reads into a
 * 1024-byte buffer); a diversion cut short is an error, and so are two diversions sharing a path (either
 * as source or as destination).
 */
export interface Diversion {
  readonly from: ByteString;
  readonly to: ByteString;
  /** null for a local diversion (`:`). */
  readonly package: ByteString | null;
}

const MAX_LINE = 1022;

export function parseDiversions(text: ByteString, file: string): Diversion[] {
  const lines = splitLines(text, file);
  const out: Diversion[] = [];
  const used = new Set<string>();
  for (let i = 0; i < lines.length; i += 3) {
    if (i + 2 >= lines.length) throw corrupt(file, lines.length + 1, `unexpected end of file reading '${file}'`);
    const [from, to, pkg] = [lines[i], lines[i + 1], lines[i + 2]];
    if (used.has(from) || used.has(to)) {
      throw corrupt(file, i + 1, `conflicting diversions involving '${from.slice(0, 250)}' or '${to.slice(0, 250)}'`);
    }
    used.add(from);
    used.add(to);
    out.push({ from, to, package: pkg === ':' ? null : pkg });
  }
  return out;
}

/** The file's text for `diversions`, in their order, as dpkg-divert writes each. */
export function formatDiversions(diversions: readonly Diversion[]): ByteString {
  return diversions.map((d) => `${d.from}\n${d.to}\n${d.package ?? ':'}\n`).join('') as ByteString;
}

/** fgets_checked's lines: each must end in a newline and fit dpkg's buffer. */
function splitLines(text: ByteString, file: string): ByteString[] {
  if (text === '') return [];
  const lines = text.split('\n') as ByteString[];
  const last = lines.pop();
  if (last !== '') throw corrupt(file, lines.length + 1, `too-long line or missing newline in '${file}'`);
  lines.forEach((l, i) => {
    if (l.length > MAX_LINE) throw corrupt(file, i + 1, `too-long line or missing newline in '${file}'`);
  });
  return lines;
}
