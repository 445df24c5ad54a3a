import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildPacks, cacheAfter, findModules, newRoot, train, trainedMain, trainingPackage, writePack, type PackResult } from './pack-training';
import { DIST_SRC } from './write-dpkg-pack';

/**
 * Writes the start-up pack of `overmerge bootstrap` and its V8 code cache, as pack-training.ts makes them:
 * from a bootstrap of a one-file Essential package into an empty folder. A bootstrap loads the engine
 * from its command's module, which the writers' pack does not hold (a small transaction never loads it):
 * with that pack, the bootstrap's modules were found, read and compiled one file at a time, 240 of them,
 * about 150 ms of its main thread before the first archive was read (Node 20, which has no compile
 * cache). bin/overmerge uses this pack when the command line says `bootstrap`.
 */

export const BOOTSTRAP_PACK_ENTRY = 'cli/main.js';
/** The files bin/overmerge looks for. */
export const BOOTSTRAP_PACK = path.join(DIST_SRC, 'cli', 'bootstrap.pack.js');
export const BOOTSTRAP_PACK_CACHE = path.join(DIST_SRC, 'cli', 'bootstrap.pack.cache');

export async function writeBootstrapPack(base: string = DIST_SRC, out: string = BOOTSTRAP_PACK, cacheOut: string = BOOTSTRAP_PACK_CACHE): Promise<PackResult> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-bootstrap-pack-'));
  try {
    const deb = await trainingPackage(work, 'gzip', 'essential');
    const entry = `require(${JSON.stringify(path.join(base, BOOTSTRAP_PACK_ENTRY))}).main`;
    const found = findModules(entry, undefined, [bootstrapOf(newRoot(work), deb)], base, []);
    return writePack(base, out, cacheOut, BOOTSTRAP_PACK_ENTRY, found, (pack) =>
      train(trainedMain(pack), undefined, [bootstrapOf(newRoot(work), deb)], cacheAfter(pack, `${cacheOut}.new`)),
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The training's bootstrap of `deb` into the empty folder `dir`. Chrootless: the build need not run as
 * root, and the package has no scripts to run anyway; the modules of both ways are loaded either way.
 */
function bootstrapOf(dir: string, deb: string): string[] {
  return ['bootstrap', '--scripts=chrootless', dir, deb];
}

if (require.main === module) {
  buildPacks(writeBootstrapPack, [{ what: 'overmerge bootstrap pack', file: BOOTSTRAP_PACK, cache: BOOTSTRAP_PACK_CACHE, result: (r) => r }]);
}
