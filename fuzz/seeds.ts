import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { hostileCases } from '../fixtures/hostile/cases';
import { ArReader } from '../src/archive/ar';
import { buildDeb } from '../src/archive/build';
import type { Compression } from '../src/archive/compression';
import { compressionOfSuffix } from '../src/archive/compression';
import { FIXTURE_EPOCH, FIXTURE_PACKAGES, fixtureSource } from '../test/helpers/fixtures';
import { realDebs } from '../test/helpers/real-debs';

/**
 * The archives mutations start from, written as files into a folder: the fixture packages (built by the
 * project's own builder, one of them in every compression), the hostile corpus (its heavy cases left
 * out), and the smallest few real Debian archives of each data compression, when the cache has them.
 */
export interface SeedOptions {
  dir: string;
  /** Where the hostile corpus's "outside the root" links point (default '/'). */
  outside?: string;
  /** How many real archives of each data compression (default 2; 0 for none). */
  realPerCompression?: number;
  /** Whether to add the hostile corpus (default true). */
  hostile?: boolean;
}

export interface SeedSet {
  files: string[];
  /** Real archives by data compression. */
  real: Partial<Record<Compression, string[]>>;
  /** Why real archives are missing, when they are: for the loud line the caller prints. */
  missing: string[];
}

const REAL_COMPRESSIONS: Compression[] = ['gzip', 'xz', 'zstd'];

export async function writeSeeds(options: SeedOptions): Promise<SeedSet> {
  await fsp.mkdir(options.dir, { recursive: true });
  const files: string[] = [];
  for (const name of FIXTURE_PACKAGES) {
    const out = path.join(options.dir, `fixture-${name}.deb`);
    await buildDeb(fixtureSource(name), out, { compression: 'gzip', sourceDateEpoch: FIXTURE_EPOCH });
    files.push(out);
  }
  for (const c of ['xz', 'zstd', 'none'] as const) {
    const out = path.join(options.dir, `fixture-hello-1.0-${c}.deb`);
    await buildDeb(fixtureSource('hello-1.0'), out, { compression: c, sourceDateEpoch: FIXTURE_EPOCH });
    files.push(out);
  }
  if (options.hostile ?? true) {
    for (const c of hostileCases({ outside: options.outside })) {
      if (c.heavy) continue;
      const out = path.join(options.dir, `hostile-${c.id}.deb`);
      await fsp.writeFile(out, c.deb);
      files.push(out);
    }
  }
  const { real, missing } = await smallestReal(options.realPerCompression ?? 2);
  for (const list of Object.values(real)) files.push(...list);
  return { files, real, missing };
}

async function dataCompression(file: string): Promise<Compression | undefined> {
  let ar: ArReader | undefined;
  try {
    ar = await ArReader.open(file);
    for (let m = await ar.next(); m !== null; m = await ar.next()) {
      if (m.name.startsWith('data.tar')) return compressionOfSuffix(m.name.slice('data.tar'.length));
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    await ar?.close();
  }
}

async function smallestReal(perCompression: number): Promise<Pick<SeedSet, 'real' | 'missing'>> {
  if (perCompression <= 0) return { real: {}, missing: [] };
  const set = await realDebs();
  if ('skip' in set) return { real: {}, missing: [set.skip] };
  const sized = await Promise.all(set.files.map(async (f) => ({ f, size: (await fsp.stat(f).catch(() => undefined))?.size })));
  const bySize = sized.filter((s): s is { f: string; size: number } => s.size !== undefined).sort((a, b) => a.size - b.size);
  const real: Partial<Record<Compression, string[]>> = {};
  for (const { f } of bySize) {
    if (REAL_COMPRESSIONS.every((c) => (real[c]?.length ?? 0) >= perCompression)) break;
    const c = await dataCompression(f);
    if (c === undefined || c === 'none' || (real[c]?.length ?? 0) >= perCompression) continue;
    (real[c] ??= []).push(f);
  }
  const missing = REAL_COMPRESSIONS.filter((c) => !real[c]?.length).map(
    (c) => `no real Debian archive with ${c} data in ${set.dir} (${set.files.length} archives); ${c} is covered only by recompressed seeds`,
  );
  return { real, missing };
}
