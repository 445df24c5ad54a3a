import type { Reporter } from './report';

/**
 * dpkg's option parser (lib/dpkg/options.c dpkg_options_parse), not a general-purpose one: the quirks are
 * the point, because scripts and apt rely on them.
 *
 * - Options are read from the start of the argument list and the first word that is not an option ends
 *   them (`-` alone is a word): `dpkg -i --force-x a.deb` reads `--force-x` as an option, `dpkg -L pkg -s`
 *   reads `-s` as a package name. `--` ends them too and is dropped.
 * - A long option is matched against the table in order, as its whole name or as `NAME=VALUE` (`NAME-REST`
 *   for the "continued" options such as --force-…, --assert-…). A value not given after `=` is the next
 *   word, whatever it looks like.
 * - Short options can be grouped (`-iE`); one taking a value takes the rest of the word (`-Dhelp`, an `=`
 *   first is skipped) or the next word.
 * - An action is an option too: a second one, even the same one again, is a usage error.
 *
 * Pure apart from what the `set` functions do to the state they are given.
 */
export type Takes =
  /** A flag: `--no-act`, `-O`. */
  | 0
  /** A value: `--root=DIR`, `--root DIR`, `-Dvalue`, `-D value`. */
  | 1
  /** Continued: `--force-THING`, `--assert-FEATURE` (the rest of the name is the value). */
  | 2;

export interface OptionSpec<S> {
  readonly long?: string;
  readonly short?: string;
  readonly takes: Takes;
  /** What the option does to the parse state; `value` is undefined for a flag. */
  readonly set: (state: S, value: string | undefined, spec: OptionSpec<S>) => void;
}

/** Parses the options at the start of `argv` into `state`; returns the words that follow them. */
export function parseOptions<S>(argv: readonly string[], table: readonly OptionSpec<S>[], state: S, report: Reporter): string[] {
  let i = 0;
  while (i < argv.length) {
    const word = argv[i];
    if (!word.startsWith('-') || word.length < 2) break;
    i++;
    if (word === '--') break;
    if (word[1] === '-') {
      const { spec, value } = matchLong(word.slice(2), table, report);
      if (spec.takes !== 0) {
        let v = value;
        if (v === undefined) {
          if (i >= argv.length) report.badUsage(`--${spec.long} option takes a value`);
          v = argv[i++];
        }
        spec.set(state, v, spec);
      } else {
        if (value !== undefined) report.badUsage(`--${spec.long} option does not take a value`);
        spec.set(state, undefined, spec);
      }
      continue;
    }
    let p = word.slice(1);
    while (p !== '') {
      const c = p[0];
      const spec = table.find((s) => s.short === c);
      if (!spec) report.badUsage(`unknown option -${c}`);
      p = p.slice(1);
      if (spec.takes !== 0) {
        let value: string;
        if (p === '') {
          if (i >= argv.length) report.badUsage(`-${c} option takes a value`);
          value = argv[i++];
        } else {
          value = p.startsWith('=') ? p.slice(1) : p;
          p = '';
        }
        spec.set(state, value, spec);
      } else {
        if (p.startsWith('=')) report.badUsage(`-${c} option does not take a value`);
        spec.set(state, undefined, spec);
      }
    }
  }
  return argv.slice(i);
}

/** The table entry a long option names, in table order, and the value written with it. */
function matchLong<S>(name: string, table: readonly OptionSpec<S>[], report: Reporter): { spec: OptionSpec<S>; value?: string } {
  for (const spec of table) {
    if (spec.long === undefined) continue;
    if (name === spec.long) return { spec };
    const sep = spec.takes === 2 ? '-' : '=';
    if (name.startsWith(spec.long) && name[spec.long.length] === sep) return { spec, value: name.slice(spec.long.length + 1) };
  }
  return report.badUsage(`unknown option --${name}`);
}

/**
 * dpkg_options_parse_arg_int: strtol with base 0 (decimal, 0x hex, 0 octal), the whole word, 0..INT_MAX.
 * Returns undefined for anything else.
 */
export function parseArgInt(text: string): number | undefined {
  const m = /^[\t\n\v\f\r ]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return undefined;
  const digits = m[2];
  const n = /^0[xX]/.test(digits) ? parseInt(digits.slice(2), 16) : digits.startsWith('0') ? parseInt(digits, 8) : parseInt(digits, 10);
  const value = m[1] === '-' ? -n : n;
  if (!Number.isFinite(value) || value < 0 || value > 0x7fffffff) return undefined;
  return value;
}

/** parseArgInt or dpkg's usage error naming the option. */
export function argInt<S>(spec: OptionSpec<S>, text: string, report: Reporter): number {
  const n = parseArgInt(text);
  if (n !== undefined) return n;
  return spec.long !== undefined ? report.badUsage(`invalid integer for --${spec.long}: '${text.slice(0, 250)}'`) : report.badUsage(`invalid integer for -${spec.short}: '${text.slice(0, 250)}'`);
}
