import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildDeb } from '../archive/build';
import { atomicWrite } from '../fs/atomic-file';
import { packText, type BareRequest, type PackedModule } from './module-pack';
import { DIST_SRC } from './write-dpkg-pack';

/**
 * Writes the start-up pack of `overmerge` itself (module-pack.ts) and its V8 code cache (code-cache.ts),
 * after the build. What a small transaction loads is found by running one: a one-file package installed
 * and removed in a temporary root by a fresh Node (the commands load their engine when they run, so a
 * list of files would miss most of it); the pack holds those modules; a second fresh Node runs the same
 * through the pack and keeps V8's compiled code of it, the functions that ran included. If the second
 * run fails, no cache is written (and an old one is removed): the pack works without it.
 */

export const MAIN_PACK_ENTRY = 'cli/main.js';
/** The files bin/overmerge looks for. */
export const MAIN_PACK = path.join(DIST_SRC, 'cli', 'main.pack.js');
export const MAIN_PACK_CACHE = path.join(DIST_SRC, 'cli', 'main.pack.cache');

export interface MainPackResult {
  modules: number;
  /** Bytes of the cache written, or why there is none. */
  cache: number | string;
}

export async function writeMainPack(base: string = DIST_SRC, out: string = MAIN_PACK, cacheOut: string = MAIN_PACK_CACHE): Promise<MainPackResult> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-pack-'));
  try {
    const deb = await trainingPackage(work);
    // The modules below `base` it loaded, and the packages' (plain JavaScript, in a node_modules folder)
    // that those asked for by name, with each such request as Node resolved it.
    const loaded = train(`(recordBare(), require(${JSON.stringify(path.join(base, MAIN_PACK_ENTRY))}).main)`, work, deb, `
      const base = ${JSON.stringify(base)};
      const ours = (k) => k.startsWith(base + path.sep) && k.endsWith('.js');
      const theirs = (k) => k.includes(path.sep + 'node_modules' + path.sep) && k.endsWith('.js');
      const files = Object.keys(require.cache).filter((k) => ours(k) || theirs(k));
      const packed = new Set(files);
      const bare = [...new Set(bareRequests.filter(([from, , to]) => packed.has(from) && packed.has(to) && theirs(to)).map((b) => JSON.stringify(b)))].map((b) => JSON.parse(b));
      out(JSON.stringify({ files, bare }));`);
    if (typeof loaded !== 'string' || !loaded.startsWith('{')) throw new Error(`a small transaction failed while finding its modules: ${String(loaded)}`);
    const found = JSON.parse(loaded) as { files: string[]; bare: Array<[string, string, string]> };
    const relOf = (file: string): string => path.relative(base, file).split(path.sep).join('/');
    const modules: PackedModule[] = found.files.map((file) => {
      const st = fs.statSync(file);
      return { rel: relOf(file), size: st.size, mtimeMs: st.mtimeMs, source: fs.readFileSync(file, 'utf8') };
    });
    const bare: BareRequest[] = found.bare.map(([from, request, to]) => [relOf(from), request, relOf(to)]);
    atomicWrite(out, Buffer.from(packText(path.dirname(out), base, MAIN_PACK_ENTRY, modules, bare)));
    fs.rmSync(cacheOut, { force: true });
    const codeCache = require.resolve('./code-cache');
    const trained = train(`(loadedPack = require(${JSON.stringify(codeCache)}).loadPack(${JSON.stringify(out)}, '', { train: true })).exports.main`, work, deb, `
      const { cacheFileBytes, packIdOf } = require(${JSON.stringify(codeCache)});
      const id = packIdOf(fs.readFileSync(${JSON.stringify(out)}, 'utf8'));
      // V8 refuses a cache made under other flags, and a writer sets two of its heap flags for the
      // transaction (engine/memory-bounds.ts): back to V8's defaults, as a new process starts.
      require('node:v8').setFlagsFromString('--heap-growing-percent=0');
      require('node:v8').setFlagsFromString('--semi-space-growth-factor=2');
      fs.writeFileSync(${JSON.stringify(`${cacheOut}.new`)}, cacheFileBytes(id, loadedPack.script));
      out('cached');`);
    if (trained !== 'cached') return { modules: modules.length, cache: `training failed: ${trained}` };
    fs.renameSync(`${cacheOut}.new`, cacheOut);
    return { modules: modules.length, cache: fs.statSync(cacheOut).size };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(`${cacheOut}.new`, { force: true });
  }
}

/** A package of one file, as small as the transactions the pack is for. */
async function trainingPackage(work: string): Promise<string> {
  const tree = path.join(work, 'tree');
  fs.mkdirSync(path.join(tree, 'DEBIAN'), { recursive: true });
  fs.mkdirSync(path.join(tree, 'usr', 'share', 'overmerge-pack'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'DEBIAN', 'control'), 'Package: overmerge-pack\nVersion: 1.0\nArchitecture: all\nMaintainer: overmerge <overmerge@localhost>\nDescription: trains the start-up pack\n');
  fs.writeFileSync(path.join(tree, 'usr', 'share', 'overmerge-pack', 'README'), 'one file\n');
  return (await buildDeb(tree, path.join(work, 'pack.deb'), { compression: 'gzip', sourceDateEpoch: 0 })).path;
}

/**
 * In a fresh Node: `main` (an expression) runs `install` then `remove` of `deb` in a new root below
 * `work`, then `after` (which calls out(text)); returns what it put out, or the error.
 */
function train(main: string, work: string, deb: string, after: string): string {
  const root = fs.mkdtempSync(path.join(work, 'root-'));
  const script = `
    const fs = require('node:fs');
    const path = require('node:path');
    const out = (s) => fs.writeSync(3, s);
    let loadedPack;
    // [requesting file, request, resolved file] of each request by a package's name.
    const bareRequests = [];
    const recordBare = () => {
      const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, parent, ...rest) {
        const file = resolve.call(this, request, parent, ...rest);
        if (!request.startsWith('.') && !path.isAbsolute(request) && !Module.isBuiltin(request) && parent && parent.filename) bareRequests.push([parent.filename, request, file]);
        return file;
      };
    };
    (async () => {
      const main = ${main};
      const quiet = { stdout: { write() { return true; } }, stderr: process.stderr, isTTY: false, stdinIsTTY: false };
      for (const argv of [['install', ${JSON.stringify(deb)}], ['remove', 'overmerge-pack']]) {
        const code = await main(['--root', ${JSON.stringify(root)}, '--quiet', ...argv], quiet);
        if (code !== 0) throw new Error(argv[0] + ' exited ' + code);
      }
      ${after}
    })().catch((err) => { out(String(err && err.message)); });`;
  // Nothing of the caller's environment that changes what overmerge does (its debug switches).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OVERMERGE_')));
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...env, LC_ALL: 'C' }, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  const said = r.output[3]?.toString() ?? '';
  return said || `exit status ${r.status}: ${r.stderr.toString().trim().split('\n').slice(-3).join(' / ')}`;
}

if (require.main === module) {
  writeMainPack().then(
    (r) => {
      const cache = typeof r.cache === 'number' ? `, V8 code cache ${Math.round(r.cache / 1024)} KiB` : ` (no code cache: ${r.cache})`;
      process.stdout.write(`overmerge start-up pack: ${r.modules} modules in ${path.relative(process.cwd(), MAIN_PACK)}${cache}\n`);
    },
    (err: unknown) => {
      // The bin works without a pack: the build goes on, saying why there is none.
      fs.rmSync(MAIN_PACK, { force: true });
      fs.rmSync(MAIN_PACK_CACHE, { force: true });
      process.stdout.write(`overmerge start-up pack: none (${err instanceof Error ? err.message : String(err)})\n`);
    },
  );
}
