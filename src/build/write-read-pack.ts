import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildPacks, cacheAfter, findModules, newRoot, train, trainedMain, trainingPackage, TRAINING_FILE, TRAINING_PACKAGE, writePack, type PackResult } from './pack-training';
import { DIST_SRC } from './write-dpkg-pack';

/**
 * Writes the start-up pack of `overmerge`'s commands that read a root's database (list, files, owner,
 * verify, history) and its V8 code cache, as pack-training.ts makes them: from those commands run in a
 * temporary root holding a one-file package. They load about fifty modules, the writers' pack holds two
 * hundred: reading and deserialising that one cost `list` more than loading its files, and loading the
 * files (lookups, stats, compiles) was most of what `list` costs beyond Node's own start. bin/overmerge
 * uses this pack for these commands.
 */

export const READ_PACK_ENTRY = 'cli/main.js';
/** The files bin/overmerge looks for. */
export const READ_PACK = path.join(DIST_SRC, 'cli', 'read.pack.js');
export const READ_PACK_CACHE = path.join(DIST_SRC, 'cli', 'read.pack.cache');

/** The commands the pack is for (bin/overmerge's READERS), each as the training runs it. */
export const READS: readonly string[][] = [['list'], ['list', 'overmerge-*'], ['files', TRAINING_PACKAGE], ['owner', TRAINING_FILE], ['verify'], ['history']];

export async function writeReadPack(base: string = DIST_SRC, out: string = READ_PACK, cacheOut: string = READ_PACK_CACHE): Promise<PackResult> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-read-pack-'));
  try {
    const entry = `require(${JSON.stringify(path.join(base, READ_PACK_ENTRY))}).main`;
    const root = newRoot(work);
    const installed = train(entry, root, [['install', await trainingPackage(work, 'gzip')]], `out('installed');`);
    if (installed !== 'installed') throw new Error(`installing the training package failed: ${installed}`);
    const found = findModules(entry, root, READS, base, []);
    return writePack(base, out, cacheOut, READ_PACK_ENTRY, found, (pack) => train(trainedMain(pack), root, READS, cacheAfter(pack, `${cacheOut}.new`)));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  buildPacks(writeReadPack, [{ what: 'overmerge read pack', file: READ_PACK, cache: READ_PACK_CACHE, result: (r) => r }]);
}
