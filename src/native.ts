import * as path from 'node:path';
import { OvermergeError } from './errors';

/**
 * The native addons overmerge loads. Each is compiled for the running Node by its package's install
 * script, which npm 12 runs only for packages that package.json's `allowScripts` lists; a build that is
 * missing, or made for another Node, fails to load with an error naming a .node file several folders
 * deep. Loading every addon through here turns that into one line that names the package and the fix.
 */
export type NativePackage = 'better-sqlite3' | 'fs-xattr' | 'lzma-native' | 'zstd-napi' | 'fcntl-lock';

/** How each is built again: the dependencies by npm, overmerge's own (src/fs/native) by its build script. */
function rebuild(pkg: NativePackage): string {
  return pkg === 'fcntl-lock' ? 'npm run build:native' : `npm rebuild ${pkg}`;
}

/** The folder of overmerge's package.json and node_modules (from dist/src/): where `npm rebuild` runs. */
const PACKAGE_DIR = path.resolve(__dirname, '..', '..');

/** `load()` (a require of the addon's package), with a load failure reported as E_NATIVE. */
export function loadNative<T>(pkg: NativePackage, load: () => T): T {
  try {
    return load();
  } catch (err) {
    throw nativeError(pkg, err);
  }
}

export function nativeError(pkg: NativePackage, err: unknown): OvermergeError {
  return new OvermergeError('E_NATIVE', `the native module ${pkg} is not built for Node ${process.version}: ${whyNotLoaded(err)}`, {
    op: 'load native module',
    path: pkg,
    hint: `run \`${rebuild(pkg)}\` in ${PACKAGE_DIR}`,
    cause: err,
  });
}

/** The reason in a few words: a build of another Node, no build at all, or the loader's own first line. */
export function whyNotLoaded(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const abi = /NODE_MODULE_VERSION (\d+)[^]*?NODE_MODULE_VERSION (\d+)/.exec(message);
  if (abi) return `its build is for another Node (module version ${abi[1]}; this Node needs ${abi[2]})`;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND' || /Could not locate the bindings file|No native build was found/.test(message)) {
    return 'its build is missing (did npm skip its install script?)';
  }
  return message.split('\n')[0].slice(0, 200);
}
