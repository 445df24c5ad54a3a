import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { atomicWrite } from '../fs/atomic-file';
import { packText, type PackedModule } from './module-pack';

/**
 * Writes overmerge-dpkg's start-up pack (module-pack.ts) after the build: the modules that its entry and
 * the actions scripts and apt call most (--print-architecture, --compare-versions, --assert-*) load, found
 * by loading them in a fresh Node, which runs their top level only (an action's own modules, loaded when
 * it runs, stay out). Run by `npm run build`; bin/overmerge-dpkg uses the pack when it is there.
 */

/** dist/src, where this file runs from (dist/src/build). */
export const DIST_SRC = path.join(__dirname, '..');

export const DPKG_PACK_ENTRY = 'cli/dpkg/main.js';
const ALSO = ['cli/dpkg/actions/arch.js', 'cli/dpkg/actions/versions.js', 'cli/dpkg/actions/assert.js'];

/** The file bin/overmerge-dpkg looks for. */
export const DPKG_PACK = path.join(DIST_SRC, 'cli', 'dpkg', 'main.pack.js');

/** The modules below `base` that loading `files` (below `base`) loads, in load order. */
export function startupModules(base: string, files: readonly string[]): string[] {
  const script = `
    const path = require('node:path');
    const base = ${JSON.stringify(base)};
    for (const f of ${JSON.stringify(files)}) require(path.join(base, f));
    process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((k) => k.startsWith(base + path.sep)).map((k) => path.relative(base, k))));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`loading ${files.join(', ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

/** Writes the pack of `base`'s overmerge-dpkg modules to `out`; returns how many it holds. */
export function writeDpkgPack(base: string = DIST_SRC, out: string = DPKG_PACK): number {
  const rels = startupModules(base, [DPKG_PACK_ENTRY, ...ALSO]);
  const modules: PackedModule[] = rels.map((rel) => {
    const file = path.join(base, rel);
    const st = fs.statSync(file);
    return { rel: rel.split(path.sep).join('/'), size: st.size, mtimeMs: st.mtimeMs, source: fs.readFileSync(file, 'utf8') };
  });
  atomicWrite(out, Buffer.from(packText(path.dirname(out), base, DPKG_PACK_ENTRY, modules)));
  return modules.length;
}

if (require.main === module) {
  const n = writeDpkgPack();
  process.stdout.write(`overmerge-dpkg start-up pack: ${n} modules in ${path.relative(process.cwd(), DPKG_PACK)}\n`);
}
