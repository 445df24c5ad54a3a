import type { ByteString } from './bytes';
import type { Conffile } from './model';

/**
 * The Conffiles field of status (lib/dpkg/fields.c f_conffiles, dump.c w_conffiles). Each line is
 * ` PATH HASH[ obsolete][ remove-on-upgrade]`; the path may hold spaces (it is everything before the last
 * words), and is stored with exactly one leading '/' whatever `/` and `./` it was written with.
 * Pure; a malformed line throws a plain Error with dpkg's wording (the caller adds file and line).
 */
export function parseConffiles(value: ByteString): Conffile[] {
  const out: Conffile[] = [];
  let pos = 0;
  while (pos < value.length) {
    const c = value[pos++];
    if (c === '\n') continue;
    if (c !== ' ') throw new Error(`value for 'Conffiles' field has line starting with non-space '${c}'`);
    let end = value.indexOf('\n', pos);
    if (end < 0) end = value.length;
    out.push(parseLine(value.slice(pos, end) as ByteString));
    pos = end;
  }
  return out;
}

function parseLine(line: ByteString): Conffile {
  let [word, rest] = lastWord(line, line.length);
  const removeOnUpgrade = word === 'remove-on-upgrade';
  if (removeOnUpgrade) [word, rest] = lastWord(line, rest);
  const obsolete = word === 'obsolete';
  if (obsolete) [word, rest] = lastWord(line, rest);
  // dpkg skips any run of '/' and './' at the start, then puts back one '/'.
  let start = 0;
  while (start < rest && (line[start] === '/' || (line[start] === '.' && line[start + 1] === '/'))) start++;
  if (rest - start <= 0) throw new Error(`root or empty directory listed as a conffile in 'Conffiles' field`);
  return { path: `/${line.slice(start, rest)}` as ByteString, hash: word as ByteString, obsolete, removeOnUpgrade };
}

/**
 * The word ending at `end` and the index of the space before it, with dpkg's bounds: the space may not be
 * among the first two characters of the line counting its leading blank (so a path has two characters at
 * least), nor the line's last character.
 */
function lastWord(line: string, end: number): [string, number] {
  const malformed = (): Error => new Error(`value for 'Conffiles' field has malformed line '${line.slice(0, 250)}'`);
  if (end <= 1) throw malformed();
  const space = line.lastIndexOf(' ', end - 1);
  if (space <= 1 || space >= line.length - 1) throw malformed();
  return [line.slice(space + 1, end), space];
}

/** The field as dpkg writes it: `Conffiles:` and one indented line per conffile (no trailing newline). */
export function formatConffilesField(conffiles: readonly Conffile[]): ByteString {
  let out = 'Conffiles:';
  for (const c of conffiles) {
    out += `\n ${c.path} ${c.hash}${c.obsolete ? ' obsolete' : ''}${c.removeOnUpgrade ? ' remove-on-upgrade' : ''}`;
  }
  return out as ByteString;
}
