import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asciiSource } from '../../src/build/module-pack';

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
