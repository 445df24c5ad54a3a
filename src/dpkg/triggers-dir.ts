import * as fs from 'node:fs';
import { errnoOf, fsError } from '../errors';
import { triggersPath, type AdminDir } from './admindir';

/**
 * `triggers/` (lib/dpkg/triglib.c, trigdeferred.c), kept verbatim until the triggers logic reads it:
 * - `File`: file-trigger interests, `PATH PACKAGE[/noawait]` per line;
 * - `Unincorp`: triggers activated (by dpkg-trigger) but not yet given to the interested packages;
 * - one file per explicit trigger name, listing the interested packages;
 * - `Lock`, and the `-new` / `.new` files dpkg writes before renaming them into place: not data.
 */
export function isTriggersDataFile(name: string): boolean {
  return !(name === 'Lock' || name.startsWith('.') || name.endsWith('-new') || name.endsWith('.new'));
}

/** Every data file of triggers/, name → bytes. A missing directory has none. */
export function readTriggersDir(admin: AdminDir): Map<string, Buffer> {
  const dir = triggersPath(admin);
  const out = new Map<string, Buffer>();
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return out;
    throw fsError('read directory', err, dir);
  }
  for (const name of names.filter(isTriggersDataFile).sort()) {
    const file = triggersPath(admin, name);
    try {
      if (fs.lstatSync(file).isFile()) out.set(name, fs.readFileSync(file));
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw fsError('read', err, file);
    }
  }
  return out;
}
