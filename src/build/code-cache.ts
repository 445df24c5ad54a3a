import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';
import * as zlib from 'node:zlib';

/**
 * Loading a module pack (module-pack.ts) with V8's code cache: the pack's functions compiled once, when
 * `npm run build` trains it (pack-training.ts), and read back by each run instead of parsed and compiled
 * again, on every Node. Node >= 22.1 has a compile cache of its own (module.enableCompileCache, which
 * bin/overmerge turns on for what is not packed), but it keeps a module's code as compiled right after
 * loading: its top level, not the functions a transaction then runs, which V8 compiles lazily each run
 * (on Node 26 a one-file install took 417 M instructions with it, 314 M with this cache).
 *
 * The cache is only ever a faster way to the same code: it is used when its header names this pack (the
 * id the build wrote into it), this Node, V8 and CPU architecture, and its bytes hash to what the header
 * says. V8 itself checks its version and flags, but not its payload: a damaged cache it accepts can crash
 * the process. Anything else (missing, stale, from another Node, damaged, refused by V8) and the pack is
 * compiled from its text as Node would.
 *
 * The payload's checksum is zlib's CRC-32 where Node has it (>= 20.15, 22.2): it finds damage as well as
 * a SHA-1 would, and zlib is loaded anyway (gzip), where node:crypto was loaded for this alone before the
 * command needed it and SHA-1 of the 700 KiB cache was 2 % of a small transaction's instructions.
 */

/** The first line of a cache file: what it was made from, and the checksum of the bytes after the line. */
export interface CacheHeader {
  format: 2;
  pack: string;
  node: string;
  v8: string;
  arch: string;
  /** `crc32:HEX`, or `sha1:HEX` on a Node without zlib.crc32 (the cache is only ever read by the Node that made it). */
  sum: string;
}

/** How a pack was loaded: with the cache, or without one (none, or not usable, or refused by V8). */
export type CacheUse = 'used' | 'unusable' | 'rejected';

export interface LoadedPack {
  exports: unknown;
  cache: CacheUse;
  /** The compiled pack, to make a cache from once it has run (training). */
  script?: vm.Script;
}

/** The id a pack carries on its second line (module-pack.ts), or undefined. */
export function packIdOf(source: string): string | undefined {
  const at = source.indexOf('\n// pack-id: ');
  if (at < 0 || at > 100) return undefined;
  const id = source.slice(at + 13, source.indexOf('\n', at + 1));
  return /^[0-9a-f]{40}$/.test(id) ? id : undefined;
}

/** The cache bytes for `id` from `cacheFile`, or undefined when it is missing or not this pack's, this Node's, intact. */
export function readCache(cacheFile: string, id: string | undefined): Buffer | undefined {
  if (id === undefined) return undefined;
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  const nl = bytes.indexOf(10);
  if (nl < 0 || nl > 1024) return undefined;
  let header: Partial<CacheHeader>;
  try {
    header = JSON.parse(bytes.subarray(0, nl).toString('utf8')) as Partial<CacheHeader>;
  } catch {
    return undefined;
  }
  const data = bytes.subarray(nl + 1);
  const want = headerFor(id, data);
  for (const k of ['format', 'pack', 'node', 'v8', 'arch', 'sum'] as const) if (header[k] !== want[k]) return undefined;
  return data;
}

function headerFor(pack: string, data: Buffer): CacheHeader {
  return { format: 2, pack, node: process.version, v8: process.versions.v8, arch: process.arch, sum: checksum(data) };
}

function checksum(data: Buffer): string {
  const crc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
  if (typeof crc32 === 'function') return `crc32:${crc32(data).toString(16)}`;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return `sha1:${(require('node:crypto') as typeof import('node:crypto')).createHash('sha1').update(data).digest('hex')}`;
}

/** The bytes of a cache file for a pack of `id` whose compiled form is `script`. */
export function cacheFileBytes(id: string, script: vm.Script): Buffer {
  const data = script.createCachedData();
  return Buffer.concat([Buffer.from(`${JSON.stringify(headerFor(id, data))}\n`), data]);
}

/**
 * Loads the pack `pack` as Node would load it as a module (its own Module in require.cache, its require,
 * __filename, __dirname), compiled with the cache `cacheFile` when that is usable. With `train`, the
 * compiled script is returned for cacheFileBytes.
 */
export function loadPack(pack: string, cacheFile: string, opts: { train?: boolean } = {}): LoadedPack {
  const M = Module as unknown as ModuleInternals;
  const source = fs.readFileSync(pack, 'utf8');
  const cachedData = opts.train ? undefined : readCache(cacheFile, packIdOf(source));
  const script = new vm.Script(M.wrap(source), { filename: pack, cachedData });
  const m = new M(pack, module);
  m.filename = pack;
  m.paths = M._nodeModulePaths(path.dirname(pack));
  M._cache[pack] = m;
  const fn = script.runInThisContext() as (this: unknown, ...args: unknown[]) => void;
  try {
    fn.call(m.exports, m.exports, Module.createRequire(pack), m, pack, path.dirname(pack));
  } catch (err) {
    delete M._cache[pack];
    throw err;
  }
  m.loaded = true;
  const cache: CacheUse = cachedData === undefined ? 'unusable' : script.cachedDataRejected ? 'rejected' : 'used';
  return { exports: m.exports, cache, script: opts.train ? script : undefined };
}

/** The parts of Node's Module that loading a file by hand needs (as module-pack.ts's packs use them). */
interface ModuleInternals {
  new (id: string, parent?: NodeModule): NodeModule & { paths: string[] };
  wrap(source: string): string;
  _nodeModulePaths(dir: string): string[];
  _cache: Record<string, NodeModule>;
}
