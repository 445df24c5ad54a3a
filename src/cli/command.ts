import type { Argv } from 'yargs';

/** Where a command writes; tests pass buffers, the binary passes process.stdout/stderr. */
export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Whether stdout is a terminal (progress bars are drawn only then). */
  isTTY: boolean;
  /** Whether stdin is a terminal: conffile questions are asked only then (unset: it is not). */
  stdinIsTTY?: boolean;
  /** The command line's words, for the options whose interleaving the parsers do not keep (path filters). */
  words?: readonly string[];
}

/**
 * One CLI command: its yargs spec and a handler that returns the exit status. Handlers throw
 * OvermergeError for anything the user should read as one line; main turns it into `overmerge: ...`.
 */
export interface Command<A = Record<string, unknown>> {
  command: string | string[];
  describe: string;
  builder: (y: Argv) => Argv;
  run: (args: A, io: Io) => Promise<number>;
  /**
   * A command group (`overmerge overlay status`): its subcommands, each a command of its own. A group's
   * `run` is reached only when no subcommand is named, which the parser refuses first.
   */
  subcommands?: Command<any>[];
}

/** Helps commands declare their argument type without casts at each call site. */
export function defineCommand<A>(c: Command<A>): Command<A> {
  return c;
}

/** The word that names a command on the command line (`install <archives..>` → install). */
export function commandName(c: Pick<Command<unknown>, 'command'>): string {
  const spec = Array.isArray(c.command) ? c.command[0] : c.command;
  return spec.split(' ')[0];
}
