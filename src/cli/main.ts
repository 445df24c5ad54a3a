import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { isatty } from 'node:tty';
import type { Argv } from 'yargs';
import { OvermergeError } from '../errors';
import { commandName, type Command, type Io } from './command';
import { loadCommand } from './command-modules';
import { globalOptions } from './global';
import { declared, quickParse } from './quick-parse';
import { UsageError } from './usage-error';
import { printable } from '../control/printable';

// Start-up time is most of what `overmerge --version` or `overmerge list` costs, so this module loads
// nothing it does not need: yargs (ESM, loaded through require(esm), a few dozen modules) and the command
// registry only once there is a command line to parse, and each command's engine only when it runs (see
// registry.ts). `--version` alone is answered before any of them.

const EXIT_USAGE = 2;

/** overmerge's own version, from its package.json (dist/src/cli → the package root), or undefined. */
function ownVersion(): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

function loadYargs(): typeof import('yargs').default {
  // yargs 18 is ESM-only; Node >= 20.19 loads it through require(esm), which hands back the factory itself.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('yargs') as typeof import('yargs').default;
}

function processIo(): Io {
  // A reader that went away (`overmerge list | head`) is not an error worth a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  // isatty(0), not process.stdin.isTTY: that would make a stream of stdin, which the conffile prompt reads itself.
  return { stdout: process.stdout, stderr: process.stderr, isTTY: Boolean(process.stdout.isTTY), stdinIsTTY: isatty(0) };
}

/** Runs the CLI on `argv` (without node and script) and resolves to the exit status. Never throws. */
export async function main(argv: string[], given: Io = processIo()): Promise<number> {
  const io: Io = { ...given, words: argv };
  const version = ownVersion();
  // What yargs would print for `--version` alone, without loading it.
  if (version !== undefined && argv.length === 1 && argv[0] === '--version') {
    io.stdout.write(`${version}\n`);
    return 0;
  }
  // The everyday lines without yargs (quick-parse.ts); everything else, help and errors included, by it.
  const quick = quickParse(argv, declared(globalOptions), loadCommand, 'overmerge');
  if (quick) {
    try {
      return await quick.command.run(quick.args, io);
    } catch (err) {
      return report(err, io);
    }
  }
  let status = 0;
  let handled: Promise<number> | undefined;
  let helpText = '';
  const parser = yargsParser(argv, version, (c, args) => {
    handled = c.run(args, io);
  });
  try {
    await parser.parseAsync(argv, {}, (_err, _args, output) => {
      helpText = output;
    });
    if (helpText) io.stdout.write(helpText.endsWith('\n') ? helpText : `${helpText}\n`);
    if (handled) status = await handled;
  } catch (err) {
    status = report(err, io);
  }
  return status;
}

/**
 * yargs set up for `argv` with every command registered; `onRun` is called with the command a line names
 * and its arguments (the quick parser's results are compared with these in test/cli/quick-parse.test.ts).
 */
export function yargsParser(argv: readonly string[], version: string | undefined, onRun: (c: Command<unknown>, args: Record<string, unknown>) => void): Argv {
  const yargs = loadYargs();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { commands } = require('./registry') as typeof import('./registry');
  const described = globalOptions(yargs([...argv]))
    .scriptName('overmerge')
    .strict()
    .demandCommand(1, 'name a command; see `overmerge --help`')
    .recommendCommands()
    .help()
    .alias('h', 'help');
  // Ours when known, so that `--version` prints the same wherever it stands; else yargs' own guess.
  const parser = (version === undefined ? described.version() : described.version(version))
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((msg, err) => {
      // yargs words some messages over several lines; errors are one line here. Its own YError (an option
      // missing its value) is the user's mistake like any other, not an internal error with a stack.
      if (err !== undefined && err !== null && err.name !== 'YError') throw err;
      throw new UsageError((msg ?? err?.message ?? 'cannot parse the command line').replace(/\s*\n\s*/g, ' ').trim());
    });
  const register = (y: Argv, c: Command<unknown>): void => {
    const subs = c.subcommands ?? [];
    const builder = subs.length === 0 ? c.builder : (inner: Argv): Argv => {
      const built = c.builder(inner);
      for (const sub of subs) register(built, sub);
      return built.demandCommand(1, `name a subcommand of ${commandName(c)}; see \`overmerge ${commandName(c)} --help\``);
    };
    y.command(c.command, c.describe, builder, (args) => onRun(c, args));
  };
  for (const c of commands as Command<unknown>[]) register(parser, c);
  skipHelpCache(parser);
  return parser;
}

/**
 * Right after starting a command's handler, yargs renders that command's whole help text and keeps it, to
 * print should the handler fail with nobody else to report it. Here main awaits the handlers and reports
 * their errors itself, so that text is never printed; rendering it measures every line with string-width,
 * whose Unicode-property regular expressions are compiled on first use: about a sixth of the CPU time of
 * `overmerge list`. yargs has no option for it, so its usage instance (one per parser, reset and reused
 * for each command level) is given a cacheHelpMessage that keeps nothing. Without that internal method
 * (another yargs), nothing changes but the time.
 */
function skipHelpCache(parser: Argv): void {
  type Usage = { cacheHelpMessage?: () => void };
  const internal = (parser as unknown as { getInternalMethods?: () => { getUsageInstance?: () => Usage } }).getInternalMethods?.();
  const usage = internal?.getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

function report(err: unknown, io: Io): number {
  if (err instanceof UsageError) {
    io.stderr.write(`overmerge: ${printable(err.message)}\n`);
    return EXIT_USAGE;
  }
  if (err instanceof OvermergeError) {
    // One line, always: scripts and people read the first line of stderr. Messages escape what they quote
    // from archives already; this is the net for any that does not.
    io.stderr.write(`overmerge: ${printable(`${err.message}${err.hint ? ` (${err.hint})` : ''}`)}\n`);
    // What the first line sums up, spelt out below it (each relation problem in dpkg's words).
    for (const line of err.detail ?? []) io.stderr.write(`${printable(line)}\n`);
    return err.code === 'E_USAGE' ? EXIT_USAGE : 1;
  }
  // A bug, not a user error: keep the stack so it can be reported.
  io.stderr.write(`overmerge: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}
