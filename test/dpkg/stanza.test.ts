import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { parseParagraphs } from '../../src/control/deb822';
import { formatRelations, parseRelations } from '../../src/control/relations';
import { DEP_FIELDS, type DepField } from '../../src/dpkg/model';
import { relationFieldValue } from '../../src/dpkg/relations-field';
import { byteString, type ByteString } from '../../src/dpkg/bytes';
import { formatStanza } from '../../src/dpkg/dump';
import { PackageTable } from '../../src/dpkg/package-table';
import { stanzaToParagraph } from '../../src/dpkg/package-view';
import { StanzaError, scanStanzas } from '../../src/dpkg/stanza';
import { formatStatus, loadStatus, readEntries } from '../../src/dpkg/status-file';

const b = (s: string): ByteString => s as ByteString;

describe('dpkg stanza scanner', () => {
  it('keeps values exactly as dpkg stores them: continuation blanks, tabs, inner newlines; trailing blanks trimmed', () => {
    const text = b('Package: a\nDescription: short  \n long\n\ttabbed\n .\nX-Empty:\nName :  spaced\n\nPackage: b\n');
    const [one, two] = scanStanzas(text, false);
    assert.deepEqual(
      one.fields.map((f) => [f.name, f.value, f.line]),
      [
        ['Package', 'a', 1],
        ['Description', 'short  \n long\n\ttabbed\n .', 2],
        ['X-Empty', '', 6],
        ['Name', 'spaced', 7],
      ],
    );
    assert.equal(one.text, 'Package: a\nDescription: short  \n long\n\ttabbed\n .\nX-Empty:\nName :  spaced\n');
    assert.equal(two.line, 9);
    assert.equal(two.text, 'Package: b\n');
  });

  it('reads what the project deb822 parser reads, in its convention, for the host status file', () => {
    const host = '/var/lib/dpkg/status';
    if (!fs.existsSync(host)) return;
    const bytes = fs.readFileSync(host);
    const ours = scanStanzas(byteString(bytes), true).map((s) => stanzaToParagraph(s.text).fields);
    const theirs = parseParagraphs(bytes.toString('utf8')).map((p) => p.fields);
    assert.deepEqual(ours, theirs);
  });

  for (const [name, text, line, problem] of [
    ['missing final newline', 'Package: a', 1, /missing final newline/],
    ['an empty last value at the end of the file', 'Package: a\nX-A:\n', 2, /end of file before value of field 'X-A'/],
    ['a field without colon', 'Package: a\nBroken\n', 2, /newline in field name 'Broken'/],
    ['a name with a blank before something else', 'Package: a\nBad name: x\n', 2, /field name 'Bad' must be followed by colon/],
    ['a name starting with a hyphen', '-X: y\n', 1, /cannot start with hyphen/],
    ['a continuation line first', ' Package: a\n', 1, /empty field name/],
  ] as const) {
    it(`refuses ${name}, naming the line`, () => {
      assert.throws(
        () => scanStanzas(b(text), false),
        (err: unknown) => err instanceof StanzaError && err.line === line && problem.test(err.problem),
      );
    });
  }

  it('accepts a blank continuation line in status with a warning, as dpkg does (refused elsewhere)', () => {
    const text = b('Package: a\nDescription: x\n \n y\n');
    assert.throws(() => scanStanzas(text, false), /blank line in value of field 'Description'/);
    const [s] = scanStanzas(text, true);
    assert.equal(s.fields[1].value, 'x\n \n y');
    assert.deepEqual(s.warnings, [{ line: 3, message: "blank line in value of field 'Description'" }]);
  });

  it('treats ^Z as dpkg does: the end of a line, kept at the end of the value, and the end of a stanza after one', () => {
    const text = b('Package: a\nStatus: install ok not-installed\nArchitecture: all\nX-Note: z\x1a\x1aPackage: c\nStatus: install ok not-installed\nArchitecture: all\nX-Note: y\n');
    const [a, c] = scanStanzas(text, false);
    assert.deepEqual(a.fields.map((f) => f.value), ['a', 'install ok not-installed', 'all', 'z\x1a']);
    assert.deepEqual(c.fields.map((f) => f.value), ['c', 'install ok not-installed', 'all', 'y']);
    const table = new PackageTable('amd64');
    loadStatus(table, text, 'status');
    // What dpkg 1.21 writes for this status (dpkg --set-selections < /dev/null), ^Z included.
    const selection = (name: string, note: string): string => `Package: ${name}\nStatus: install ok not-installed\nArchitecture: all\nX-Note: ${note}\n\n`;
    assert.equal(formatStatus(table), selection('a', 'z\x1a') + selection('c', 'y'));
  });
});

describe('dpkg status writer', () => {
  it("writes every stanza of the host's status (dpkg's own output) exactly as it stands, and the whole file back", () => {
    const host = '/var/lib/dpkg/status';
    if (!fs.existsSync(host)) return;
    const text = byteString(fs.readFileSync(host));
    const { entries, warnings } = readEntries(text, host, 'status');
    assert.deepEqual(warnings, []);
    assert.ok(entries.length > 10);
    for (const { entry } of entries) {
      assert.ok(entry.raw !== undefined, `${entry.name} was normalised on reading`);
      assert.equal(formatStanza(entry), entry.raw, `${entry.name} is not written as dpkg wrote it`);
    }
    const table = new PackageTable('amd64');
    loadStatus(table, text, host);
    assert.ok(formatStatus(table) === text, 'status does not round-trip');
  });

  it("rewrites every relation field of the host's status to itself the slow way too (parse, then format)", () => {
    const host = '/var/lib/dpkg/status';
    if (!fs.existsSync(host)) return;
    let checked = 0;
    for (const stanza of scanStanzas(byteString(fs.readFileSync(host)), true)) {
      for (const { name, value } of stanza.fields) {
        if (!(DEP_FIELDS as readonly string[]).includes(name)) continue;
        const slow = formatRelations(parseRelations(name, value, { allowRestrictions: false, laxVersions: true }));
        assert.equal(slow, value, `${name} of ${stanza.fields[0].value}`);
        assert.equal(relationFieldValue(name as DepField, value), value);
        checked++;
      }
    }
    assert.ok(checked > 100, `only ${checked} relation fields`);
  });

  it('writes a generated stanza in dpkg field order, known fields in their canonical form, unknown fields after', () => {
    const text = b(
      [
        'X-Custom: kept  as is',
        'description: A test',
        ' second line',
        'depends: libc6(>=2.36) |libc7 ,foo:any',
        'Version: 0:1.0-1',
        'Status: Install OK Unpacked',
        'conffiles:',
        ' //./etc/a.conf 0123 obsolete remove-on-upgrade',
        ' /etc/b c0ffee',
        'maintainer: Someone <s@example.org>',
        'Priority: Optional',
        'Essential: no',
        'Architecture: amd64',
        'Multi-Arch: Same',
        'Package: Hello',
        'Config-Version: 0.9',
        '',
      ].join('\n'),
    );
    const [{ entry }] = readEntries(text, 't', 'update').entries;
    assert.equal(
      formatStanza(entry),
      [
        'Package: hello',
        'Status: install ok unpacked',
        'Priority: optional',
        'Maintainer: Someone <s@example.org>',
        'Architecture: amd64',
        'Multi-Arch: same',
        'Version: 1.0-1',
        'Config-Version: 0.9',
        'Depends: libc6 (>= 2.36) | libc7, foo:any',
        'Conffiles:',
        ' /etc/a.conf 0123 obsolete remove-on-upgrade',
        ' /etc/b c0ffee',
        'Description: A test',
        ' second line',
        'X-Custom: kept  as is',
        '',
      ].join('\n'),
    );
  });
});
