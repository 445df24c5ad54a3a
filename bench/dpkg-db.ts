import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DpkgDb } from '../src/dpkg/dpkg-db';
import type { BenchResult } from './main';

/**
 * The cost of keeping dpkg's database: one state change (an update entry) and a checkpoint (status
 * rewritten), with 100 and 2,000 packages in status. A state change must not grow with status; a
 * checkpoint does, as dpkg's does. Baseline for the checkpoint: dpkg's own incorporation of the 30 pending
 * entries (`dpkg --set-selections` with no input opens the database for writing, which rewrites status,
 * and rewrites it again when it finishes), on a copy of the same admin directory.
 *
 *   node dist/bench/main.js dpkg-db
 */
const SIZES = [100, 2000];
const CHANGES = 100;
const CHECKPOINTS = 5;

export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const n of SIZES) out.push(...(await measure(n)));
  return out;
}

async function measure(n: number): Promise<BenchResult[]> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-bench-dpkgdb-'));
  try {
    const admin = path.join(work, 'var/lib/dpkg');
    fs.mkdirSync(path.join(admin, 'updates'), { recursive: true });
    fs.mkdirSync(path.join(admin, 'info'), { recursive: true });
    fs.writeFileSync(path.join(admin, 'status'), generateStatus(n));
    const statusBytes = fs.statSync(path.join(admin, 'status')).size;

    let t = performance.now();
    const db = DpkgDb.open(admin, { nativeArch: 'amd64' });
    const openMs = performance.now() - t;
    t = performance.now();
    const query = spawnSync('dpkg-query', [`--admindir=${admin}`, '-W', '-f', '.'], { encoding: 'utf8' });
    const queryMs = performance.now() - t;

    const changeMs: number[] = [];
    const changeCpuMs: number[] = [];
    let entryBytes = 0;
    for (let i = 0; i < CHANGES; i++) {
      t = performance.now();
      const cpu = process.cpuUsage();
      db.setStatus({ name: `pkg${i % n}` }, { want: i % 2 ? 'install' : 'hold', flag: 'ok', state: 'installed' });
      const used = process.cpuUsage(cpu);
      changeCpuMs.push((used.user + used.system) / 1000);
      changeMs.push(performance.now() - t);
      entryBytes = fs.statSync(path.join(admin, 'updates', String(i).padStart(4, '0'))).size;
    }
    // Right after a write the files are "racy" (see identity.ts): a refresh compares contents. Once they
    // have settled, it only stats.
    const refreshUs = (): number => {
      const start = performance.now();
      for (let i = 0; i < 100; i++) db.refresh();
      return ((performance.now() - start) / 100) * 1000;
    };
    const racyUs = refreshUs();
    await new Promise((resolve) => setTimeout(resolve, 1200));
    db.refresh();
    const settledUs = refreshUs();

    const copy = path.join(work, 'copy');
    fs.cpSync(path.join(work, 'var'), path.join(copy, 'var'), { recursive: true });
    const checkpointMs: number[] = [];
    let written = 0;
    for (let i = 0; i < CHECKPOINTS; i++) {
      db.setStatus({ name: 'pkg0' }, { want: i % 2 ? 'install' : 'hold', flag: 'ok', state: 'installed' });
      t = performance.now();
      written = db.checkpoint().statusBytes;
      checkpointMs.push(performance.now() - t);
    }
    t = performance.now();
    const dpkg = spawnSync('dpkg', [`--root=${copy}`, '--log=/dev/null', '--set-selections'], { input: '', encoding: 'utf8' });
    const dpkgMs = performance.now() - t;

    const label = `dpkg db, ${n} packages (status ${(statusBytes / 1024).toFixed(0)} KiB)`;
    return [
      {
        name: `${label}: open (parse status)`,
        oursMs: openMs,
        baseline: query.status === 0 ? { name: 'dpkg-query -W (incl. startup)', ms: queryMs } : undefined,
      },
      {
        name: `${label}: one state change`,
        oursMs: median(changeMs),
        note: `median of ${CHANGES}, p90 ${percentile(changeMs, 0.9).toFixed(1)} ms (CPU ${median(changeCpuMs).toFixed(1)} ms, the rest is waiting for the two fsyncs), one update entry of ${entryBytes} bytes written + fsync of it and of updates/; refresh when unchanged: ${settledUs.toFixed(0)} µs, ${racyUs.toFixed(0)} µs within a second of a write`,
      },
      {
        name: `${label}: checkpoint`,
        oursMs: median(checkpointMs),
        baseline: dpkg.status === 0 ? { name: 'dpkg --set-selections (incorporates, writes status twice, incl. startup)', ms: dpkgMs } : undefined,
        note: `median of ${CHECKPOINTS}, ${written} bytes written (status-new) + fsync, status-old link, rename, fsync of the directory`,
      },
    ];
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  return percentile(xs, 0.5);
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
}

/** A status of `n` installed packages shaped like Debian's (about 900 bytes a stanza, as on a real system). */
export function generateStatus(n: number): string {
  const stanzas: string[] = [];
  const names = Array.from({ length: n }, (_, i) => `pkg${i}`).sort();
  for (const name of names) {
    const i = Number(name.slice(3));
    const conffiles = i % 5 === 0 ? `Conffiles:\n /etc/${name}/${name}.conf ${'0123456789abcdef'.repeat(2)}\n /etc/default/${name} ${'fedcba9876543210'.repeat(2)}\n` : '';
    stanzas.push(
      `Package: ${name}\nStatus: install ok installed\nPriority: optional\nSection: utils\nInstalled-Size: ${100 + i}\n` +
        `Maintainer: Debian Maintainers <maint-${i % 37}@lists.debian.org>\nArchitecture: amd64\n` +
        (i % 7 === 0 ? 'Multi-Arch: foreign\n' : '') +
        `Source: src${Math.floor(i / 3)}\nVersion: 1.${i}.0-${(i % 4) + 1}\n` +
        `Depends: libc6 (>= 2.36), libssl3 (>= 3.0.0), zlib1g (>= 1:1.2.0), libpkg${(i + 1) % n} (= 1.${(i + 1) % n}.0-1), debconf (>= 0.5) | debconf-2.0\n` +
        conffiles +
        `Description: synthetic package number ${i} for the dpkg database benchmark\n` +
        ' This package exists only to give status the size and shape of a real one:\n' +
        ' several fields, relations with versions and alternatives, some conffiles,\n' +
        ' and a long description over a few lines, as Debian packages have.\n .\n' +
        ` It is number ${i}.\nHomepage: https://example.org/${name}\n`,
    );
  }
  return stanzas.join('\n') + '\n';
}
