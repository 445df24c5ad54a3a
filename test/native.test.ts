import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { OvermergeError } from '../src/errors';
import { loadNative, type NativePackage } from '../src/native';
import { BIN, REPO_ROOT } from './helpers/run-cli';
import { withTempDir } from './helpers/temp';
import { unbuiltAddonPreload } from './helpers/unbuilt-addon';

// A native addon that npm did not build (npm 12 skips install scripts that allowScripts does not list) or
// built for another Node: one line naming the package, the Node and the command that fixes it.

const notFound = Object.assign(new Error("Cannot find module './build/Release/xattr'"), { code: 'MODULE_NOT_FOUND' });
const otherAbi = Object.assign(
  new Error(
    "The module '/x/better_sqlite3.node'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of Node.js requires\nNODE_MODULE_VERSION 147. Please try re-compiling or re-installing\n",
  ),
  { code: 'ERR_DLOPEN_FAILED' },
);
const bindings = new Error('Could not locate the bindings file. Tried:\n → /x/build/better_sqlite3.node\n → /x/build/Debug/better_sqlite3.node');

function refusal(pkg: NativePackage, err: Error): OvermergeError {
  try {
    loadNative(pkg, () => {
      throw err;
    });
  } catch (e) {
    assert.ok(e instanceof OvermergeError);
    return e;
  }
  assert.fail('loadNative did not throw');
}

test('a missing or foreign build is E_NATIVE: the package, this Node, why, and `npm rebuild PKG` in the checkout', () => {
  for (const [pkg, err, why] of [
    ['fs-xattr', notFound, /its build is missing \(did npm skip its install script\?\)/],
    ['better-sqlite3', bindings, /its build is missing/],
    ['better-sqlite3', otherAbi, /its build is for another Node \(module version 115; this Node needs 147\)/],
  ] as const) {
    const e = refusal(pkg, err);
    assert.equal(e.code, 'E_NATIVE');
    assert.match(e.message, new RegExp(`^the native module ${pkg} is not built for Node ${process.version.replace(/\./g, '\\.')}: `));
    assert.match(e.message, why);
    assert.doesNotMatch(e.message, /\n/);
    assert.equal(e.hint, `run \`npm rebuild ${pkg}\` in ${REPO_ROOT}`);
    assert.equal(e.cause, err);
  }
});

test('a loaded addon is returned as it is', () => {
  const addon = { ok: true };
  assert.equal(loadNative('zstd-napi', () => addon), addon);
});

test('bin/overmerge prints one line for an addon that fails to load when a command needs it', async () => {
  // A preload makes better-sqlite3's compiled addon fail to load, as an unbuilt one does. Start-up loads no addon
  // (--version answers without one); a command that opens the database does.
  await withTempDir('native', async (dir) => {
    const preload = await unbuiltAddonPreload(dir, 'better_sqlite3.node');
    const version = spawnSync(process.execPath, ['--require', preload, BIN, '--version'], { encoding: 'utf8' });
    assert.equal(version.status, 0, version.stderr);
    const root = path.join(dir, 'root');
    await fsp.mkdir(root);
    const r = spawnSync(process.execPath, ['--require', preload, BIN, '--root', root, 'install', path.join(dir, 'none.deb')], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `overmerge: the native module better-sqlite3 is not built for Node ${process.version}: its build is missing (did npm skip its install script?) (run \`npm rebuild better-sqlite3\` in ${REPO_ROOT})\n`,
    );
  });
});
