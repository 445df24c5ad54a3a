import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OptionSpec } from './options';
import type { Reporter } from './report';

/**
 * dpkg's configuration files (lib/dpkg/options.c dpkg_options_load), read before the command line, which
 * then overrides them: CONFIGDIR/dpkg.cfg.d/* (names of letters, digits, '_' and '-' only, in byte order),
 * CONFIGDIR/dpkg.cfg, then $HOME/.dpkg.cfg. One long option per line without its `--`, a value after a
 * space or `=` (quotes stripped); `#` starts a comment line. A file that does not exist is skipped; one
 * that cannot be opened gets a warning. A bad line is a fatal "configuration error".
 */
export const CONFIG_DIR = '/etc/dpkg';

export function loadConfig<S>(prog: string, table: readonly OptionSpec<S>[], state: S, report: Reporter, env: Readonly<Record<string, string | undefined>>, configDir = CONFIG_DIR): void {
  const dir = path.join(configDir, `${prog}.cfg.d`);
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir).filter((n) => /^[A-Za-z0-9_-]+$/.test(n)).sort(byteOrder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') report.fatal(`error opening configuration directory '${dir}': ${errnoText(err)}`);
  }
  for (const name of names) loadFile(`${dir}/${name}`, table, state, report);
  loadFile(`${configDir}/${prog}.cfg`, table, state, report);
  const home = env.HOME;
  if (home !== undefined) loadFile(`${home}/.${prog}.cfg`, table, state, report);
}

function loadFile<S>(file: string, table: readonly OptionSpec<S>[], state: S, report: Reporter): void {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    // dpkg's fopen of a directory succeeds and its first read fails: a fatal read error.
    if (code === 'EISDIR') report.fatal(`read error in configuration file '${file.slice(0, 255)}': Is a directory`);
    report.warning(`failed to open configuration file '${file.slice(0, 255)}' for reading: ${errnoText(err)}`);
    return;
  }
  const lines = bytes.toString('latin1').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => applyLine(raw, i + 1, file, table, state, report));
}

function applyLine<S>(raw: string, lineNum: number, file: string, table: readonly OptionSpec<S>[], state: S, report: Reporter): void {
  const fail = (message: string): never => report.fatal(`configuration error: ${file}:${lineNum}: ${message}`);
  const line = raw.replace(/[\t\n\v\f\r ]+$/, '');
  if (line.startsWith('#') || line === '') return;
  const nameEnd = /^[A-Za-z0-9-]*/.exec(line)![0].length;
  let name = line.slice(0, nameEnd);
  let value: string | undefined;
  if (nameEnd < line.length) {
    let rest = line.slice(nameEnd + 1);
    if (rest.startsWith('=')) rest = rest.slice(1);
    rest = rest.replace(/^[\t\n\v\f\r ]+/, '');
    const unquoted = stripQuotes(rest);
    if (unquoted === undefined) fail(`unbalanced quotes in '${name}'`);
    value = unquoted;
  }
  let spec = table.find((s) => s.long !== undefined && s.long === name);
  if (!spec) {
    spec = table.find((s) => s.long !== undefined && s.takes === 2 && value === undefined && name.startsWith(`${s.long}-`));
    if (spec) {
      value = name.slice(spec.long!.length + 1);
      name = spec.long!;
    }
  }
  if (!spec) return fail(`unknown option '${name}'`);
  if (spec.takes !== 0) {
    if (value === undefined) fail(`'${name}' needs a value`);
    spec.set(state, value, spec);
  } else {
    if (value !== undefined) fail(`'${name}' does not take a value`);
    spec.set(state, undefined, spec);
  }
}

/** str_strip_quotes(): a value in matching '' or "" loses them; an unmatched opening quote is an error. */
function stripQuotes(s: string): string | undefined {
  if (s.startsWith('"') || s.startsWith("'")) return s[s.length - 1] === s[0] ? s.slice(1, -1) : undefined;
  return s;
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return STRERROR[e.code ?? ''] ?? e.message;
}

const STRERROR: Record<string, string> = {
  EACCES: 'Permission denied',
  ENOTDIR: 'Not a directory',
  ELOOP: 'Too many levels of symbolic links',
  EIO: 'Input/output error',
};
