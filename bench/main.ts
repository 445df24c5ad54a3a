import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The issue's goal for a row: ours at most `ratio` × the anchor, or at most `atMost` (in the row's unit). */
export type Goal = { ratio: number } | { atMost: number };

/** One measured result: ours against a baseline timed in the same run. */
export interface BenchResult {
  name: string;
  /** Our time, milliseconds. */
  oursMs: number;
  /** The baseline's name (e.g. "cp -a", "dpkg -i") and time, when there is one. */
  baseline?: { name: string; ms: number };
  /** Anything the reader needs to interpret the numbers (tree size, what is included). */
  note?: string;
  /** What `oursMs` and the baseline measure when it is not time (e.g. "MiB" for peak memory); default ms. */
  unit?: string;
  /** What the row should reach; rows without one are reported for information. */
  goal?: Goal;
}

/** A bench module exports `run`; main finds every such module beside it. */
export interface BenchModule {
  run(): Promise<BenchResult[]>;
}

export function formatResult(r: BenchResult): string {
  const unit = r.unit ?? 'ms';
  const ours = `ours ${r.oursMs.toFixed(0)} ${unit}`;
  const base = r.baseline ? `, ${r.baseline.name} ${r.baseline.ms.toFixed(0)} ${unit}, ratio ${(r.oursMs / r.baseline.ms).toFixed(2)}` : '';
  return `${r.name}: ${ours}${base}${r.note ? ` (${r.note})` : ''}`;
}

function skipped(r: BenchResult): boolean {
  return r.oursMs === 0 && /^skipped/.test(r.note ?? '');
}

/** Whether a row reached its goal: 'yes', 'no', or '' when it has none. */
export function goalMet(r: BenchResult): string {
  if (!r.goal || skipped(r)) return '';
  if ('atMost' in r.goal) return r.oursMs <= r.goal.atMost ? 'yes' : 'no';
  if (!r.baseline) return '';
  return r.oursMs <= r.goal.ratio * r.baseline.ms ? 'yes' : 'no';
}

function amount(v: number, unit: string): string {
  if (!Number.isFinite(v)) return '?';
  if (unit === 'ms' && v >= 10_000) return `${(v / 1000).toFixed(1)} s`;
  if (unit === 'ms' && v < 10) return `${v.toFixed(1)} ms`;
  return `${v.toFixed(0)} ${unit}`;
}

/** The markdown table of every row: ours, the anchor of the same run, the ratio, the goal. */
export function resultTable(rows: Array<{ module: string; result: BenchResult }>): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|');
  const lines = ['| bench | row | overmerge | anchor (same run) | ratio | goal | met |', '|---|---|---|---|---|---|---|'];
  for (const { module, result: r } of rows) {
    const unit = r.unit ?? 'ms';
    const name = r.name.startsWith(`${module}: `) ? r.name.slice(module.length + 2) : r.name;
    if (skipped(r)) {
      lines.push(`| ${module} | ${cell(name)} | ${cell(r.note ?? '')} | | | | |`);
      continue;
    }
    const anchor = r.baseline ? `${r.baseline.name}: ${amount(r.baseline.ms, unit)}` : '';
    const ratio = r.baseline ? `${(r.oursMs / r.baseline.ms).toFixed(2)} ×` : '';
    const goal = !r.goal ? '' : 'atMost' in r.goal ? `≤ ${amount(r.goal.atMost, unit)}` : `≤ ${r.goal.ratio} ×`;
    lines.push(`| ${module} | ${cell(name)} | ${amount(r.oursMs, unit)} | ${cell(anchor)} | ${ratio} | ${goal} | ${goalMet(r)} |`);
  }
  return lines.join('\n');
}

function tryRun(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '?';
  }
}

/** Where and when: the machine (cores, kernel, Node, the temporary folder's filesystem) and its load. */
export function machine(): string {
  const cpus = os.cpus();
  const fs = tryRun('findmnt', ['-n', '-o', 'FSTYPE,SOURCE', '-T', os.tmpdir()]).replace(/\s+/g, ' on ');
  return [
    `${cpus.length} cores (${cpus[0]?.model.trim() ?? '?'})`,
    `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
    `Linux ${os.release()}`,
    `Node ${process.version}`,
    `${tryRun('dpkg', ['--version']).split('\n')[0].replace(/^Debian 'dpkg' package management program version (\S+).*/, 'dpkg $1')}`,
    `${os.tmpdir()} on ${fs}`,
  ].join(', ');
}

function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

async function main(): Promise<number> {
  const only = new Set(process.argv.slice(2));
  const files = (await fsp.readdir(__dirname)).filter((f) => f.endsWith('.js') && f !== 'main.js').sort();
  const names = files.map((f) => f.replace(/\.js$/, ''));
  const unknown = [...only].filter((n) => !names.includes(n));
  if (unknown.length > 0) {
    console.error(`bench: no bench named ${unknown.join(', ')} (there are: ${names.join(', ')})`);
    return 2;
  }
  const started = new Date();
  const loadAtStart = loadAverage();
  console.log(`overmerge bench, ${started.toISOString()}${process.env.OVERMERGE_BENCH_QUICK === '1' ? ' (quick run: fewer repetitions, smaller shapes)' : ''}`);
  console.log(`machine: ${machine()}`);
  console.log(`load average at start: ${loadAtStart}`);
  const rows: Array<{ module: string; result: BenchResult }> = [];
  let failed = 0;
  for (const name of names) {
    if (only.size > 0 && !only.has(name)) continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(__dirname, `${name}.js`)) as Partial<BenchModule>;
    if (typeof mod.run !== 'function') continue;
    const t0 = Date.now();
    try {
      for (const r of await mod.run()) {
        console.log(formatResult(r));
        rows.push({ module: name, result: r });
      }
    } catch (err) {
      failed++;
      console.log(`${name}: failed: ${(err as Error).message}`);
      rows.push({ module: name, result: { name: 'failed', oursMs: 0, note: `skipped: failed: ${(err as Error).message.split('\n')[0]}` } });
    }
    console.log(`(${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  const minutes = ((Date.now() - started.getTime()) / 60_000).toFixed(0);
  console.log('');
  console.log(`## Results, ${started.toISOString().slice(0, 10)}`);
  console.log('');
  console.log(`${machine()}. Load average ${loadAtStart} at start, ${loadAverage()} at the end (${minutes} min).`);
  console.log('Times are medians of the runs in the notes above; ours and the anchor alternate in the same run.');
  console.log('');
  console.log(resultTable(rows));
  return failed === 0 ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`bench: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
