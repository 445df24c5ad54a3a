import { createHash } from 'node:crypto';
import * as path from 'node:path';

/**
 * A module pack: the CommonJS modules a program needs at start-up, in one file that loads them without
 * a lookup, a read and a compile each. `overmerge-dpkg --print-architecture` (which apt runs many times)
 * loads 16 modules, and their loading, not their work, is most of what it adds to Node's own start-up:
 * packed, its median on the development machine went from 68 to 53 ms (bare `node -e 0` 45 ms).
 *
 * The pack is only ever a faster way to the same modules, never a second copy of the code:
 * - it records each module's size and modification time, and when any differs from the file beside it
 *   (the tree was rebuilt with `tsc` alone, or copied without times) it loads the real files instead;
 * - each packed module is registered in require.cache under its own file name before it runs, and a
 *   module already there is taken from there, so a module the pack holds and a module loaded from its
 *   file are one and the same instance whichever comes first;
 * - requests it does not hold (a module loaded later, an action's own modules, a package) go to Node's
 *   require of the module that makes them;
 * - a package's modules can be held too (better-sqlite3's JavaScript: 14 files, 5 ms of a small command's
 *   CPU to find and compile): its files are named relative to the base (`../../node_modules/...`), and the
 *   bare requests that reached them (`require('better-sqlite3')` from db/open.js) are recorded as they
 *   were resolved when the pack was made, request by request, from the module that made them.
 */

export interface PackedModule {
  /** Path from `base`, with '/' separators (below it, or `../` up to a package's file). */
  readonly rel: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly source: string;
}

/** A bare request (a package's name) that a packed module made and a packed module answered: [from, request, to], `rel`s. */
export type BareRequest = readonly [from: string, request: string, to: string];

/**
 * The text of a pack at `packDir` of `modules` (found from `base`), whose exports are those of `entry`;
 * `bare` are the package requests among them. Pure.
 */
export function packText(packDir: string, base: string, entry: string, modules: readonly PackedModule[], bare: readonly BareRequest[] = []): string {
  const baseRel = path.relative(packDir, base).split(path.sep).join('/') || '.';
  const defs = modules.map(
    (m) =>
      `  [${JSON.stringify(m.rel)}, ${m.size}, ${m.mtimeMs}, function (exports, require, module, __filename, __dirname) {\n${asciiSource(stripSourceMap(m.source))}\n  }],`,
  );
  const bareText = JSON.stringify(bare);
  const text = `${defs.join('\n')}\n${baseRel}\n${entry}\n${bareText}`;
  // The id a code cache made of this pack names (code-cache.ts): another pack, another id.
  const id = createHash('sha1').update(text).digest('hex');
  return `'use strict';
// pack-id: ${id}
// A module pack (src/build/module-pack.ts), written by \`npm run build\`: do not edit.
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const BASE = path.join(__dirname, ${JSON.stringify(baseRel)});
const ENTRY = ${JSON.stringify(entry)};
const MODULES = [
${defs.join('\n')}
];
const BARE = ${bareText};

// A file below BASE is BASE + '/' + rel, joined by hand; one of a package (rel starts with '../') is resolved.
function fileOf(rel) {
  return rel.startsWith('../') ? path.resolve(BASE, rel) : BASE + '/' + rel;
}

// Module names are BASE + '/' + a normalised relative name: joined by hand, as path.join would, since a
// small command loads two hundred of them and path's normalisation was a few per cent of its CPU time.
function fresh() {
  for (const [rel, size, mtimeMs] of MODULES) {
    let st;
    try {
      st = fs.statSync(fileOf(rel));
    } catch {
      return false;
    }
    if (st.size !== size || st.mtimeMs !== mtimeMs) return false;
  }
  return true;
}

/** The path a relative require names from folder \`dir\` ('./x', '../../x'; anything else by path.resolve). */
function relativeTarget(dir, request) {
  let d = dir;
  let r = request;
  while (r.startsWith('../')) {
    d = d.slice(0, d.lastIndexOf('/'));
    r = r.slice(3);
  }
  if (r.startsWith('./')) r = r.slice(2);
  if (d === '' || r === '' || r.startsWith('.') || r.includes('/.')) return path.resolve(dir, request);
  return d + '/' + r;
}

module.packed = path.sep === '/' && fresh();
if (!module.packed) {
  module.exports = require(path.join(BASE, ENTRY));
} else {
  const defs = new Map(MODULES.map(([rel, , , fn]) => [fileOf(rel), fn]));
  const bare = new Map(BARE.map(([from, request, to]) => [fileOf(from) + '\\0' + request, fileOf(to)]));
  const lookupPaths = new Map();
  const load = (filename, parent) => {
    const cached = Module._cache[filename];
    if (cached) return cached.exports;
    const dir = filename.slice(0, filename.lastIndexOf('/'));
    const m = new Module(filename, parent);
    m.filename = filename;
    let paths = lookupPaths.get(dir);
    if (paths === undefined) lookupPaths.set(dir, (paths = Module._nodeModulePaths(dir)));
    m.paths = paths.slice();
    Module._cache[filename] = m;
    const req = (request) => {
      if (request.startsWith('./') || request.startsWith('../')) {
        // As Node looks: the file X (a package's './x.js'), X.js, then a folder's X/index.js (\`../dpkg/triggers\`).
        const target = relativeTarget(dir, request);
        for (const file of [target, target + '.js', target + '/index.js']) if (defs.has(file)) return load(file, m);
      } else {
        const target = bare.get(filename + '\\0' + request);
        if (target !== undefined) return load(target, m);
      }
      return m.require(request);
    };
    // What a module's own require offers besides: resolve (a native addon's path) and the cache.
    req.resolve = (request, options) => Module._resolveFilename(request, m, false, options);
    req.cache = Module._cache;
    try {
      defs.get(filename).call(m.exports, m.exports, req, m, filename, dir);
    } catch (err) {
      delete Module._cache[filename];
      throw err;
    }
    m.loaded = true;
    return m.exports;
  };
  module.exports = load(fileOf(ENTRY), module);
}
`;
}

function stripSourceMap(source: string): string {
  return source.replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '\n');
}

/**
 * `source` with each non-ASCII UTF-16 unit written as a \\uXXXX escape, which means the same character in a
 * string, template, regular expression or identifier and nothing in a comment: a pack of ASCII alone
 * is a one-byte string to V8, read without UTF-8 decoding into two bytes a character (a dash in a
 * comment made the whole 1 MB pack two-byte: 10 M instructions of decoding each run, twice its memory).
 * A module is left as it is where an escape could mean something else: where a template's raw text may
 * be read (String.raw, or a tag of its own: any \`.raw\` in the module) or a backslash comes right before
 * a non-ASCII character.
 */
export function asciiSource(source: string): string {
  if (!/[^\x00-\x7f]/.test(source)) return source;
  if (/\\[^\x00-\x7f]/.test(source) || /\.raw\b/.test(source)) return source;
  return source.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
