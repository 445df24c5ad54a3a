import type { ByteString } from './bytes';
import { corrupt } from './corrupt';

/**
 * `statoverride` (lib/dpkg/db-fsys-override.c, written by dpkg-statoverride): one override per line,
 * `USER GROUP MODE PATH`, fields separated by single spaces, the path being the rest of the line (it may
 * hold spaces). Pure.
 *
 * USER and GROUP are names, or `#NUMBER` for an id without a name. dpkg looks names up in the passwd and
 * group databases while reading and refuses a name that is unknown; which databases those are (the host's
 * or the root's) is the engine's business, so names are kept as written here and only the syntax is
 * checked. MODE is octal, at most 07777.
 */
export interface StatOverride {
  readonly user: ByteString;
  readonly group: ByteString;
  readonly mode: number;
  readonly path: ByteString;
}

export function parseStatOverrides(text: ByteString, file: string): StatOverride[] {
  const out: StatOverride[] = [];
  const paths = new Set<string>();
  let pos = 0;
  let line = 0;
  while (pos < text.length) {
    line++;
    const nl = text.indexOf('\n', pos);
    if (nl < 0) throw corrupt(file, line, 'statoverride file is missing final newline');
    if (nl === pos) throw corrupt(file, line, 'statoverride file contains empty line');
    const o = parseLine(text.slice(pos, nl) as ByteString, file, line);
    if (paths.has(o.path)) throw corrupt(file, line, `multiple statoverrides present for file '${o.path.slice(0, 250)}'`);
    paths.add(o.path);
    out.push(o);
    pos = nl + 1;
  }
  return out;
}

function parseLine(text: ByteString, file: string, line: number): StatOverride {
  const parts: ByteString[] = [];
  let rest = text;
  for (let i = 0; i < 3; i++) {
    const sp = rest.indexOf(' ');
    if (sp < 0) throw corrupt(file, line, 'syntax error in statoverride file');
    parts.push(rest.slice(0, sp) as ByteString);
    rest = rest.slice(sp + 1) as ByteString;
    if (rest === '') throw corrupt(file, line, 'unexpected end of line in statoverride file');
  }
  const [user, group, modeText] = parts;
  checkId(user, 'uid', file, line);
  checkId(group, 'gid', file, line);
  if (!/^[0-7]+$/.test(modeText) || parseInt(modeText, 8) > 0o7777) {
    throw corrupt(file, line, `invalid statoverride mode ${modeText}`);
  }
  return { user, group, mode: parseInt(modeText, 8), path: rest };
}

/** `#N` must be a non-negative decimal number; names are checked by whoever resolves them. */
function checkId(text: string, what: string, file: string, line: number): void {
  if (text.startsWith('#') && !/^#[0-9]+$/.test(text)) throw corrupt(file, line, `invalid statoverride ${what} ${text}`);
}

/** The file's text, one override per line, mode in octal without a leading zero (dpkg's `%o`). */
export function formatStatOverrides(overrides: readonly StatOverride[]): ByteString {
  return overrides.map((o) => `${o.user} ${o.group} ${o.mode.toString(8)} ${o.path}\n`).join('') as ByteString;
}
