import type { Reporter } from './report';
import type { DpkgSettings } from './settings';
import type { TransactionDriver } from './transaction/driver';

/** Where overmerge-dpkg reads and writes; the binary passes the process's, tests pass buffers. */
export interface DpkgIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** For --set-selections and --merge-avail: all of standard input (read only when the action needs it). */
  readonly readStdin: () => Promise<Buffer>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether stdout is a terminal (dpkg's colours, with DPKG_COLORS=auto). */
  readonly isTTY: boolean;
  /** /etc/dpkg in production; tests point it elsewhere. */
  readonly configDir?: string;
  /** What carries out -i, -r, ... (default: the engine's driver; see actions/transaction.ts). */
  readonly transactionDriver?: TransactionDriver;
}

/** What an action gets: the parsed command line, dpkg's reporting, and output as bytes. */
export interface ActionContext {
  readonly settings: DpkgSettings;
  readonly report: Reporter;
  readonly io: DpkgIo;
  /** Writes a byte string (see report.ts) to stdout. */
  readonly out: (text: string) => void;
}

/** An action: its words (what follows the options) in, an exit status out. */
export type Action = (ctx: ActionContext, args: string[]) => number | Promise<number>;
