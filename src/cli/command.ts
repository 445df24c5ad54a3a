import type { Argv } from 'yargs';

/** Where a command writes; tests pass buffers, the binary passes process.stdout/stderr. */
export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Whether stdout is a terminal (progress bars are drawn only then). */
  isTTY: boolean;
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
}

/** Helps commands declare their argument type without casts at each call site. */
export function defineCommand<A>(c: Command<A>): Command<A> {
  return c;
}
