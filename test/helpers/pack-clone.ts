import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DIST_SRC } from '../../src/build/write-dpkg-pack';
import { REPO_ROOT } from './run-cli';

/**
 * What the tests of overmerge's start-up packs (src/build/write-main-pack.ts, write-read-pack.ts) share:
 * a copy of the built tree laid out as a fresh clone after `npm ci`, and the ways they spoil a pack's
 * modules and its cache.
 */

/** The built bin and tree copied to `dir` (bin/, dist/src, package.json; node_modules and src linked); returns `dir`. */
export function cloneBuilt(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(path.join(REPO_ROOT, 'bin'), path.join(dir, 'bin'), { recursive: true, preserveTimestamps: true });
  fs.cpSync(path.join(REPO_ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.cpSync(DIST_SRC, path.join(dir, 'dist', 'src'), { recursive: true, preserveTimestamps: true });
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  fs.symlinkSync(path.join(REPO_ROOT, 'src'), path.join(dir, 'src'));
  return dir;
}

/** How `pack` loads in a fresh Node (as bin/overmerge loads it, with `cache`): whether it used its modules, and its cache. */
export function howLoaded(clone: string, pack: string, cache: string): { packed: boolean; cache: string } {
  const script = `
    const { loadPack } = require(${JSON.stringify(path.join(clone, 'dist', 'src', 'build', 'code-cache.js'))});
    const r = loadPack(${JSON.stringify(pack)}, ${JSON.stringify(cache)});
    process.stdout.write(JSON.stringify({ packed: require.cache[${JSON.stringify(pack)}].packed, cache: r.cache }));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { packed: boolean; cache: string };
}

/**
 * `file` replaced by a copy of itself (the same bytes, a new modification time), as when it changed since
 * a pack was made; the undo renames the original back, its times exact. Setting a time back with
 * utimes cannot: from a Date it keeps milliseconds, and the pack compares the nanoseconds stat gave
 * (Node >= 22's cpSync keeps them in the clone), so the pack stayed stale for every later test. At no
 * instant is the file missing: other test files may be loading the repository's node_modules.
 */
export function changed(file: string): () => void {
  const kept = `${file}.kept-${process.pid}`;
  const copy = `${file}.copy-${process.pid}`;
  fs.linkSync(file, kept);
  fs.copyFileSync(file, copy);
  fs.renameSync(copy, file);
  return () => fs.renameSync(kept, file);
}

/** A cache file's bytes with one byte of its payload changed, its header (and V8's own) untouched. */
export function damaged(of: Buffer): Buffer {
  const bytes = Buffer.from(of);
  const at = bytes.indexOf(10) + 1 + Math.floor((bytes.length - bytes.indexOf(10)) * 0.6);
  bytes[at] ^= 0x40;
  return bytes;
}

/**
 * A script for `node -r` that notes each module of the clone's dist/src (and of better-sqlite3) compiled
 * from its file, and at exit writes to descriptor 3 `{ compiled, packs }`: those files and the packs loaded.
 * Written to `file`; returns it.
 */
export function compileHook(file: string, clone: string): string {
  fs.writeFileSync(
    file,
    `
      const Module = require('node:module');
      const compiled = [];
      const own = Module.prototype._compile;
      Module.prototype._compile = function (content, filename) {
        if (filename.startsWith(${JSON.stringify(path.join(clone, 'dist', 'src') + path.sep)}) || filename.includes('/node_modules/better-sqlite3/')) compiled.push(filename);
        return own.apply(this, arguments);
      };
      process.on('exit', () => require('node:fs').writeSync(3, JSON.stringify({ compiled, packs: Object.keys(require.cache).filter((k) => k.endsWith('.pack.js')) })));`,
  );
  return file;
}
