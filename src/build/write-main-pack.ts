import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildDeb } from '../archive/build';
import { atomicWrite } from '../fs/atomic-file';
import { lazyPackCache, XZ_PACK } from './lazy-pack';
import { packText, type BareRequest, type PackedModule } from './module-pack';
import { DIST_SRC } from './write-dpkg-pack';

/**
 * Writes the start-up pack of `overmerge` itself (module-pack.ts) and its V8 code cache (code-cache.ts),
 * after the build. What a small transaction loads is found by running one: a one-file package installed
 * and removed in a temporary root by a fresh Node (the commands load their engine when they run, so a
 * list of files would miss most of it); the pack holds those modules; a second fresh Node runs the same
 * through the pack and keeps V8's compiled code of it, the functions that ran included. If the second
 * run fails, no cache is written (and an old one is removed): the pack works without it.
 *
 * Then the same for the xz pack (lazy-pack.ts), from a one-file xz install: the modules it loads beyond
 * the start-up pack's, in a pack of their own that the first xz decoder loads, so gzip installs and
 * removes do not read them.
 */

export const MAIN_PACK_ENTRY = 'cli/main.js';
/** The files bin/overmerge looks for. */
export const MAIN_PACK = path.join(DIST_SRC, 'cli', 'main.pack.js');
export const MAIN_PACK_CACHE = path.join(DIST_SRC, 'cli', 'main.pack.cache');

export interface PackResult {
  modules: number;
  /** Bytes of the cache written, or why there is none. */
  cache: number | string;
}

export interface MainPackResult extends PackResult {
  /** The xz pack (lazy-pack.ts): what an xz archive adds, loaded when the first xz member is decoded. */
  xz: PackResult;
}

export async function writeMainPack(base: string = DIST_SRC, out: string = MAIN_PACK, cacheOut: string = MAIN_PACK_CACHE): Promise<MainPackResult> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-pack-'));
  // Where lazy-pack.ts looks for the xz pack, below `base` as it is below dist/src.
  const xzOut = path.join(base, path.relative(DIST_SRC, XZ_PACK));
  const xzCacheOut = lazyPackCache(xzOut);
  try {
    // No xz pack while training: the runs below find what loads from the files.
    fs.rmSync(xzOut, { force: true });
    fs.rmSync(xzCacheOut, { force: true });
    const deb = await trainingPackage(work, 'gzip');
    const entry = path.join(base, MAIN_PACK_ENTRY);
    const found = findModules(`require(${JSON.stringify(entry)}).main`, work, deb, base, []);
    const main = writePack(base, out, cacheOut, MAIN_PACK_ENTRY, found, (pack) =>
      train(`(loadedPack = require(${JSON.stringify(CODE_CACHE)}).loadPack(${JSON.stringify(pack)}, '', { train: true })).exports.main`, work, deb, cacheAfter(pack, `${cacheOut}.new`)),
    );
    // The xz pack: what an xz install loads beyond the start-up pack, its entry lzma-native's package.
    const xzDeb = await trainingPackage(work, 'xz');
    const xzFound = findModules(`require(${JSON.stringify(entry)}).main`, work, xzDeb, base, found.files);
    const lzmaEntry = xzFound.files.find((f) => f.endsWith(`${path.sep}node_modules${path.sep}lzma-native${path.sep}index.js`));
    let xz: PackResult;
    if (lzmaEntry === undefined) xz = { modules: 0, cache: 'an xz install did not load lzma-native' };
    else {
      xz = writePack(base, xzOut, xzCacheOut, relFrom(base, lzmaEntry), xzFound, (pack) =>
        // Loaded before the command, as lazy-pack.ts would load it, so the command's decoder runs its code.
        train(`((loadedPack = require(${JSON.stringify(CODE_CACHE)}).loadPack(${JSON.stringify(pack)}, '', { train: true })), require(${JSON.stringify(entry)}).main)`, work, xzDeb, cacheAfter(pack, `${xzCacheOut}.new`)),
      );
    }
    return { ...main, xz };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(`${cacheOut}.new`, { force: true });
    fs.rmSync(`${xzCacheOut}.new`, { force: true });
  }
}

const CODE_CACHE = require.resolve('./code-cache');

interface Found {
  files: string[];
  bare: Array<[string, string, string]>;
}

function relFrom(base: string, file: string): string {
  return path.relative(base, file).split(path.sep).join('/');
}

/**
 * The modules below `base` a small transaction run by `main` loaded (but those of `except`), and the
 * packages' (plain JavaScript, in a node_modules folder) that those asked for by name, with each such
 * request as Node resolved it.
 */
function findModules(main: string, work: string, deb: string, base: string, except: readonly string[]): Found {
  const loaded = train(`(recordBare(), ${main})`, work, deb, `
      const base = ${JSON.stringify(base)};
      const except = new Set(${JSON.stringify(except)});
      const ours = (k) => k.startsWith(base + path.sep) && k.endsWith('.js');
      const theirs = (k) => k.includes(path.sep + 'node_modules' + path.sep) && k.endsWith('.js');
      const files = Object.keys(require.cache).filter((k) => (ours(k) || theirs(k)) && !except.has(k));
      const packed = new Set(files);
      const bare = [...new Set(bareRequests.filter(([from, , to]) => packed.has(from) && packed.has(to) && theirs(to)).map((b) => JSON.stringify(b)))].map((b) => JSON.parse(b));
      out(JSON.stringify({ files, bare }));`);
  if (typeof loaded !== 'string' || !loaded.startsWith('{')) throw new Error(`a small transaction failed while finding its modules: ${String(loaded)}`);
  return JSON.parse(loaded) as Found;
}

/** What a training run does after the command to write the cache of `pack` to `to`. */
function cacheAfter(pack: string, to: string): string {
  return `
      const { cacheFileBytes, packIdOf } = require(${JSON.stringify(CODE_CACHE)});
      const id = packIdOf(fs.readFileSync(${JSON.stringify(pack)}, 'utf8'));
      // V8 refuses a cache made under other flags, and a writer sets two of its heap flags for the
      // transaction (engine/memory-bounds.ts): back to V8's defaults, as a new process starts.
      require('node:v8').setFlagsFromString('--heap-growing-percent=0');
      require('node:v8').setFlagsFromString('--semi-space-growth-factor=2');
      fs.writeFileSync(${JSON.stringify(to)}, cacheFileBytes(id, loadedPack.script));
      out('cached');`;
}

/**
 * Writes the pack of `found` to `out`, then its cache to `cacheOut` from the run `trainCache` makes of
 * it (which writes `${cacheOut}.new`). If that run fails, no cache is written (and an old one is removed):
 * the pack works without it.
 */
function writePack(base: string, out: string, cacheOut: string, entry: string, found: Found, trainCache: (pack: string) => string): PackResult {
  const modules: PackedModule[] = found.files.map((file) => {
    const st = fs.statSync(file);
    return { rel: relFrom(base, file), size: st.size, mtimeMs: st.mtimeMs, source: fs.readFileSync(file, 'utf8') };
  });
  const bare: BareRequest[] = found.bare.map(([from, request, to]) => [relFrom(base, from), request, relFrom(base, to)]);
  atomicWrite(out, Buffer.from(packText(path.dirname(out), base, entry, modules, bare)));
  fs.rmSync(cacheOut, { force: true });
  const trained = trainCache(out);
  if (trained !== 'cached') return { modules: modules.length, cache: `training failed: ${trained}` };
  fs.renameSync(`${cacheOut}.new`, cacheOut);
  return { modules: modules.length, cache: fs.statSync(cacheOut).size };
}

/** A package of one file, as small as the transactions the pack is for. */
async function trainingPackage(work: string, compression: 'gzip' | 'xz'): Promise<string> {
  const tree = path.join(work, 'tree');
  fs.mkdirSync(path.join(tree, 'DEBIAN'), { recursive: true });
  fs.mkdirSync(path.join(tree, 'usr', 'share', 'overmerge-pack'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'DEBIAN', 'control'), 'Package: overmerge-pack\nVersion: 1.0\nArchitecture: all\nMaintainer: overmerge <overmerge@localhost>\nDescription: trains the start-up pack\n');
  fs.writeFileSync(path.join(tree, 'usr', 'share', 'overmerge-pack', 'README'), 'one file\n');
  return (await buildDeb(tree, path.join(work, `pack-${compression}.deb`), { compression, sourceDateEpoch: 0 })).path;
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
      const xzCache = typeof r.xz.cache === 'number' ? `, V8 code cache ${Math.round(r.xz.cache / 1024)} KiB` : ` (no code cache: ${r.xz.cache})`;
      process.stdout.write(`overmerge xz pack: ${r.xz.modules} modules in ${path.relative(process.cwd(), XZ_PACK)}${xzCache}\n`);
    },
    (err: unknown) => {
      // The bin works without a pack: the build goes on, saying why there is none.
      fs.rmSync(MAIN_PACK, { force: true });
      fs.rmSync(MAIN_PACK_CACHE, { force: true });
      fs.rmSync(XZ_PACK, { force: true });
      fs.rmSync(lazyPackCache(XZ_PACK), { force: true });
      process.stdout.write(`overmerge start-up pack: none (${err instanceof Error ? err.message : String(err)})\n`);
    },
  );
}
