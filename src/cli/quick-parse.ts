import type { Argv } from 'yargs';
import type { Command } from './command';

/**
 * The everyday command lines (`overmerge --root R list`, `overmerge install a.deb --force-overwrite`)
 * parsed without yargs, whose loading is most of a small command's start-up: yargs 18 is ESM, and Node 20
 * loads it through require(esm) with its whole ESM loader, 40–50 ms before anything else happens.
 *
 * Only what is sure to mean the same to yargs is taken: each word is a known option of the command or a
 * global one, spelt `--name`, `--name=value`, `--name value`, `--no-name` or `-x`, once, with a valid value,
 * then the positionals the command declares. The command's own builder and checks declare and judge them,
 * recorded from the same calls yargs is given. Anything else — help, an unknown or repeated option, a
 * value that does not fit, a check that fails, a command group — answers `undefined`, and the caller hands
 * the line to yargs, which parses it or says what is wrong in its words. test/cli/quick-parse.test.ts
 * compares both parsers' results on every command.
 */

export interface OptionSpec {
  readonly type?: string;
  readonly default?: unknown;
  readonly alias?: string | readonly string[];
  readonly choices?: readonly unknown[];
  readonly coerce?: (v: unknown) => unknown;
  readonly array?: boolean;
  readonly requiresArg?: boolean;
}

interface Positional {
  readonly name: string;
  readonly required: boolean;
  readonly variadic: boolean;
}

type Check = (argv: Record<string, unknown>) => unknown;

/** What a builder declared, recorded by replaying it on a stand-in for yargs. */
export interface Declared {
  readonly options: Map<string, OptionSpec>;
  readonly positionalSpecs: Map<string, OptionSpec>;
  readonly checks: Check[];
  readonly conflicts: Array<[string, string]>;
  /** A call the quick parser does not model was made (parser configuration, …): leave it to yargs. */
  unsupported: boolean;
}

/** Replays `build` (a command's builder, or the global options) and records what it declares. */
export function declared(build: (y: Argv) => Argv): Declared {
  const d: Declared = { options: new Map(), positionalSpecs: new Map(), checks: [], conflicts: [], unsupported: false };
  const recorder: Record<string, (...args: any[]) => unknown> = {
    option: (name: string, spec: OptionSpec) => (d.options.set(name, spec ?? {}), proxy),
    positional: (name: string, spec: OptionSpec) => (d.positionalSpecs.set(name, spec ?? {}), proxy),
    check: (fn: Check) => (d.checks.push(fn), proxy),
    conflicts: (a: string, b: string) => (d.conflicts.push([a, b]), proxy),
    // Help text only.
    usage: () => proxy,
    example: () => proxy,
  };
  const proxy: Argv = new Proxy(recorder, {
    get: (target, key) =>
      target[key as string] ??
      (() => {
        d.unsupported = true;
        return proxy;
      }),
  }) as unknown as Argv;
  build(proxy);
  return d;
}

/** `install <archives..>` → install, and its positionals. */
function commandLine(c: Command<unknown>): { name: string; positionals: Positional[] } | undefined {
  if (typeof c.command !== 'string') return undefined;
  const [name, ...rest] = c.command.split(' ');
  const positionals: Positional[] = [];
  for (const word of rest) {
    const m = /^([<[])([a-z][a-z0-9-]*)(\.\.)?[>\]]$/.exec(word);
    if (!m) return undefined;
    positionals.push({ name: m[2], required: m[1] === '<', variadic: m[3] !== undefined });
  }
  return { name, positionals };
}

const camel = (name: string): string => name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

function aliasesOf(spec: OptionSpec): readonly string[] {
  return spec.alias === undefined ? [] : typeof spec.alias === 'string' ? [spec.alias] : spec.alias;
}

/** Sets `name` (with its camel-case spelling and aliases) as yargs does. */
function assign(out: Record<string, unknown>, name: string, spec: OptionSpec, value: unknown): void {
  for (const key of [name, ...aliasesOf(spec)]) {
    out[key] = value;
    out[camel(key)] = value;
  }
}

/** A value as yargs would take it for the option's type, or undefined when it is not sure to. */
function valueFor(spec: OptionSpec, text: string): { value: unknown } | undefined {
  let value: unknown;
  if (spec.type === 'string') value = text;
  else if (spec.type === 'number') {
    if (!/^(0|[1-9][0-9]{0,14})(\.[0-9]+)?$/.test(text)) return undefined;
    value = Number(text);
  } else if (spec.type === undefined && spec.choices !== undefined) value = text;
  else return undefined;
  if (spec.choices !== undefined && !spec.choices.includes(value)) return undefined;
  return { value };
}

/**
 * Parses `argv` as yargs would for the command whose name is its first positional word, or answers
 * undefined (see above). `find` gives the command of a name (loading its module), or undefined.
 */
export function quickParse(
  argv: readonly string[],
  globals: Declared,
  find: (name: string) => Command<unknown> | undefined,
  scriptName: string,
): { command: Command<unknown>; args: Record<string, unknown> } | undefined {
  if (globals.unsupported) return undefined;
  let command: Command<unknown> | undefined;
  let line: ReturnType<typeof commandLine>;
  let own: Declared | undefined;
  const given = new Map<string, unknown>();
  const words: string[] = [];
  const specOf = (name: string): [string, OptionSpec] | undefined => {
    for (const table of own ? [own.options, globals.options] : [globals.options]) {
      const spec = table.get(name);
      if (spec) return [name, spec];
      for (const [n, s] of table) if (aliasesOf(s).includes(name)) return [n, s];
    }
    return undefined;
  };
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (!word.startsWith('-') || word === '-') {
      if (command === undefined) {
        command = find(word);
        line = command && command.subcommands === undefined ? commandLine(command) : undefined;
        if (command === undefined || line === undefined) return undefined;
        own = declared(command.builder as (y: Argv) => Argv);
        if (own.unsupported) return undefined;
      } else words.push(word);
      continue;
    }
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(word) ?? /^-([a-zA-Z])()$/.exec(word);
    if (!m) return undefined;
    const name = m[1];
    const inline: string | undefined = word.startsWith('--') ? m[2] : undefined;
    let found = specOf(name);
    let negated = false;
    if (!found && name.startsWith('no-')) {
      found = specOf(name.slice(3));
      negated = true;
    }
    if (!found) return undefined;
    const [canonical, spec] = found;
    if (given.has(canonical) || spec.array) return undefined;
    if (spec.type === 'boolean') {
      if (inline !== undefined) return undefined;
      given.set(canonical, !negated);
      continue;
    }
    if (negated) {
      // `--no-scripts`: yargs hands false to the option's coerce, which says what that means.
      if (inline !== undefined || spec.coerce === undefined) return undefined;
      given.set(canonical, false);
      continue;
    }
    let text = inline;
    if (text === undefined) {
      text = argv[i + 1];
      if (text === undefined || text.startsWith('-')) return undefined;
      i++;
    }
    if (text === '' && spec.requiresArg) return undefined;
    const v = valueFor(spec, text);
    if (!v) return undefined;
    given.set(canonical, v.value);
  }
  if (command === undefined || line === undefined || own === undefined) return undefined;
  const args: Record<string, unknown> = { _: [line.name] };
  // Positionals, in the order declared; every one a string (yargs would turn number-like words into
  // numbers where a positional is not typed as a string).
  let at = 0;
  for (const p of line.positionals) {
    const spec = own.positionalSpecs.get(p.name);
    if (spec?.type !== 'string') return undefined;
    if (p.variadic) {
      const rest = words.slice(at);
      at = words.length;
      if (p.required && rest.length === 0) return undefined;
      assign(args, p.name, {}, rest);
    } else if (at < words.length) {
      assign(args, p.name, {}, words[at++]);
    } else if (p.required) return undefined;
  }
  if (at < words.length) return undefined;
  for (const [a, b] of [...globals.conflicts, ...own.conflicts]) if (given.has(a) && given.has(b)) return undefined;
  try {
    for (const table of [globals.options, own.options]) {
      for (const [name, spec] of table) {
        const value = given.has(name) ? given.get(name) : spec.default;
        if (value === undefined) continue;
        assign(args, name, spec, spec.coerce ? spec.coerce(value) : value);
      }
    }
    args.$0 = scriptName;
    for (const check of [...globals.checks, ...own.checks]) if (check(args) !== true) return undefined;
  } catch {
    return undefined;
  }
  return { command, args };
}
