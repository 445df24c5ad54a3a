import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { asciiSource, packText, type PackedModule } from '../../src/build/module-pack';

/** What a module's source evaluates to (its `module.exports`). */
function evaluate(source: string): unknown {
  const module = { exports: {} as unknown };
  new Function('module', source)(module);
  return module.exports;
}

describe('asciiSource (module packs are ASCII, so V8 keeps them one byte a character)', () => {
  it('escapes non-ASCII characters in strings, templates, regular expressions and comments, meaning the same', () => {
    const source = [
      '// a dash — in a comment, and an arrow →',
      "const s = '≤ 1.0 ×';",
      'const t = `${s}…`;',
      'const r = /^[—–]+$/u.test("—–");',
      "const e = '😀';",
      'module.exports = { s, t, r, e, len: e.length };',
    ].join('\n');
    const ascii = asciiSource(source);
    assert.match(ascii, /^[\x00-\x7f]*$/);
    assert.deepEqual(evaluate(ascii), evaluate(source));
  });

  it('leaves a module as it is where an escape could change what it means', () => {
    for (const source of ['module.exports = String.raw`—`;', "module.exports = '\\—';", 'const tag = (s) => s.raw[0]; module.exports = tag`→`;']) {
      assert.equal(asciiSource(source), source);
    }
  });

  it('returns an ASCII module unchanged', () => {
    const source = "module.exports = 'plain';";
    assert.equal(asciiSource(source), source);
  });
});

describe('packText (a module pack loads its modules as Node would find them)', () => {
  it('answers ./x.js, ./x, a folder and a package by name from the pack, reading none of their files', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-module-pack-'));
    try {
      const files: Record<string, string> = {
        'app/src/main.js': "module.exports = [require('./a.js'), require('./b'), require('./dir'), require('pkg')].join(' ');",
        'app/src/a.js': "module.exports = 'a';",
        'app/src/b.js': "module.exports = 'b';",
        'app/src/dir/index.js': "module.exports = 'dir';",
        'app/node_modules/pkg/index.js': "module.exports = require('./lib/p.js');",
        'app/node_modules/pkg/lib/p.js': "module.exports = 'pkg';",
      };
      const base = path.join(work, 'app', 'src');
      const modules: PackedModule[] = Object.entries(files).map(([name, source]) => {
        const file = path.join(work, name);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, source);
        const st = fs.statSync(file);
        return { rel: path.relative(base, file), size: st.size, mtimeMs: st.mtimeMs, source };
      });
      const pack = path.join(base, 'main.pack.js');
      fs.writeFileSync(pack, packText(base, base, 'main.js', modules, [['main.js', 'pkg', '../node_modules/pkg/index.js']]));
      const script = `
        const Module = require('node:module');
        const read = [];
        const own = Module.prototype._compile;
        Module.prototype._compile = function (content, filename) {
          if (filename !== ${JSON.stringify(pack)}) read.push(filename);
          return own.apply(this, arguments);
        };
        const exported = require(${JSON.stringify(pack)});
        process.stdout.write(JSON.stringify({ exported, packed: require.cache[${JSON.stringify(pack)}].packed, read }));`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { exported: 'a b dir pkg', packed: true, read: [] });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
