import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ByteString } from '../../src/dpkg/bytes';
import { formatConffilesField, parseConffiles } from '../../src/dpkg/conffiles-field';
import { formatStanza } from '../../src/dpkg/dump';
import { isInformative } from '../../src/dpkg/entry';
import { OvermergeError } from '../../src/errors';
import { PackageTable } from '../../src/dpkg/package-table';
import { formatStatus, loadStatus, loadUpdate, readEntries } from '../../src/dpkg/status-file';

const b = (s: string): ByteString => s as ByteString;
const one = (text: string, kind: 'status' | 'update' = 'status') => readEntries(b(text), 'status', kind).entries[0].entry;
const stanza = (fields: Record<string, string>): string =>
  Object.entries(fields)
    .map(([k, v]) => `${k}: ${v}\n`)
    .join('');
const installed = (name: string, arch: string, extra: Record<string, string> = {}): string =>
  stanza({ Package: name, Status: 'install ok installed', Maintainer: 'm', Architecture: arch, Version: '1.0', ...extra, Description: 'd' });

function refusal(file: string, line: number, problem: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof OvermergeError, String(err));
    assert.equal(err.code, 'E_DPKG_DB');
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.ok(err.message.startsWith(`${file}:${line}: `), err.message);
    assert.match(err.message, problem);
    return true;
  };
}

describe('dpkg entry reading (pkg_parse_verify)', () => {
  it('fills in Config-Version from Version for installed packages, and writes it once the state drops', () => {
    const e = one(installed('a', 'all'));
    assert.deepEqual(e.configVersion, e.version);
    const text = formatStanza({ ...e, status: { want: 'install', flag: 'ok', state: 'half-configured' } });
    assert.match(text, /^Version: 1\.0\nConfig-Version: 1\.0\n/m);
  });

  for (const [what, text, line, problem] of [
    ['a missing Version', stanza({ Package: 'a', Status: 'install ok installed' }), 1, /missing 'Version' field/],
    ['a bad status word', stanza({ Package: 'a', Status: 'install ok nowhere' }), 2, /third \(status\) word in 'Status' field: has invalid value 'nowhere'/],
    ['trailing junk in Status', stanza({ Package: 'a', Status: 'install ok installed x', Version: '1' }), 2, /has trailing junk/],
    ['a Config-Version on an installed package', installed('a', 'all', { 'Config-Version': '1.0' }), 1, /'Config-Version' field present/],
    ['pending triggers on an installed package', installed('a', 'all', { 'Triggers-Pending': 't' }), 1, /status installed but triggers are pending/],
    ['triggers-pending without triggers', stanza({ Package: 'a', Status: 'install ok triggers-pending', Version: '1' }), 1, /no triggers pending/],
    ['Multi-Arch: same on arch all', installed('a', 'all', { 'Multi-Arch': 'same' }), 1, /'Multi-Arch: same' field but is architecture 'all'/],
    ['a repeated field', 'Package: a\nVersion: 1\nversion: 2\n', 3, /duplicate value for 'version' field/],
    ['a one-letter field', 'Package: a\nX: 1\n', 2, /user-defined field name 'X' too short/],
    ['a bad package name', 'Package: -a\n', 1, /invalid package name/],
    ['a malformed Conffiles line', installed('a', 'all', { Conffiles: '\n /etc/x' }), 6, /malformed line/],
    ['an empty version', 'Package: a\nStatus: install ok installed\nVersion: \nDescription: d\n', 3, /version string is empty/],
  ] as const) {
    it(`refuses ${what}, naming file and line`, () => {
      assert.throws(() => readEntries(b(text), 'status', 'status'), refusal('status', line, problem));
    });
  }

  it('forgets what dpkg forgets on reading, and then writes nothing for the package', () => {
    const purged = one(stanza({ Package: 'a', Status: 'purge ok not-installed', Architecture: 'all', Version: '1', Maintainer: 'm', Conffiles: '\n /etc/a 00' }));
    assert.equal(purged.status.want, 'unknown');
    assert.equal(purged.version, undefined);
    assert.deepEqual(purged.conffiles, []);
    assert.equal(purged.raw, undefined, 'normalised: written in canonical form, not as read');
    assert.equal(isInformative(purged), false);
    const selection = one(stanza({ Package: 'a', Status: 'install ok not-installed' }));
    assert.equal(selection.status.want, 'unknown', 'an install selection without architecture is dropped from status');
    const fromUpdate = one(stanza({ Package: 'a', Status: 'install ok not-installed' }), 'update');
    assert.equal(fromUpdate.status.want, 'install', '... but not from an update entry');
    const kept = one(stanza({ Package: 'a', Status: 'install ok not-installed', Architecture: 'amd64' }));
    assert.ok(isInformative(kept), 'a selection with architecture stays');
  });

  it('maps obsolete fields to their modern forms', () => {
    const e = one(installed('a', 'all', { Recommended: 'x', Optional: 'y', Revision: '3', Class: 'extra' }));
    assert.match(formatStanza(e), /^Priority: extra\n[^]*^Version: 1\.0-3\n[^]*^Recommends: x\nSuggests: y\n/m);
    assert.doesNotMatch(formatStanza(e), /Recommended|Optional|Revision|Class/);
  });
});

describe('Conffiles field', () => {
  it('reads paths with spaces and both flags, in dpkg order, and writes them back the same', () => {
    const value = b('\n /etc/with space.conf 0123\n ./etc/x newconffile obsolete\n /etc/y - remove-on-upgrade\n /etc/z 9 obsolete remove-on-upgrade');
    const c = parseConffiles(value);
    assert.deepEqual(
      c.map((x) => [x.path, x.hash, x.obsolete, x.removeOnUpgrade]),
      [
        ['/etc/with space.conf', '0123', false, false],
        ['/etc/x', 'newconffile', true, false],
        ['/etc/y', '-', false, true],
        ['/etc/z', '9', true, true],
      ],
    );
    assert.equal(formatConffilesField(c), `Conffiles:${value.replace(' ./etc/x', ' /etc/x')}`);
  });

  it('refuses a line without hash, or starting with something else than a space', () => {
    assert.throws(() => parseConffiles(b('\n /etc/x')), /malformed line/);
    assert.throws(() => parseConffiles(b('\n/etc/x 0')), /starting with non-space '\/'/);
  });
});

describe('where stanzas land (status and update entries)', () => {
  it('keeps the instances of a Multi-Arch: same pair apart, and orders them as dpkg does', () => {
    const t = new PackageTable('amd64');
    loadStatus(t, b([installed('z', 'i386'), installed('lib', 'i386', { 'Multi-Arch': 'same' }), installed('lib', 'amd64', { 'Multi-Arch': 'same' }), installed('a', 'all')].join('\n')), 's');
    assert.deepEqual(
      t.sorted().map((e) => `${e.name}:${e.arch}`),
      ['a:all', 'lib:amd64', 'lib:i386', 'z:i386'],
    );
  });

  it('gives the order as the table is now after every change (a new instance, a cross-grade, a forgotten one)', () => {
    const t = new PackageTable('amd64');
    loadStatus(t, b([installed('m', 'all'), installed('tool', 'amd64')].join('\n')), 's');
    const first = t.sorted();
    first.pop(); // the caller's copy: the table's order is not changed by it
    assert.deepEqual(t.sorted().map((e) => `${e.name}:${e.arch}`), ['m:all', 'tool:amd64']);
    loadUpdate(t, b(installed('a', 'all')), 'updates/0000');
    assert.deepEqual(t.sorted().map((e) => `${e.name}:${e.arch}`), ['a:all', 'm:all', 'tool:amd64']);
    loadUpdate(t, b(installed('tool', 'i386', { Version: '2.0' })), 'updates/0001');
    assert.deepEqual(t.sorted().map((e) => `${e.name}:${e.arch}`), ['a:all', 'm:all', 'tool:i386']);
    t.delete('m', 'all');
    assert.deepEqual(t.sorted().map((e) => `${e.name}:${e.arch}`), ['a:all', 'tool:i386']);
  });

  it('lets an update entry cross-grade the only installed instance, whatever its architecture', () => {
    const t = new PackageTable('amd64');
    loadStatus(t, b(installed('tool', 'amd64')), 's');
    loadUpdate(t, b(installed('tool', 'i386', { Version: '2.0' })), 'updates/0000');
    assert.deepEqual(t.instances('tool').map((e) => e.arch), ['i386']);
  });

  it('keeps Section and Priority the instance already had (dpkg reads updates with weak classification)', () => {
    const t = new PackageTable('amd64');
    loadStatus(t, b(installed('a', 'all', { Priority: 'optional', Section: 'misc' })), 's');
    const [{ stored }] = loadUpdate(t, b(installed('a', 'all', { Priority: 'required', Section: 'admin', Version: '2' })), 'updates/0000').landed;
    assert.equal(stored?.section, 'misc');
    assert.equal(stored?.priority, 'optional');
    assert.equal(stored?.raw, undefined);
    assert.match(formatStatus(t), /^Priority: optional\nSection: misc\n/m);
  });

  it('refuses two installed instances that cannot be co-installed, naming the line', () => {
    const t = new PackageTable('amd64');
    assert.throws(() => loadStatus(t, b(`${installed('x', 'amd64')}\n${installed('x', 'i386')}`), 'status'), refusal('status', 8, /multiple non-coinstallable/));
  });

  it('applies every stanza of an update file, as the reader of dpkg does; blank lines or nothing are nothing', () => {
    const t = new PackageTable('amd64');
    assert.equal(loadUpdate(t, b(`${installed('a', 'all')}\n${installed('b', 'all')}`), 'u').landed.length, 2);
    assert.deepEqual(t.sorted().map((e) => e.name), ['a', 'b']);
    assert.deepEqual(loadUpdate(t, b('\n\n'), 'u').landed, []);
    assert.deepEqual(loadUpdate(t, b(''), 'u').landed, []);
  });
});
