import { constants as osConstants } from 'node:os';
import * as path from 'node:path';

/** overmerge's own addons that have a fallback where they were not built (fcntl_lock has none: src/fs/fcntl.ts). */
export type OptionalAddon = 'fiemap' | 'syncfs' | 'malloc_tune' | 'utimens' | 'copy_entry' | 'write_file' | 'spawn_child' | 'stage_tar';

/** Where `npm ci` (the package's install script, node-gyp) leaves `name`.node, seen from dist/src/fs. */
export function addonPath(name: string): string {
  return path.resolve(__dirname, '..', '..', '..', 'src', 'fs', 'native', 'build', 'Release', `${name}.node`);
}

/**
 * A loader of the addon `name`: it requires the module on first call and answers null where it was not
 * built (or fails to load), so that its callers take their fallback; later calls reuse the first answer.
 */
export function optionalAddon<T>(name: OptionalAddon): () => T | null {
  let loaded: T | null | undefined;
  return () => {
    if (loaded === undefined) {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        loaded = require(addonPath(name)) as T;
      } catch {
        loaded = null;
      }
    }
    return loaded;
  };
}

/** An addon's failure (errnoNumber) as Node reports errno errors (code EIO, ...), so fsError words it as for any call. */
export function errnoError(err: Error, errnoNumber: number): Error {
  const code = Object.entries(osConstants.errno).find(([, n]) => n === errnoNumber)?.[0] ?? 'EIO';
  return Object.assign(new Error(`${code}: ${err.message}`), { code, errno: -errnoNumber });
}
