import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { Deb822Parser, formatParagraph, formatParagraphs, parseParagraphs, readParagraphs } from '../../src/control/deb822';
import { Paragraph } from '../../src/control/paragraph';
import { OvermergeError } from '../../src/errors';

function fails(text: string, pattern: RegExp, options = {}): void {
  assert.throws(
    () => parseParagraphs(text, { source: 'ctl', ...options }),
    (err: unknown) => err instanceof OvermergeError && err.code === 'E_BAD_CONTROL' && pattern.test(err.message),
  );
}

describe('deb822 parsing', () => {
  it('reads fields in order, looks them up without case', () => {
    const [p] = parseParagraphs('Package: foo\nversion: 1.0\nArchitecture:all\n');
    assert.deepEqual(p.fields, [
      ['Package', 'foo'],
      ['version', '1.0'],
      ['Architecture', 'all'],
    ]);
    assert.equal(p.get('VERSION'), '1.0');
  });

  it('looks a field up as written, in another case, past names of the same length; the first of the name wins', () => {
    const p = new Paragraph([
      ['Depends', 'a'],
      ['version', '1.0'],
      ['Package', 'x'],
      ['PACKAGE', 'second'],
    ]);
    assert.equal(p.get('Package'), 'x');
    assert.equal(p.get('package'), 'x');
    assert.equal(p.get('PACKAGE'), 'x', 'the first match in order, as before, not the exact-case one');
    assert.equal(p.get('Version'), '1.0');
    assert.equal(p.get('Replaces'), undefined, 'a name of the same length as Depends and Package');
    assert.equal(p.get('Dependsx'), undefined);
    assert.equal(p.has('DEPENDS'), true);
  });

  it('joins continuation lines without their first blank, keeps " ." lines, trims the value end', () => {
    const [p] = parseParagraphs('Description: short  \n long line\n .\n \tindented\t \n');
    assert.equal(p.get('Description'), 'short  \nlong line\n.\n\tindented');
  });

  it('keeps an empty first line of a multi-line value', () => {
    const [p] = parseParagraphs('Conffiles:\n /etc/a 0123\n /etc/b 4567\n');
    assert.equal(p.get('Conffiles'), '\n/etc/a 0123\n/etc/b 4567');
  });

  it('allows blanks before the colon and an empty value', () => {
    const [p] = parseParagraphs('Name :  value\nEmpty:\nOther: x\n');
    assert.deepEqual(p.fields, [
      ['Name', 'value'],
      ['Empty', ''],
      ['Other', 'x'],
    ]);
  });

  it('splits paragraphs on empty lines, skipping runs of them at either end', () => {
    const ps = parseParagraphs('\n\nA: 1\n\n\n\nB: 2\nC: 3\n\n');
    assert.equal(ps.length, 2);
    assert.deepEqual(ps[1].fields, [
      ['B', '2'],
      ['C', '3'],
    ]);
  });

  it('reports errors with the line number, as dpkg refuses them', () => {
    fails('A: 1\n  \nB: 2\n', /^ctl:2: blank line in value of field 'A'$/);
    fails('A: 1\nB 2\n', /^ctl:2: field name 'B' must be followed by a colon$/);
    fails('A: 1\n: x\n', /^ctl:2: empty field name$/);
    fails('-A: 1\n', /^ctl:1: field name '-A' cannot start with a hyphen$/);
    fails('A: 1\na: 2\n', /^ctl:2: duplicate field 'a'$/);
    fails(' continued\n', /^ctl:1: continuation line outside a field$/);
    fails('A: 1\nB: 2', /^ctl:2: missing final newline/);
    fails('# comment\nA: 1\n', /^ctl:1: field name '#' must be followed by a colon$/);
  });

  it('deb822: a last line without its newline, ending in a CR, is refused on one line', () => {
    // Found by the fuzzer: the unfinished line went into the message as it was, CR included.
    assert.throws(
      () => parseParagraphs('Package: a\n\n\t\r', { source: 'ctl' }),
      (err: unknown) => {
        assert.ok(err instanceof OvermergeError && err.code === 'E_BAD_CONTROL');
        assert.match(err.message, /^ctl:3: missing final newline/);
        assert.doesNotMatch(err.message, /[\r\n]/);
        assert.match(err.message, /\\x0d/);
        return true;
      },
    );
  });

  it('skips comment lines only when asked (source control files)', () => {
    const ps = parseParagraphs('# top\nSource: x\n# inside\nBuild-Depends: a,\n# between\n b\n', { allowComments: true });
    assert.deepEqual(ps[0].fields, [
      ['Source', 'x'],
      ['Build-Depends', 'a,\nb'],
    ]);
  });

  it('the same field name may appear in different paragraphs', () => {
    assert.equal(parseParagraphs('A: 1\n\nA: 2\n').length, 2);
  });

  it('parses incrementally, whatever the chunk boundaries', () => {
    const text = 'Package: a\nDescription: x\n y\n\nPackage: b\nVersion: 2\n';
    const whole = parseParagraphs(text).map((p) => p.fields);
    for (let size = 1; size <= text.length; size++) {
      const parser = new Deb822Parser();
      const got: Paragraph[] = [];
      for (let i = 0; i < text.length; i += size) got.push(...parser.push(text.slice(i, i + size)));
      got.push(...parser.end());
      assert.deepEqual(
        got.map((p) => p.fields),
        whole,
        `chunk size ${size}`,
      );
    }
  });

  it('streams paragraphs from bytes split inside a UTF-8 character', async () => {
    const bytes = Buffer.from('Package: a\nMaintainer: Jörg\n\nPackage: b\n');
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    const got: string[] = [];
    for await (const p of readParagraphs(Readable.from(chunks))) got.push(p.get('Maintainer') ?? p.get('Package') ?? '');
    assert.deepEqual(got, ['Jörg', 'b']);
  });

  it('deb822: a stream starting with a byte order mark reads as its text does, the mark kept', async () => {
    // Found by fuzzing: the streaming decoder dropped the mark, so the stream had a Package field
    // where the same text (and dpkg) had a field named "\ufeffPackage".
    const text = '\ufeffPackage: a\nVersion: 1\n';
    const streamed = [];
    for await (const p of readParagraphs(Readable.from([Buffer.from(text)]))) streamed.push(p.fields);
    assert.deepEqual(streamed, parseParagraphs(text).map((p) => p.fields));
    assert.equal(streamed[0][0][0], '\ufeffPackage');
  });

  it('is linear: a large status-like file parses quickly enough to stream', () => {
    const one = 'Package: pkg\nStatus: install ok installed\nVersion: 1.0\nDescription: d\n line\n .\n more\n\n';
    const text = one.repeat(50000);
    const ps = parseParagraphs(text);
    assert.equal(ps.length, 50000);
  });
});

describe('deb822 writing', () => {
  it("writes dpkg's format and reads back the same", () => {
    const p = new Paragraph([
      ['Package', 'foo'],
      ['Description', 'short\nlong\n.\nmore'],
      ['Conffiles', '\n/etc/a 0123'],
      ['X-Empty-First', '\nline'],
    ]);
    const text = formatParagraph(p);
    assert.equal(text, 'Package: foo\nDescription: short\n long\n .\n more\nConffiles:\n /etc/a 0123\nX-Empty-First: \n line\n');
    assert.deepEqual(parseParagraphs(text)[0].fields, p.fields);
  });

  it('round-trips many paragraphs', () => {
    const ps = [new Paragraph([['A', '1']]), new Paragraph([['B', 'x\ny']])];
    const text = formatParagraphs(ps);
    assert.equal(text, 'A: 1\n\nB: x\n y\n');
    assert.deepEqual(
      parseParagraphs(text).map((p) => p.fields),
      ps.map((p) => p.fields),
    );
  });

  it('refuses values that would not read back', () => {
    assert.throws(() => formatParagraph(new Paragraph([['A', 'x\n\ny']])), /empty continuation line/);
    assert.throws(() => formatParagraph(new Paragraph([['Bad Name', 'x']])), /cannot write field name/);
  });
});
