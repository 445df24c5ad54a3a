import { spawn } from 'node:child_process';
import * as path from 'node:path';

/** What one command of the transcript produced. */
export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Variables added for this command, and shown before it as `NAME=value`. */
  env?: Record<string, string>;
  /** The exit status that counts as success; 'any' accepts whatever comes back. Default 0. */
  expect?: number | 'any';
  /** Runs even after `stop` (clean-up such as umount must not be skipped by a Ctrl-C). */
  cleanup?: boolean;
}

/** The demo went wrong: one line for the reader, and the demo exits 1 after cleaning up. */
export class DemoFailure extends Error {}

/**
 * Runs commands and prints them like a terminal session: `$ command`, then what it printed, then its
 * exit status when that is not 0. Long temporary paths are shown through short aliases (`$DEMO`) so the
 * transcript reads the same on every run.
 */
export class Transcript {
  private readonly aliases: Array<[string, string]> = [];
  private stopReason: string | undefined;

  constructor(
    private readonly out: NodeJS.WritableStream,
    /** The repository: the working directory of every command, and where bin/overmerge lives. */
    private readonly repoRoot: string,
    /** Environment for every command (the demo removes debug variables that would sabotage it). */
    private readonly baseEnv: NodeJS.ProcessEnv,
  ) {}

  /** From now on `hostPath` is printed as `name` (longest alias first, so nested aliases work). */
  alias(hostPath: string, name: string): void {
    this.aliases.push([hostPath, name]);
    this.aliases.sort((a, b) => b[0].length - a[0].length);
  }

  /** Makes the next command refuse to start (Ctrl-C): the demo unwinds through its clean-up instead. */
  stop(reason: string): void {
    this.stopReason = reason;
  }

  section(title: string): void {
    this.write(`\n== ${title}\n`);
  }

  note(text: string): void {
    this.write(`# ${text}\n`);
  }

  /** Text with every aliased path replaced; `write` applies it, callers use it for their own checks. */
  shorten(text: string): string {
    let s = text;
    for (const [host, name] of this.aliases) s = s.split(host).join(name);
    return s;
  }

  write(text: string): void {
    this.out.write(this.shorten(text));
  }

  /** Runs bin/overmerge with this very Node, shown as `overmerge ARGS`. */
  overmerge(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.exec(process.execPath, [path.join(this.repoRoot, 'bin', 'overmerge')], args, 'overmerge', opts);
  }

  /** Runs another program (dpkg, mount, umount) found through PATH. */
  run(program: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.exec(program, [], args, program, opts);
  }

  /** `hidden` goes before `args` on the real command line but not in the transcript (node's script path). */
  private async exec(file: string, hidden: string[], args: string[], shownAs: string, opts: RunOptions): Promise<RunResult> {
    if (this.stopReason && !opts.cleanup) throw new DemoFailure(this.stopReason);
    const envPrefix = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v} `).join('');
    this.write(`$ ${envPrefix}${[shownAs, ...args].map(quote).join(' ')}\n`);
    const result = await spawnCollect(file, [...hidden, ...args], { cwd: this.repoRoot, env: { ...this.baseEnv, ...opts.env } });
    this.write(result.stdout);
    this.write(result.stderr);
    if (result.status !== 0) this.write(`[exit status ${result.status}]\n`);
    const expect = opts.expect ?? 0;
    if (expect !== 'any' && result.status !== expect) {
      const firstLine = (result.stderr || result.stdout).split('\n').find((l) => l.trim() !== '') ?? '';
      throw new DemoFailure(`the ${shownAs} command above exited with ${result.status}, not ${expect}: ${this.shorten(firstLine)}`);
    }
    return result;
  }
}

/** Shell-style quoting for display only: nothing is ever run through a shell. */
function quote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function spawnCollect(file: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new DemoFailure(`cannot run ${file}: ${e.message}`)));
    child.on('close', (code, signal) => {
      resolve({
        status: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}
