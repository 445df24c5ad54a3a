import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildDeb } from '../archive/build';
import { nativeArchOf } from '../dpkg/native-arch';
import { atomicWrite } from '../fs/atomic-file';
import { packText, type BareRequest, type PackedModule } from './module-pack';

/**
 * How a start-up pack (module-pack.ts) and its V8 code cache (code-cache.ts) are made, shared by the packs
 * `npm run build` writes for `overmerge` (write-main-pack.ts, write-read-pack.ts): what a command loads is
 * found by running it in a fresh Node (the commands load their engine when they run, so a list of files
 * would miss most of it); the pack holds those modules; a second fresh Node runs the same through the
 * pack and keeps V8's compiled code of it, the functions that ran included. If the second run fails, no
 * cache is written (and an old one is removed): the pack works without it.
 */

export interface PackResult {
  modules: number;
  /** Bytes of the cache written, or why there is none. */
  cache: number | string;
}

/** The modules a run loaded, and the requests by a package's name among them: [from, request, to]. */
export interface Found {
  files: string[];
  bare: Array<[string, string, string]>;
}

/** What a training run's `main` expression loads the pack with (into `loadedPack`, which cacheAfter reads). */
export const CODE_CACHE = require.resolve('./code-cache');
/** Where a training run finds how to set V8's tier-up budget back (cacheAfter). */
const TIER_UP = require.resolve('../bootstrap/tier-up');

/** The expression that loads `pack` for training, the CLI's main being its entry's. */
export function trainedMain(pack: string): string {
  return `(loadedPack = require(${JSON.stringify(CODE_CACHE)}).loadPack(${JSON.stringify(pack)}, '', { train: true })).exports.main`;
}

export function relFrom(base: string, file: string): string {
  return path.relative(base, file).split(path.sep).join('/');
}

/**
 * The modules below `base` that the commands `argvs`, run by `main` in `root` (see train), loaded (but those of
 * `except`), and the packages' (plain JavaScript, in a node_modules folder) that those asked for by name,
 * with each such request as Node resolved it.
 */
export function findModules(main: string, root: string | undefined, argvs: readonly string[][], base: string, except: readonly string[]): Found {
  const loaded = train(`(recordBare(), ${main})`, root, argvs, `
      const base = ${JSON.stringify(base)};
      const except = new Set(${JSON.stringify(except)});
      const ours = (k) => k.startsWith(base + path.sep) && k.endsWith('.js');
      const theirs = (k) => k.includes(path.sep + 'node_modules' + path.sep) && k.endsWith('.js');
      const files = Object.keys(require.cache).filter((k) => (ours(k) || theirs(k)) && !except.has(k));
      const packed = new Set(files);
      const bare = [...new Set(bareRequests.filter(([from, , to]) => packed.has(from) && packed.has(to) && theirs(to)).map((b) => JSON.stringify(b)))].map((b) => JSON.parse(b));
      out(JSON.stringify({ files, bare }));`);
  if (typeof loaded !== 'string' || !loaded.startsWith('{')) throw new Error(`${argvs.map((a) => a[0]).join(', ')} failed while finding their modules: ${String(loaded)}`);
  return JSON.parse(loaded) as Found;
}

/** What a training run does after the commands to write the cache of `pack` to `to`. */
export function cacheAfter(pack: string, to: string): string {
  return `
      const { cacheFileBytes, packIdOf } = require(${JSON.stringify(CODE_CACHE)});
      const id = packIdOf(fs.readFileSync(${JSON.stringify(pack)}, 'utf8'));
      // V8 refuses a cache made under other flags, and the engine sets two of its heap flags when it
      // loads (engine/memory-bounds.ts), a bootstrap its tier-up budget (bootstrap/tier-up.ts): back to
      // V8's defaults, as a new process starts.
      require('node:v8').setFlagsFromString('--heap-growing-percent=0');
      require('node:v8').setFlagsFromString('--semi-space-growth-factor=2');
      require(${JSON.stringify(TIER_UP)}).restoreBudget();
      fs.writeFileSync(${JSON.stringify(to)}, cacheFileBytes(id, loadedPack.script));
      out('cached');`;
}

/**
 * Writes the pack of `found` to `out`, then its cache to `cacheOut` from the run `trainCache` makes of
 * it (which writes `${cacheOut}.new`). If that run fails, no cache is written (and an old one is removed):
 * the pack works without it.
 */
export function writePack(base: string, out: string, cacheOut: string, entry: string, found: Found, trainCache: (pack: string) => string): PackResult {
  const modules: PackedModule[] = found.files.map((file) => {
    const st = fs.statSync(file);
    return { rel: relFrom(base, file), size: st.size, mtimeMs: st.mtimeMs, source: fs.readFileSync(file, 'utf8') };
  });
  const bare: BareRequest[] = found.bare.map(([from, request, to]) => [relFrom(base, from), request, relFrom(base, to)]);
  atomicWrite(out, Buffer.from(packText(path.dirname(out), base, entry, modules, bare)));
  fs.rmSync(cacheOut, { force: true });
  try {
    const trained = trainCache(out);
    if (trained !== 'cached') return { modules: modules.length, cache: `training failed: ${trained}` };
    fs.renameSync(`${cacheOut}.new`, cacheOut);
  } finally {
    fs.rmSync(`${cacheOut}.new`, { force: true });
  }
  return { modules: modules.length, cache: fs.statSync(cacheOut).size };
}

/** A new empty root below `work`. */
export function newRoot(work: string): string {
  return fs.mkdtempSync(path.join(work, 'root-'));
}

/** A pack a writer makes: the name the build's line gives it, its file, its code cache, its result. */
export interface BuiltPack<R> {
  what: string;
  file: string;
  cache: string;
  result: (r: R) => PackResult;
}

/**
 * A pack writer run as a step of the build: a line for each pack it wrote; when it fails, the packs'
 * files removed and one line saying why there is none. The bin works without a pack, so the build goes on.
 */
export function buildPacks<R>(write: () => Promise<R>, packs: ReadonlyArray<BuiltPack<R>>): void {
  write().then(
    (r) => {
      for (const p of packs) process.stdout.write(packLine(p.what, p.file, p.result(r)));
    },
    (err: unknown) => {
      for (const p of packs) for (const f of [p.file, p.cache]) fs.rmSync(f, { force: true });
      process.stdout.write(`${packs[0].what}: none (${err instanceof Error ? err.message : String(err)})\n`);
    },
  );
}

/** The line the build prints for the pack `file` it wrote. */
function packLine(what: string, file: string, r: PackResult): string {
  const cache = typeof r.cache === 'number' ? `, V8 code cache ${Math.round(r.cache / 1024)} KiB` : ` (no code cache: ${r.cache})`;
  return `${what}: ${r.modules} modules in ${path.relative(process.cwd(), file)}${cache}\n`;
}

/** The one-file package the training runs install, and its name. */
export const TRAINING_PACKAGE = 'overmerge-pack';
export const TRAINING_FILE = '/usr/share/overmerge-pack/README';

/**
 * A package of one file, as small as the transactions the packs are for. `essential`: an Essential: yes
 * package of this machine's architecture, a package set a bootstrap takes (it refuses a set without an
 * architecture or an Essential package).
 */
export async function trainingPackage(work: string, compression: 'gzip' | 'xz', kind: 'plain' | 'essential' = 'plain'): Promise<string> {
  const tree = path.join(work, `tree-${kind}`);
  fs.mkdirSync(path.join(tree, 'DEBIAN'), { recursive: true });
  fs.mkdirSync(path.join(tree, path.dirname(TRAINING_FILE)), { recursive: true });
  const fields = kind === 'essential' ? `Architecture: ${nativeArchOf()}\nEssential: yes\n` : 'Architecture: all\n';
  fs.writeFileSync(path.join(tree, 'DEBIAN', 'control'), `Package: ${TRAINING_PACKAGE}\nVersion: 1.0\n${fields}Maintainer: overmerge <overmerge@localhost>\nDescription: trains the start-up pack\n`);
  fs.writeFileSync(path.join(tree, TRAINING_FILE), 'one file\n');
  return (await buildDeb(tree, path.join(work, `pack-${compression}-${kind}.deb`), { compression, sourceDateEpoch: 0 })).path;
}

/**
 * In a fresh Node: `main` (an expression) runs the commands `argvs` in turn in `root` (each must exit 0),
 * then `after` (which calls out(text)); returns what it put out, or the error. Without `root` the commands
 * are run as given (a bootstrap takes its root as DIR, and no --root).
 */
export function train(main: string, root: string | undefined, argvs: readonly string[][], after: string): string {
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
      for (const argv of ${JSON.stringify(argvs)}) {
        const code = await main([...${JSON.stringify(root === undefined ? [] : ['--root', root])}, '--quiet', ...argv], quiet);
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
