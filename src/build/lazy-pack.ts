import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as CodeCache from './code-cache';

/**
 * Packs loaded when a command first needs what they hold, not at start-up: a module pack
 * (module-pack.ts) with its code cache beside it (`x.pack.js`, `x.pack.cache`), written by `npm run build`
 * (write-main-pack.ts). The start-up pack holds what every small transaction loads; the xz pack holds
 * what decoding xz adds (lzma-native, readable-stream and theirs), which in the start-up pack would cost
 * every gzip install and every remove the reading of their code and cache.
 */

/** The xz pack: its entry is lzma-native's package. */
export const XZ_PACK = path.join(__dirname, '..', 'archive', 'xz.pack.js');

/** The code cache beside a lazy pack. */
export function lazyPackCache(pack: string): string {
  return pack.replace(/\.js$/, '.cache');
}

/**
 * The exports of the pack `pack`'s entry, or `fallback()` (the plain require of the same module) when
 * there is no pack or it fails to load: the pack is only ever a faster way to the same module, and it
 * checks itself (its modules' sizes and times, its cache's header and checksum) as the start-up pack does.
 */
export function requirePacked<T>(pack: string, fallback: () => T): T {
  // Loaded already (by an earlier call, or by the build's training, which loads it to make its cache).
  const loaded = require.cache[pack];
  if (loaded?.loaded) return loaded.exports as T;
  if (!fs.existsSync(pack)) return fallback();
  try {
    // Required here, not imported: bin/overmerge loads code-cache.js from its file, and an import would
    // put it in the start-up pack too, read (for nothing) by every command.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { loadPack } = require('./code-cache') as typeof CodeCache;
    return loadPack(pack, lazyPackCache(pack)).exports as T;
  } catch {
    // A damaged pack, or a module in it that fails: the plain require says why, if it fails too.
    delete require.cache[pack];
    return fallback();
  }
}
