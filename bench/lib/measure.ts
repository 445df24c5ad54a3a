import { execFile, spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { BenchResult, Goal } from '../main';

const execFileP = promisify(execFile);

/** GNU time: it reads the peak RSS (ru_maxrss) of what it ran from wait4(2). */
export const GNU_TIME = '/usr/bin/time';

/** OVERMERGE_BENCH_QUICK=1: fewer repetitions and smaller shapes, for a look in a few minutes. */
export const QUICK = process.env.OVERMERGE_BENCH_QUICK === '1';

/** Repetitions of a row: `full`, or `quick` in a quick run; OVERMERGE_BENCH_REPS overrides both. */
export function reps(full: number, quick: number): number {
  const forced = Number(process.env.OVERMERGE_BENCH_REPS);
  return Number.isInteger(forced) && forced > 0 ? forced : QUICK ? quick : full;
}

/** A shape's size: `full`, or `quick` in a quick run. */
export function size(full: number, quick: number): number {
  return QUICK ? quick : full;
}

/** One timed run of a command. */
export interface Sample {
  ms: number;
  /** Peak resident set size of the largest process of the run, KiB (when measured through GNU time). */
  rssKiB?: number;
  /** CPU time, user + system, of the run and its children, ms (through GNU time: 10 ms resolution). */
  cpuMs?: number;
  status: number;
  /** stderr (and stdout when kept), as text. */
  output: string;
}

export interface RunOptions {
  /** Measure peak RSS through GNU time (a fork and exec more, about a millisecond). Default true. */
  rss?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Keep stdout in `output` (default: discarded, as listings can be large). */
  stdout?: boolean;
}

/**
 * Runs `argv`, timing it from spawn to exit with the monotonic clock, and (through `/usr/bin/time -f %M`)
 * reading its peak RSS. For a process tree (dpkg runs dpkg-deb, which runs its decompressor), wait4
 * reports the largest single process, not the sum.
 */
export async function timed(argv: string[], options: RunOptions = {}): Promise<Sample> {
  const rss = (options.rss ?? true) && existsSync(GNU_TIME);
  const rssFile = rss ? path.join(os.tmpdir(), `overmerge-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`) : undefined;
  const [cmd, ...args] = rssFile ? [GNU_TIME, '-f', '%M %U %S', '-o', rssFile, ...argv] : argv;
  const run = await new Promise<{ ms: number; status: number; output: string }>((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const stdio = ['ignore', options.stdout ? 'pipe' : 'ignore', 'pipe'] as const;
    const child = spawn(cmd, args, { stdio: [...stdio], env: options.env ?? { ...process.env, LC_ALL: 'C' }, cwd: options.cwd });
    const out: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, status: code ?? (signal ? 128 : 1), output: Buffer.concat(out).toString('utf8') });
    });
  });
  let rssKiB: number | undefined;
  let cpuMs: number | undefined;
  if (rssFile) {
    // GNU time writes "Command exited with non-zero status N" before the numbers when the command failed.
    const text = await fsp.readFile(rssFile, 'utf8').catch(() => '');
    await fsp.rm(rssFile, { force: true });
    const m = /(\d+) (\d+\.\d+) (\d+\.\d+)\s*$/.exec(text);
    if (m) {
      rssKiB = Number(m[1]);
      cpuMs = (Number(m[2]) + Number(m[3])) * 1000;
    }
  }
  return { ...run, rssKiB, cpuMs };
}

/** Like timed(), but a failed run is an error naming `what` and the first lines of its output. */
export async function mustRun(what: string, argv: string[], options: RunOptions = {}): Promise<Sample> {
  const s = await timed(argv, options);
  if (s.status !== 0) throw new Error(`${what} failed (status ${s.status}): ${firstLines(s.output)}`);
  return s;
}

export function firstLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(0, n).join(' | ');
}

/** Writes back dirty pages left by whatever ran before, outside any timed run. */
export async function settle(): Promise<void> {
  await execFileP('sync');
}

/**
 * `n` repetitions of every runner, interleaved (ours, anchor, ours, anchor, ...) and rotated each repetition
 * so that none always runs first: load on a shared machine then falls on all of them alike. `before` runs
 * untimed ahead of each repetition (fresh roots); every timed run starts after a sync.
 */
export async function alternate<K extends string>(
  n: number,
  runners: Record<K, (rep: number) => Promise<Sample>>,
  options: { before?: (rep: number) => Promise<void>; after?: (rep: number) => Promise<void>; sync?: boolean } = {},
): Promise<Record<K, Sample[]>> {
  const keys = Object.keys(runners) as K[];
  const out = Object.fromEntries(keys.map((k) => [k, [] as Sample[]])) as Record<K, Sample[]>;
  for (let rep = 0; rep < n; rep++) {
    await options.before?.(rep);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[(i + rep) % keys.length];
      if (options.sync ?? true) await settle();
      out[k].push(await runners[k](rep));
    }
    await options.after?.(rep);
  }
  return out;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median time of samples. */
export function medianMs(samples: Sample[]): number {
  return median(samples.map((s) => s.ms));
}

/** Median CPU time of samples, ms (NaN when not measured). */
export function medianCpuMs(samples: Sample[]): number {
  const v = samples.map((s) => s.cpuMs).filter((x): x is number => x !== undefined);
  return v.length ? median(v) : NaN;
}

/** Median peak RSS of samples, MiB (NaN when not measured). */
export function medianRssMiB(samples: Sample[]): number {
  const v = samples.map((s) => s.rssKiB).filter((x): x is number => x !== undefined);
  return v.length ? median(v) / 1024 : NaN;
}

/** The spread behind a median: every run's time, in the unit that reads best. */
export function spread(samples: Sample[]): string {
  const big = samples.some((s) => s.ms >= 10_000);
  return samples.map((s) => (big ? (s.ms / 1000).toFixed(1) : s.ms.toFixed(0))).join('/') + (big ? ' s' : ' ms');
}

/** A time row: medians of ours against an anchor's, with the issue's goal. */
export function timeRow(name: string, ours: Sample[], anchor: { name: string; samples: Sample[] } | undefined, goal: Goal | undefined, note: string): BenchResult {
  return {
    name,
    oursMs: medianMs(ours),
    baseline: anchor ? { name: anchor.name, ms: medianMs(anchor.samples) } : undefined,
    goal,
    note: `${note}; runs ours ${spread(ours)}${anchor ? `, ${anchor.name} ${spread(anchor.samples)}` : ''}${cpuNote(ours, anchor?.samples)}`,
  };
}

/** CPU medians (user + system), when measured: on a loaded machine they move less than wall time. */
function cpuNote(ours: Sample[], anchor: Sample[] | undefined): string {
  const fmt = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
  const o = medianCpuMs(ours);
  if (Number.isNaN(o)) return '';
  const a = anchor ? medianCpuMs(anchor) : NaN;
  return `; CPU (user+sys) ours ${fmt(o)}${Number.isNaN(a) ? '' : `, anchor ${fmt(a)}`}`;
}

/** A peak-RSS row (MiB): medians of ours against an anchor's. */
export function rssRow(name: string, ours: Sample[], anchor: { name: string; samples: Sample[] } | undefined, goal: Goal | undefined, note: string): BenchResult {
  const max = (ss: Sample[]): string => (Math.max(...ss.map((s) => s.rssKiB ?? 0)) / 1024).toFixed(0);
  return {
    name,
    oursMs: medianRssMiB(ours),
    baseline: anchor ? { name: anchor.name, ms: medianRssMiB(anchor.samples) } : undefined,
    unit: 'MiB',
    goal,
    note: `${note}; max ours ${max(ours)} MiB${anchor ? `, ${anchor.name} ${max(anchor.samples)} MiB` : ''} over ${ours.length} runs`,
  };
}

/** A temporary folder for one bench module, removed with everything in it when `fn` is done. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `overmerge-bench-${prefix}-`));
  try {
    return await fn(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
