import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main';

/** What one CLI run produced. `stdout`/`stderr` are UTF-8 text; the raw bytes are kept for exact comparisons. */
export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
  stderrBytes: Buffer;
}

export interface CliOptions {
  /**
   * Variables set for the run (undefined unsets one). In-process runs change process.env for the
   * duration of the call and restore it after, so in-process runs with `env` must not overlap (node:test
   * runs the tests of one file one after another unless told otherwise).
   */
  env?: Record<string, string | undefined>;
}

/** The repository root, from dist/test/helpers (compiled) or test/helpers (sources). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', ...(path.basename(path.resolve(__dirname, '..', '..')) === 'dist' ? ['..'] : []));
export const BIN = path.join(REPO_ROOT, 'bin', 'overmerge');

class Sink extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    done();
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function withEnv<T>(env: Record<string, string | undefined> | undefined, run: () => Promise<T>): Promise<T> {
  if (!env) return run();
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(env)) {
    saved.set(k, process.env[k]);
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return run().finally(() => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

/** Runs `main()` in this process with buffers for stdout and stderr. Fast; use it by default. */
export async function runCli(argv: string[], options: CliOptions = {}): Promise<CliResult> {
  const stdout = new Sink();
  const stderr = new Sink();
  const status = await withEnv(options.env, () => main(argv, { stdout, stderr, isTTY: false }));
  const [o, e] = [stdout.bytes(), stderr.bytes()];
  return { status, stdout: o.toString('utf8'), stderr: e.toString('utf8'), stdoutBytes: o, stderrBytes: e };
}

export interface SpawnOptions extends CliOptions {
  cwd?: string;
  input?: string | Buffer;
}

/** Runs bin/overmerge as a separate process (the real entry point, exit codes as the shell sees them). */
export function spawnCli(argv: string[], options: SpawnOptions = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argv], { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const [o, e] = [Buffer.concat(out), Buffer.concat(err)];
      resolve({ status: code ?? (signal ? 128 : 1), stdout: o.toString('utf8'), stderr: e.toString('utf8'), stdoutBytes: o, stderrBytes: e });
    });
    child.stdin.end(options.input ?? '');
  });
}

export interface OmOptions {
  /** Global options (`--staging DIR`, `--mode copy`, ...), placed after `--root ROOT` and before `argv`. */
  globals?: string[];
  /** `--quiet` first among the global options: no progress lines (the crash tests run every command so). */
  quiet?: boolean;
  /** As in CliOptions: in-process runs change process.env while they run. */
  env?: Record<string, string | undefined>;
  /** bin/overmerge as a child process (spawnCli) instead of main() in this process (runCli). */
  spawn?: boolean;
}

/**
 * The CLI run against a root: `overmerge --root ROOT [--quiet] GLOBALS... ARGV...`. Every test that runs
 * a command on a root goes through it, so none can forget --root (whose default is the real /).
 */
export function om(root: string, argv: string[], opts: OmOptions = {}): Promise<CliResult> {
  const full = omArgv(root, argv, opts);
  return opts.spawn ? spawnCli(full, { env: opts.env }) : runCli(full, { env: opts.env });
}

/** om's whole command line, for the runners om does not cover (a child killed on purpose, another user). */
export function omArgv(root: string, argv: string[], opts: Pick<OmOptions, 'globals' | 'quiet'> = {}): string[] {
  return ['--root', root, ...(opts.quiet ? ['--quiet'] : []), ...(opts.globals ?? []), ...argv];
}
