import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

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

async function main(): Promise<number> {
  const only = process.argv[2];
  const files = (await fsp.readdir(__dirname)).filter((f) => f.endsWith('.js') && f !== 'main.js').sort();
  let failed = 0;
  for (const file of files) {
    const name = file.replace(/\.js$/, '');
    if (only && only !== name) continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(__dirname, file)) as Partial<BenchModule>;
    if (typeof mod.run !== 'function') continue;
    try {
      for (const r of await mod.run()) console.log(formatResult(r));
    } catch (err) {
      failed++;
      console.log(`${name}: failed: ${(err as Error).message}`);
    }
  }
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
