import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lazyPackCache, XZ_PACK } from './lazy-pack';
import { buildPacks, cacheAfter, CODE_CACHE, findModules, newRoot, relFrom, train, trainedMain, trainingPackage, TRAINING_PACKAGE, writePack, type PackResult } from './pack-training';
import { DIST_SRC } from './write-dpkg-pack';

/**
 * Writes the start-up pack of `overmerge`'s changing commands (module-pack.ts) and its V8 code cache
 * (code-cache.ts), after the build, as pack-training.ts makes them: from a one-file package installed and
 * removed in a temporary root by a fresh Node.
 *
 * Then the same for the xz pack (lazy-pack.ts), from a one-file xz install without stage_tar.node: the
 * packages it loads beyond the start-up pack's (lzma-native and what it requires), in a pack of their own
 * that the first lzma-native decoder loads, so gzip installs and removes do not read them.
 */

export const MAIN_PACK_ENTRY = 'cli/main.js';
/** The files bin/overmerge looks for. */
export const MAIN_PACK = path.join(DIST_SRC, 'cli', 'main.pack.js');
export const MAIN_PACK_CACHE = path.join(DIST_SRC, 'cli', 'main.pack.cache');

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
    const found = findModules(`require(${JSON.stringify(entry)}).main`, newRoot(work), transaction(deb), base, []);
    const main = writePack(base, out, cacheOut, MAIN_PACK_ENTRY, found, (pack) => train(trainedMain(pack), newRoot(work), transaction(deb), cacheAfter(pack, `${cacheOut}.new`)));
    // The xz pack: what an xz install loads beyond the start-up pack, its entry lzma-native's package. The
    // install runs without stage_tar.node: with it, the host's liblzma decodes a small archive's members
    // and lzma-native is not loaded at all (it is where the addon was not built, and for what it declines).
    const xzDeb = await trainingPackage(work, 'xz');
    const loaded = findModules(`(${WITHOUT_STAGE_TAR}, require(${JSON.stringify(entry)}).main)`, newRoot(work), transaction(xzDeb), base, found.files);
    const xzFound = { files: loaded.files.filter(inNodeModules), bare: loaded.bare.filter(([from, , to]) => inNodeModules(from) && inNodeModules(to)) };
    const lzmaEntry = xzFound.files.find((f) => f.endsWith(`${path.sep}node_modules${path.sep}lzma-native${path.sep}index.js`));
    let xz: PackResult;
    if (lzmaEntry === undefined) xz = { modules: 0, cache: 'an xz install did not load lzma-native' };
    else {
      xz = writePack(base, xzOut, xzCacheOut, relFrom(base, lzmaEntry), xzFound, (pack) =>
        // Loaded before the command, as lazy-pack.ts would load it, so the command's decoder runs its code.
        train(`(${WITHOUT_STAGE_TAR}, (loadedPack = require(${JSON.stringify(CODE_CACHE)}).loadPack(${JSON.stringify(pack)}, '', { train: true })), require(${JSON.stringify(entry)}).main)`, newRoot(work), transaction(xzDeb), cacheAfter(pack, `${xzCacheOut}.new`)),
      );
    }
    return { ...main, xz };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** A training run's expression that makes stage_tar.node fail to load, as where npm never built it. */
const WITHOUT_STAGE_TAR = `(() => {
  const Module = require('node:module');
  const load = Module._load;
  Module._load = function (request, ...rest) {
    if (request.endsWith('stage_tar.node')) throw Object.assign(new Error('not while training the xz pack'), { code: 'MODULE_NOT_FOUND' });
    return load.call(this, request, ...rest);
  };
})()`;

const inNodeModules = (file: string): boolean => file.includes(`${path.sep}node_modules${path.sep}`);

/** A small transaction: the one-file package `deb` installed, then removed. */
function transaction(deb: string): string[][] {
  return [['install', deb], ['remove', TRAINING_PACKAGE]];
}

if (require.main === module) {
  buildPacks(writeMainPack, [
    { what: 'overmerge start-up pack', file: MAIN_PACK, cache: MAIN_PACK_CACHE, result: (r) => r },
    { what: 'overmerge xz pack', file: XZ_PACK, cache: lazyPackCache(XZ_PACK), result: (r) => r.xz },
  ]);
}
