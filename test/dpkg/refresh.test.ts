import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import realFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DpkgDb } from '../../src/dpkg/dpkg-db';
import { RACY_WINDOW_NS } from '../../src/dpkg/identity';
import { cannotRunDpkg, dpkg, NATIVE, query, tool } from './dpkg-root';
import { buildScenario, type Scenario } from './scenario';

/**
 * refresh(): what dpkg, apt and maintainer scripts change behind our back is picked up, and only that is
 * read again. An unchanged database costs a stat per watched file or directory and nothing else.
 */
const skip = cannotRunDpkg();
const NOTHING = { reloaded: false, updatesRead: 0, packages: [], diversions: false, statoverrides: false, architectures: false, triggers: [], info: false };

describe('dpkg database refresh', { skip }, () => {
  let work: string;
  let s: Scenario;
  let db: DpkgDb;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-dpkgref-'));
    s = await buildScenario(work);
    db = DpkgDb.open(s.admin, { nativeArch: NATIVE });
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** Waits until nothing seen is recent enough to be "racy", so that a refresh must trust its stats. */
  const settle = (): Promise<void> => sleep(Number(RACY_WINDOW_NS / 1_000_000n) + 100);

  it('costs only stats when nothing changed: no open, read or directory listing', async () => {
    await settle();
    assert.deepEqual(db.refresh(), NOTHING); // observations made after the settling
    await settle();
    const calls = countFsCalls(() => assert.deepEqual(db.refresh(), NOTHING));
    assert.deepEqual(calls.reads, 0, 'opened, read or listed something');
    assert.equal(calls.stats, 7, "one stat each: status, updates/, diversions, statoverride, arch, triggers/, info/");
  });

  it('sees a diversion added by dpkg-divert, and nothing else', () => {
    tool(s, 'dpkg-divert', ['--local', '--add', '--divert', '/usr/share/gamma/data-all.moved', '/usr/share/gamma/data-all']);
    assert.deepEqual(db.refresh(), { ...NOTHING, diversions: true });
    assert.ok(db.diversions.some((d) => d.from === '/usr/share/gamma/data-all' && d.to === '/usr/share/gamma/data-all.moved' && d.package === null));
  });

  it('sees a statoverride and a trigger activation made by the tools', () => {
    tool(s, 'dpkg-statoverride', ['--add', 'root', 'root', '0640', '/etc/beta/beta.conf']);
    tool(s, 'dpkg-trigger', ['--no-await', '--by-package=alpha', 'overmerge-test-trigger']);
    assert.deepEqual(db.refresh(), { ...NOTHING, statoverrides: true, triggers: ['Unincorp'] });
    assert.equal(db.triggers.get('Unincorp')?.toString(), 'overmerge-test-trigger -\n');
    assert.equal(db.statoverrides.length, 2);
  });

  it('sees a file rewritten in place with its size and mtime kept (the ctime gives it away)', () => {
    const file = path.join(s.admin, 'statoverride');
    const st = fs.statSync(file);
    const text = fs.readFileSync(file, 'utf8').replace(' 640 ', ' 644 ');
    assert.ok(text.includes(' 644 '), text);
    fs.writeFileSync(file, text);
    fs.utimesSync(file, st.atime, st.mtime);
    assert.deepEqual(db.refresh(), { ...NOTHING, statoverrides: true });
    assert.ok(db.statoverrides.some((o) => o.mode === 0o644));
  });

  it('picks up an update entry added behind our back without reading status again', () => {
    const entry = query(s, 'dpkg-query', ['-s', 'alpha']).replace('Status: install ok triggers-pending', 'Status: hold ok triggers-pending');
    fs.writeFileSync(path.join(s.admin, 'updates', '0000'), entry);
    const r = db.refresh();
    assert.deepEqual(r, { ...NOTHING, updatesRead: 1, packages: ['alpha:all'] });
    assert.equal(db.get('alpha')?.status.want, 'hold');
  });

  it('does not report its own writes as changes', () => {
    db.setStatus({ name: 'beta' }, { want: 'hold', flag: 'ok', state: 'installed' });
    assert.deepEqual(db.refresh(), NOTHING);
    assert.equal(db.pendingUpdates, 2);
  });

  it('reads everything again after dpkg rewrote status (dpkg -r, dpkg -P), and names only what really changed', () => {
    dpkg(s, ['-r', 'gamma']);
    const r = db.refresh();
    assert.equal(r.reloaded, true);
    // dpkg incorporated the pending entries (alpha and beta on hold) into status: the same stanzas as
    // ours, so only the removed package changed.
    assert.deepEqual(r.packages, ['gamma:all']);
    assert.equal(r.info, true);
    assert.equal(db.pendingUpdates, 0);
    assert.equal(db.get('gamma')?.status.state, 'config-files');
    assert.equal(db.get('beta')?.status.want, 'hold');
    dpkg(s, ['-P', 'delta']);
    assert.deepEqual(db.refresh().packages, ['delta:all']);
    assert.equal(db.get('delta'), undefined);
  });
});

describe('dpkg database refresh under the lock (exclusive)', { skip }, () => {
  // Under dpkg's lock the tables change only through the DpkgDb or a maintainer script it is told of
  // (othersMayHaveWritten): until then refreshTables does not look.
  let work: string;
  let s: Scenario;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-dpkgexcl-'));
    s = await buildScenario(work);
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it('lists neither updates/ nor info/ again right after its own writes, and knows what it wrote', async () => {
    // The scenario's other files (diversions, triggers/ …) past the racy window: only our writes are recent.
    await sleep(Number(RACY_WINDOW_NS / 1_000_000n) + 100);
    const db = DpkgDb.open(s.admin, { nativeArch: NATIVE, exclusive: true });
    try {
      const owner = { name: 'beta', arch: NATIVE, multiArch: 'no' as const };
      db.writeInfoFiles(owner, { postinst: Buffer.from('#!/bin/sh\n'), triggers: Buffer.from('interest x\n') });
      db.setStatus({ name: 'beta' }, { want: 'hold', flag: 'ok', state: 'installed' });
      // Both directories changed within the last second ("racy"): a shared reader lists them again.
      const calls = countFsCalls(() => assert.deepEqual(db.refresh(), NOTHING));
      assert.equal(calls.reads, 0, 'listed or read something');
      assert.deepEqual(db.infoFiles({ name: 'beta' }), fs.readdirSync(path.join(s.admin, 'info')).filter((n) => n.startsWith('beta.')).map((n) => n.slice('beta.'.length)).sort());
      assert.ok(db.infoFiles({ name: 'beta' }).includes('triggers'));
      db.removeInfoFiles(owner, ['list']);
      assert.deepEqual(db.infoFiles({ name: 'beta' }), ['list']);
      assert.deepEqual(fs.readdirSync(path.join(s.admin, 'info')).filter((n) => n.startsWith('beta.')), ['beta.list']);
    } finally {
      db.close();
    }
  });

  it('holds info/format and the small info files it read, and reads again what it wrote; a shared reader reads every time', () => {
    const db = DpkgDb.open(s.admin, { nativeArch: NATIVE, exclusive: true });
    const shared = DpkgDb.open(s.admin, { nativeArch: NATIVE });
    try {
      const onDisk = fs.readFileSync(path.join(s.admin, 'info', 'alpha.triggers'));
      assert.deepEqual(db.readInfoFile({ name: 'alpha' }, 'triggers'), onDisk);
      const again = countFsCalls(() => assert.deepEqual(db.readInfoFile({ name: 'alpha' }, 'triggers'), onDisk));
      assert.deepEqual(again, { reads: 0, stats: 0 }, 'neither the format nor the file read again');
      assert.equal(db.readInfoFile({ name: 'alpha' }, 'no-such-type'), undefined);
      assert.equal(countFsCalls(() => db.readInfoFile({ name: 'alpha' }, 'no-such-type')).stats, 0, 'an absent file is held as absent');

      const owner = { name: 'beta', arch: NATIVE, multiArch: 'no' as const };
      db.writeInfoFiles(owner, { triggers: Buffer.from('interest one\n') });
      assert.equal(db.readInfoFile({ name: 'beta' }, 'triggers')?.toString(), 'interest one\n');
      db.writeInfoFiles(owner, { triggers: Buffer.from('interest two\n') });
      assert.equal(db.readInfoFile({ name: 'beta' }, 'triggers')?.toString(), 'interest two\n', 'its own write drops what it held');

      // Not under the lock, anyone may write info/: every read reads.
      assert.equal(shared.readInfoFile({ name: 'beta' }, 'triggers')?.toString(), 'interest two\n');
      fs.writeFileSync(path.join(s.admin, 'info', 'beta.triggers'), 'interest three\n');
      assert.equal(shared.readInfoFile({ name: 'beta' }, 'triggers')?.toString(), 'interest three\n');
    } finally {
      shared.close();
      db.close();
    }
  });

  it('still sees what changed the directories\' stat (an entry dpkg left, info files removed) once told someone else wrote', async () => {
    const db = DpkgDb.open(s.admin, { nativeArch: NATIVE, exclusive: true });
    try {
      db.setStatus({ name: 'beta' }, { want: 'install', flag: 'ok', state: 'installed' });
      await sleep(20); // past the filesystem clock's tick: the change below moves the directories' mtime
      const entry = query(s, 'dpkg-query', ['-s', 'gamma']).replace(/^Status: install /m, 'Status: hold ');
      const next = fs.readdirSync(path.join(s.admin, 'updates')).filter((n) => /^[0-9]+$/.test(n)).sort().pop();
      fs.writeFileSync(path.join(s.admin, 'updates', String(Number(next) + 1).padStart(4, '0')), entry);
      const gone = fs.readdirSync(path.join(s.admin, 'info')).find((n) => n.startsWith('gamma.') && n !== 'gamma.list');
      assert.ok(gone, 'gamma has an info file besides its list');
      fs.rmSync(path.join(s.admin, 'info', gone));
      // Under the lock only a maintainer script writes beside us, and whoever runs one says so.
      assert.equal(db.refreshTables().updatesRead, 0, 'looked before being told');
      db.othersMayHaveWritten();
      const r = db.refresh();
      assert.equal(r.updatesRead, 1);
      assert.deepEqual(r.packages, ['gamma:all']);
      assert.equal(db.get('gamma')?.status.want, 'hold');
      assert.ok(!db.infoFiles({ name: 'gamma' }).includes(gone.slice('gamma.'.length)));
    } finally {
      db.close();
    }
  });

  it('looks at the tables a script may write (dpkg-divert, dpkg-trigger) only after being told one ran', () => {
    const db = DpkgDb.open(s.admin, { nativeArch: NATIVE, exclusive: true });
    try {
      db.refreshTables();
      tool(s, 'dpkg-divert', ['--local', '--add', '--divert', '/usr/share/alpha/told.moved', '/usr/share/alpha/told']);
      tool(s, 'dpkg-trigger', ['--no-await', '--by-package=alpha', 'overmerge-told-trigger']);
      const before = db.refreshTables();
      assert.equal(before.diversions, false);
      assert.deepEqual(before.triggers, []);
      db.othersMayHaveWritten();
      const after = db.refreshTables();
      assert.equal(after.diversions, true);
      assert.deepEqual(after.triggers, ['Unincorp']);
      assert.ok(db.diversions.some((d) => d.from === '/usr/share/alpha/told'));
    } finally {
      db.close();
    }
  });
});

/** Counts the fs calls `fn` makes that read (open, read, readdir) and those that only stat. */
function countFsCalls(fn: () => void): { reads: number; stats: number } {
  // The module object itself (the namespace import is a read-only view of it): src/ reads it at each call.
  const mutable = realFs as unknown as Record<string, unknown>;
  const counts = { reads: 0, stats: 0 };
  const names = { reads: ['openSync', 'readFileSync', 'readdirSync', 'readSync'], stats: ['statSync', 'lstatSync', 'fstatSync'] };
  const saved = new Map<string, unknown>();
  for (const [kind, list] of Object.entries(names) as Array<['reads' | 'stats', string[]]>) {
    for (const name of list) {
      const original = mutable[name] as (...a: unknown[]) => unknown;
      saved.set(name, original);
      mutable[name] = (...args: unknown[]) => {
        counts[kind]++;
        return original.apply(realFs, args);
      };
    }
  }
  try {
    fn();
  } finally {
    for (const [name, original] of saved) mutable[name] = original;
  }
  return counts;
}
