/**
 * How dpkg speaks (lib/dpkg/report.c, ehandle.c, options.c badusage): every line it writes about itself
 * starts with the program's name, and a fatal error ends the run with status 2.
 *
 *   dpkg: error: MESSAGE            ohshit(): fatal, exit 2
 *   dpkg: error: MESSAGE\n\nHELP    badusage(): a fatal error followed by the program's "where to get help"
 *   dpkg: warning: MESSAGE          warning(): counted, the run goes on
 *   dpkg: MESSAGE                   notice(): to stderr, the run goes on
 *
 * The name is dpkg's own, `dpkg` — and `dpkg-query` for the actions dpkg hands to dpkg-query (-l, -L, -s,
 * -S, -p) — not `overmerge-dpkg`: what overmerge-dpkg answers like dpkg it answers in dpkg's words, byte for
 * byte, so that scripts and people reading dpkg's output read ours the same way. (apt parses only the
 * --status-fd lines, and greps their error text for dpkg's own wording; see transaction/status-fd.ts.)
 * Lines dpkg would never print — an action or option overmerge refuses — say `overmerge-dpkg:`, so that a
 * reader knows who refused.
 *
 * Text is handled as byte strings throughout the dpkg front end (one character U+0000..U+00FF per byte,
 * see src/dpkg/bytes.ts): the database is bytes, and what dpkg prints is bytes.
 */

/**
 * The end of the run: a fatal error (its text, program name included, to stderr) or an early exit such as
 * --force-help (its text to stdout, status 0), with the exit status.
 */
export class DpkgExit extends Error {
  readonly bytes: Buffer;

  constructor(
    text: string,
    readonly status: number,
    readonly stream: 'stdout' | 'stderr' = 'stderr',
  ) {
    super(text.trimEnd());
    this.name = 'DpkgExit';
    this.bytes = latin1(text);
  }
}

/** dpkg's exit status for a fatal error and for bad usage. */
export const EXIT_ERROR = 2;

/** What `dpkg` says after a usage error (main.c printforhelp). */
export const DPKG_HELP_HINT =
  'Type dpkg --help for help about installing and deinstalling packages [*];\n' +
  "Use 'apt' or 'aptitude' for user-friendly package management;\n" +
  'Type dpkg -Dhelp for a list of dpkg debug flag values;\n' +
  'Type dpkg --force-help for a list of forcing options;\n' +
  'Type dpkg-deb --help for help about manipulating *.deb files;\n' +
  '\n' +
  "Options marked [*] produce a lot of output - pipe it through 'less' or 'more' !";

/** What `dpkg-query` says after a usage error (src/query/main.c printforhelp). */
export const QUERY_HELP_HINT = 'Use --help for help about querying packages.';

/** The name on the lines of overmerge's own refusals. */
export const OWN_PROG = 'overmerge-dpkg';

export type Sink = (bytes: Buffer) => void;

export interface ReporterOptions {
  /** The name printed first on every line: 'dpkg', 'dpkg-query'. */
  readonly prog: string;
  readonly helpHint: string;
  readonly stderr: Sink;
  /** DPKG_COLORS=always, or auto with stdout on a terminal (as dpkg decides): name and error word in colour. */
  readonly color?: boolean;
}

const BOLD = '\x1b[1m';
const BOLD_RED = '\x1b[1;31m';
const BOLD_YELLOW = '\x1b[1;33m';
const RESET = '\x1b[0m';

/** dpkg's reporting under one program name. Messages are byte strings. */
export class Reporter {
  warnings = 0;

  constructor(private readonly o: ReporterOptions) {}

  get prog(): string {
    return this.o.prog;
  }

  /** The same reporting under another name (dpkg handing an action to dpkg-query). */
  as(prog: string, helpHint: string): Reporter {
    return new Reporter({ ...this.o, prog, helpHint });
  }

  /** The text of a fatal error, as ohshit() prints it. */
  errorText(message: string): string {
    return `${this.head()} ${this.paint(BOLD_RED, 'error')}: ${message}\n`;
  }

  /** ohshit(): throws; main() prints the text and exits 2. */
  fatal(message: string): never {
    throw new DpkgExit(this.errorText(message), EXIT_ERROR);
  }

  /** badusage(): a fatal error followed by the program's pointer to its help. */
  badUsage(message: string): never {
    this.fatal(`${message}\n\n${this.o.helpHint}`);
  }

  warning(message: string): void {
    this.warnings++;
    this.o.stderr(latin1(`${this.head()} ${this.paint(BOLD_YELLOW, 'warning')}: ${message}\n`));
  }

  notice(message: string): void {
    this.o.stderr(latin1(`${this.head()} ${message}\n`));
  }

  /** Plain text to stderr (dpkg's "Use dpkg --info ..." after a failed query). */
  raw(text: string): void {
    this.o.stderr(latin1(text));
  }

  private paint(code: string, text: string): string {
    return this.o.color ? `${code}${text}${RESET}` : text;
  }

  private head(): string {
    return `${this.paint(BOLD, this.o.prog)}:`;
  }
}

/** The bytes a byte string stands for. */
export function latin1(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** A text (UTF-8, as Node decodes the command line) as a byte string. */
export function bytesOfText(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** A byte string as the path Node's fs takes (the inverse of bytesOfText; exact for command-line text). */
export function fsPath(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}
