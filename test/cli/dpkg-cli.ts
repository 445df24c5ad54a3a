import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/dpkg/main';
import type { DpkgIo } from '../../src/cli/dpkg/context';
import type { TransactionDriver } from '../../src/cli/dpkg/transaction/driver';
import { REPO_ROOT } from '../helpers/run-cli';

/**
 * Running overmerge-dpkg and real dpkg the same way, for tests that compare them byte for byte: the same
 * arguments, environment and standard input; stdout, stderr and exit status kept as bytes.
 */
export interface Run {
  status: number;
  stdout: Buffer;
  stderr: Buffer;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** In-process runs only: where dpkg's configuration files are read from (default /etc/dpkg). */
  configDir?: string;
  transactionDriver?: TransactionDriver;
}

export const OM_DPKG = path.join(REPO_ROOT, 'bin', 'overmerge-dpkg');

/** The environment both programs run with: C locale, no colours, the test's additions. */
export function testEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', DPKG_COLORS: 'never', COLUMNS: '80' };
  delete env.DPKG_ROOT;
  delete env.DPKG_ADMINDIR;
  delete env.DPKG_FORCE;
  delete env.DPKG_FRONTEND_LOCKED;
  delete env.DPKG_RUNNING_VERSION;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

class Sink extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    done();
  }
}

/** overmerge-dpkg's main() in this process, with buffers (fast: no Node start-up per run). */
export async function omDpkg(argv: string[], opts: RunOptions = {}): Promise<Run> {
  const stdout = new Sink();
  const stderr = new Sink();
  const io: DpkgIo = {
    stdout,
    stderr,
    env: testEnv(opts.env),
    isTTY: false,
    readStdin: async () => (opts.input === undefined ? Buffer.alloc(0) : Buffer.from(opts.input)),
    configDir: opts.configDir,
    transactionDriver: opts.transactionDriver,
  };
  const status = await main(argv, io);
  return { status, stdout: Buffer.concat(stdout.chunks), stderr: Buffer.concat(stderr.chunks) };
}

/** bin/overmerge-dpkg as a child process (the real entry point). */
export function omDpkgSpawn(argv: string[], opts: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [OM_DPKG, ...argv], { env: testEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ status: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * The real dpkg. Standard input is a file: dpkg reads `-` (--merge-avail -) only from a file or a FIFO,
 * not from the socket Node would give it (lib/dpkg/parse.c parsedb_load).
 */
export function realDpkg(argv: string[], opts: RunOptions = {}): Run {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-dpkg-stdin-'));
  try {
    const file = path.join(dir, 'stdin');
    fs.writeFileSync(file, opts.input ?? '');
    const fd = fs.openSync(file, 'r');
    try {
      const res = spawnSync('dpkg', argv, { env: testEnv(opts.env), stdio: [fd, 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
      return { status: res.status ?? 128, stdout: res.stdout, stderr: res.stderr };
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A readable account of how two runs differ ('' when they do not). */
export function difference(want: Run, got: Run): string {
  const parts: string[] = [];
  if (want.status !== got.status) parts.push(`exit status: dpkg ${want.status}, overmerge-dpkg ${got.status}`);
  for (const stream of ['stdout', 'stderr'] as const) {
    if (want[stream].equals(got[stream])) continue;
    const a = want[stream].toString('latin1').split('\n');
    const b = got[stream].toString('latin1').split('\n');
    const at = a.findIndex((line, i) => line !== b[i]);
    const i = at < 0 ? Math.min(a.length, b.length) : at;
    parts.push(`${stream} differs at line ${i + 1}:\n  dpkg:           ${JSON.stringify(a[i])}\n  overmerge-dpkg: ${JSON.stringify(b[i])}`);
  }
  return parts.join('\n');
}
