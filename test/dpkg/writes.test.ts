import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Paragraph } from '../../src/control/paragraph';
import { DpkgDb, type InfoChange } from '../../src/dpkg/dpkg-db';
import { applyInfoState } from '../../src/dpkg/info-files';
import { adminDir } from '../../src/dpkg/admindir';
import { OvermergeError } from '../../src/errors';

/**
 * Writing: update entries and checkpoints on a database that starts empty (or does not exist), dpkg's
 * checkpoint after 250 entries, the crash windows of a checkpoint and of an info-file change, and the
 * layout of info/. Real dpkg-query reads the results where it is installed.
 */
const hasDpkgQuery = spawnSync('sh', ['-c', 'command -v dpkg-query']).status === 0;

function paragraph(name: string, status: string, extra: Array<[string, string]> = []): Paragraph {
  return new Paragraph([
    ['Package', name],
    ['Status', status],
    ['Maintainer', 'overmerge tests <tests@overmerge.invalid>'],
    ['Architecture', 'amd64'],
    ['Version', '1.0'],
    ...extra,
    ['Description', `${name} test package`],
  ]);
}

function dpkgQuery(admin: string, ...args: string[]): string {
  const res = spawnSync('dpkg-query', [`--admindir=${admin}`, ...args], { encoding: 'utf8' });
  return `${res.stdout}${res.stderr}`;
}

describe('writing dpkg database', () => {
  let work: string;
  let admin: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-dpkgw-'));
    admin = path.join(work, 'var/lib/dpkg');
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  it('starts from an admin directory that does not exist, as dpkg does', () => {
    const db = DpkgDb.open(admin, { nativeArch: 'amd64' });
    assert.deepEqual(db.packages(), []);
    db.writePackage(paragraph('hello', 'install ok unpacked'));
    assert.deepEqual(fs.readdirSync(path.join(admin, 'updates')), ['0000']);
    if (hasDpkgQuery) assert.equal(dpkgQuery(admin, '-W', '-f', '${Status}', 'hello'), 'install ok unpacked');
    db.checkpoint();
    assert.match(fs.readFileSync(path.join(admin, 'status'), 'utf8'), /^Package: hello\nStatus: install ok unpacked\n/);
    assert.equal(fs.existsSync(path.join(admin, 'status-old')), false);
    assert.deepEqual(fs.readdirSync(path.join(admin, 'updates')), []);
  });

  it('checkpoints by itself after 251 entries, as dpkg does, and numbers on from 0000', () => {
    const db = DpkgDb.open(admin, { nativeArch: 'amd64' });
    db.writePackage(paragraph('hello', 'install ok unpacked'));
    db.checkpoint();
    const states = ['half-configured', 'unpacked'] as const;
    for (let i = 0; i < 250; i++) db.setStatus({ name: 'hello' }, { want: 'install', flag: 'ok', state: states[i % 2] });
    assert.equal(db.pendingUpdates, 250);
    assert.ok(fs.existsSync(path.join(admin, 'updates/0249')));
    db.setStatus({ name: 'hello' }, { want: 'install', flag: 'ok', state: 'installed' });
    assert.equal(db.pendingUpdates, 0);
    assert.deepEqual(fs.readdirSync(path.join(admin, 'updates')), []);
    assert.match(fs.readFileSync(path.join(admin, 'status'), 'utf8'), /^Status: install ok installed$/m);
    db.setStatus({ name: 'hello' }, { want: 'hold', flag: 'ok', state: 'installed' });
    assert.deepEqual(fs.readdirSync(path.join(admin, 'updates')), ['0000']);
  });

  it('survives a crash between the status rename and the removal of the entries: they apply again to the same result', () => {
    const db = DpkgDb.open(admin, { nativeArch: 'amd64' });
    db.writePackage(paragraph('a', 'install ok installed'));
    db.writePackage(paragraph('b', 'install ok unpacked', [['Config-Version', '0.9']]));
    db.setStatus({ name: 'a' }, { want: 'deinstall', flag: 'ok', state: 'half-installed' });
    const updates = path.join(admin, 'updates');
    const saved = new Map(fs.readdirSync(updates).map((n) => [n, fs.readFileSync(path.join(updates, n))]));
    db.checkpoint();
    const status = fs.readFileSync(path.join(admin, 'status'));
    for (const [n, bytes] of saved) fs.writeFileSync(path.join(updates, n), bytes); // "not yet removed"
    const again = DpkgDb.open(admin, { nativeArch: 'amd64' });
    assert.deepEqual(again.packages().map((p) => p.paragraph.fields), db.packages().map((p) => p.paragraph.fields));
    again.checkpoint();
    assert.ok(fs.readFileSync(path.join(admin, 'status')).equals(status));
  });

  it('keeps dpkg\'s rules for the fields of a status change (triggers, Config-Version)', () => {
    const db = DpkgDb.open(admin, { nativeArch: 'amd64' });
    db.writePackage(paragraph('t', 'install ok triggers-pending', [['Triggers-Pending', '/usr/share/t other-trigger']]));
    assert.deepEqual(db.get('t')?.triggersPending, ['/usr/share/t', 'other-trigger']);
    db.setStatus({ name: 't' }, { want: 'install', flag: 'ok', state: 'installed' });
    assert.deepEqual(db.get('t')?.triggersPending, [], 'dropped once the state no longer has them');
    db.setStatus({ name: 't' }, { want: 'install', flag: 'ok', state: 'half-configured' });
    assert.equal(db.get('t')?.paragraph.get('Config-Version'), '1.0', 'installed implied Config-Version = Version');
    db.setStatus({ name: 't' }, { want: 'install', flag: 'ok', state: 'unpacked' }, { configVersion: null });
    assert.equal(db.get('t')?.paragraph.get('Config-Version'), undefined);
    assert.throws(
      () => db.planStatus({ name: 't' }, { want: 'install', flag: 'ok', state: 'triggers-pending' }),
      (err: unknown) => err instanceof OvermergeError && /triggers-pending with awaited or without pending triggers/.test(err.message),
    );
    assert.throws(() => db.planStatus({ name: 'nope' }, { want: 'install', flag: 'ok', state: 'installed' }), /not in the dpkg database/);
    assert.throws(() => db.planPackage(new Paragraph([['Package', 'x'], ['Version', '1']])), /no Status field/);
  });

  it('makes a package\'s paragraph once per stanza: shared by its views, frozen, made again after a change', () => {
    const db = DpkgDb.open(admin, { nativeArch: 'amd64' });
    db.writePackage(paragraph('p', 'install ok unpacked'));
    const first = db.get('p')?.paragraph;
    assert.ok(first);
    assert.equal(db.get('p')?.paragraph, first, 'another view of the same stanza');
    assert.equal(db.packages().find((v) => v.name === 'p')?.paragraph, first);
    assert.throws(() => first.set('Status', 'install ok installed'), TypeError, 'a shared paragraph cannot be changed');
    assert.equal(first.get('Status'), 'install ok unpacked');
    db.setStatus({ name: 'p' }, { want: 'install', flag: 'ok', state: 'installed' });
    const after = db.get('p')?.paragraph;
    assert.notEqual(after, first);
    assert.equal(after?.get('Status'), 'install ok installed');
  });

  it('names info files as dpkg does, switches layout when Multi-Arch changes, and undoes a change from any point', () => {
    const db = DpkgDb.open(admin, { nativeArch: 'amd64' });
    const mono = { name: 'lib', arch: 'amd64', multiArch: 'no' as const };
    db.writeFileList(mono, ['/.', '/usr', '/usr/lib/libx.so.1']);
    db.writeInfoFiles(mono, { postinst: Buffer.from('#!/bin/sh\n'), shlibs: Buffer.from('libx 1 lib\n') });
    db.writePackage(paragraph('lib', 'install ok installed'));
    const info = (): string[] => fs.readdirSync(path.join(admin, 'info')).sort();
    assert.deepEqual(info(), ['format', 'lib.list', 'lib.postinst', 'lib.shlibs']);
    assert.equal(fs.readFileSync(path.join(admin, 'info/format'), 'utf8'), '1\n');
    assert.equal(fs.statSync(path.join(admin, 'info/lib.postinst')).mode & 0o777, 0o755);
    assert.equal(fs.statSync(path.join(admin, 'info/lib.shlibs')).mode & 0o777, 0o644);
    assert.deepEqual(db.files({ name: 'lib' }), ['/.', '/usr', '/usr/lib/libx.so.1']);

    // The new version is Multi-Arch: same: name:arch files, the old layout's files (.list too) go.
    const same = { ...mono, multiArch: 'same' as const };
    const list = db.planFileList(same, ['/.', '/usr', '/usr/lib/libx.so.2']);
    const files = db.planInfoFiles(same, { postinst: Buffer.from('#!/bin/sh\nexit 0\n'), triggers: Buffer.from('activate-noawait ldconfig\n') });
    const beforeInfo = snapshot(admin);
    db.apply(list);
    db.apply(files);
    db.apply(files); // idempotent
    assert.deepEqual(info(), ['format', 'lib:amd64.list', 'lib:amd64.postinst', 'lib:amd64.triggers']);
    assert.equal(fs.existsSync(path.join(admin, 'tmp.ci')), false);

    // A crash half-way through: some of the new files in place. Reverting restores the old state exactly.
    db.revert(files);
    db.revert(list);
    assert.deepEqual(snapshot(admin), beforeInfo);
    const half = { kind: 'info', before: files.before, after: Object.fromEntries(Object.entries(files.after).slice(0, 2)) } as InfoChange;
    applyInfoState(adminDir(admin), half.after);
    db.revert(files);
    assert.deepEqual(snapshot(admin), beforeInfo);
  });

  it('converts a legacy info/ only when nothing needs dpkg\'s conversion', () => {
    fs.mkdirSync(path.join(admin, 'info'), { recursive: true });
    fs.writeFileSync(path.join(admin, 'status'), `${formatStatusStanza('lib', 'Multi-Arch: same\n')}\n`);
    fs.writeFileSync(path.join(admin, 'info/lib.list'), '/.\n');
    const db = DpkgDb.open(admin, { nativeArch: 'amd64' });
    assert.deepEqual(db.files({ name: 'lib' }), ['/.'], 'legacy format: a Multi-Arch: same package uses the bare name');
    const owner = { name: 'other', arch: 'amd64', multiArch: 'no' as const };
    assert.throws(() => db.planInfoFiles(owner, {}), /legacy format holds files of Multi-Arch: same package lib/);
    fs.unlinkSync(path.join(admin, 'info/lib.list'));
    db.writeInfoFiles(owner, { postinst: Buffer.from('x') });
    assert.equal(fs.readFileSync(path.join(admin, 'info/format'), 'utf8'), '1\n');
  });

  it('writes diversions and statoverride as dpkg-divert and dpkg-statoverride do, keeping the -old copy', () => {
    const db = DpkgDb.open(admin, { nativeArch: 'amd64' });
    const divert = db.planDiversions([
      { from: '/usr/bin/a', to: '/usr/bin/a.real', package: 'pkg' },
      { from: '/etc/b', to: '/etc/b.local', package: null },
    ]);
    db.apply(divert);
    assert.equal(fs.readFileSync(path.join(admin, 'diversions'), 'utf8'), '/usr/bin/a\n/usr/bin/a.real\npkg\n/etc/b\n/etc/b.local\n:\n');
    const stat = db.planStatOverrides([{ user: 'root', group: '#42', mode: 0o4755, path: '/usr/bin/with space' }]);
    db.apply(stat);
    assert.equal(fs.readFileSync(path.join(admin, 'statoverride'), 'utf8'), 'root #42 4755 /usr/bin/with space\n');
    if (hasDpkgQuery) {
      const listed = spawnSync('dpkg-divert', [`--admindir=${admin}`, '--list'], { encoding: 'utf8' }).stdout;
      assert.match(listed, /^diversion of \/usr\/bin\/a to \/usr\/bin\/a\.real by pkg$/m);
      assert.match(listed, /^local diversion of \/etc\/b to \/etc\/b\.local$/m);
    }
    assert.throws(() => db.planDiversions([{ from: '/x', to: '/y', package: null }, { from: '/y', to: '/z', package: null }]), /conflicting diversions/);
    db.apply(db.planDiversions([]));
    assert.equal(fs.readFileSync(path.join(admin, 'diversions-old'), 'utf8'), '/usr/bin/a\n/usr/bin/a.real\npkg\n/etc/b\n/etc/b.local\n:\n');
    db.revert(divert);
    db.revert(stat);
    assert.equal(fs.existsSync(path.join(admin, 'diversions')), false);
    assert.deepEqual(db.diversions, []);
    assert.deepEqual(db.statoverrides, []);
  });
});

function formatStatusStanza(name: string, extra: string): string {
  return `Package: ${name}\nStatus: install ok installed\nMaintainer: m\nArchitecture: amd64\n${extra}Version: 1\nDescription: d\n`;
}

/** Every file under info/ with its mode and bytes. */
function snapshot(admin: string): Record<string, string> {
  const dir = path.join(admin, 'info');
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((n) => [n, `${(fs.statSync(path.join(dir, n)).mode & 0o7777).toString(8)} ${fs.readFileSync(path.join(dir, n), 'base64')}`]),
  );
}
