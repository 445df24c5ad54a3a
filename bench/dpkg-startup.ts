import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { BenchResult } from './main';

/**
 * `overmerge-dpkg --print-architecture` against `dpkg --print-architecture`: apt runs it many times, so
 * its start-up is the whole cost. Runs alternate (so both see the same machine load); the median of 20
 * each is reported, with bare `node -e 0` as the floor Node itself sets.
 */
const RUNS = 20;
const BIN = path.resolve(__dirname, '..', '..', 'bin', 'overmerge-dpkg');

function timeMs(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export async function run(): Promise<BenchResult[]> {
  const haveDpkg = spawnSync('dpkg', ['--print-architecture']).status === 0;
  const ours: number[] = [];
  const dpkg: number[] = [];
  const node: number[] = [];
  const nodeBare: number[] = [];
  // Node 20 reads a NODE_EXTRA_CA_CERTS bundle before any JavaScript runs; the bin, run as a program (as
  // apt runs its dpkg), starts Node without it (see bin/overmerge-dpkg). Bare Node is timed both ways.
  const bare: NodeJS.ProcessEnv = { ...process.env };
  delete bare.NODE_EXTRA_CA_CERTS;
  // One warm-up each (the compile cache, where Node has one, is filled by the first run).
  timeMs(BIN, ['--print-architecture']);
  for (let i = 0; i < RUNS; i++) {
    ours.push(timeMs(BIN, ['--print-architecture']));
    if (haveDpkg) dpkg.push(timeMs('dpkg', ['--print-architecture']));
    node.push(timeMs(process.execPath, ['-e', '0']));
    nodeBare.push(timeMs(process.execPath, ['-e', '0'], bare));
  }
  return [
    {
      name: 'dpkg-startup (--print-architecture, median of 20)',
      oursMs: median(ours),
      baseline: haveDpkg ? { name: 'dpkg', ms: median(dpkg) } : undefined,
      goal: { atMost: 100 },
      note: `node -e 0 alone: ${median(node).toFixed(0)} ms${process.env.NODE_EXTRA_CA_CERTS === undefined ? '' : `, without NODE_EXTRA_CA_CERTS ${median(nodeBare).toFixed(0)} ms`}; load average ${require('node:os').loadavg()[0].toFixed(1)}`,
    },
  ];
}
