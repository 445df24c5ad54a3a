import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatParagraph } from '../../src/control/deb822';
import { DpkgDb } from '../../src/dpkg/dpkg-db';
import { OvermergeError } from '../../src/errors';
import { buildDeb, cannotRunDpkg, dpkg, makeDpkgRoot, NATIVE, query, queryAll, quietPackage, snapshotTree, type DpkgRoot } from './dpkg-root';

/**
 * Pending update entries, as an interrupted dpkg leaves them: `dpkg -P alpha` is killed (SIGKILL, by a
 * trigger script of another package) after it recorded a dozen steps in updates/ and before its final
 * checkpoint, leaving `tmp.i` full of padding too. overmerge must read that database as dpkg-query does,
 * and incorporate it as dpkg does.
 */
const skip = cannotRunDpkg();
const FORMAT = '${binary:Package}|${Status}|${Version}|${Config-Version}|${Conffiles}\n';

describe('pending update entries (interrupted dpkg)', { skip }, () => {
  let work: string;
  let r: DpkgRoot;
  let pending: string[];

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-dpkgupd-'));
    r = makeDpkgRoot(path.join(work, 'root'));
    const alpha = await buildDeb(work, quietPackage('alpha', '1.0'));
    const killer = '#!/bin/sh\nif [ "$1" = triggered ]; then kill -9 "$PPID"; fi\nexit 0\n';
    const watcher = await buildDeb(
      work,
      quietPackage('watcher', '1', 'all', { controlMembers: { postinst: killer, triggers: 'interest-noawait /usr/share/alpha\n' } }),
    );
    dpkg(r, ['-i', alpha, watcher]);
    const killed = dpkg(r, ['-P', 'alpha'], { allowFail: true });
    assert.notEqual(killed.status, 0, 'dpkg was meant to be killed');
    pending = fs.readdirSync(path.join(r.admin, 'updates')).sort();
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it('applies them as dpkg-query does, ignoring tmp.i', () => {
    assert.ok(pending.includes('tmp.i') && pending.filter((n) => /^\d{4}$/.test(n)).length >= 5, pending.join(' '));
    const db = DpkgDb.open(r.admin, { nativeArch: NATIVE });
    assert.equal(db.pendingUpdates, pending.length - 1);
    const theirs = queryAll(r, FORMAT).filter((l) => !l.includes('|unknown ok not-installed|'));
    const ours = db.packages().map((p) => {
      const cf = p.conffiles.map((c) => `\n ${c.path} ${c.hash}${c.obsolete ? ' obsolete' : ''}${c.removeOnUpgrade ? ' remove-on-upgrade' : ''}`).join('');
      const shownConfig = ['installed', 'triggers-pending', 'not-installed'].includes(p.status.state) ? '' : (p.configVersion ?? '');
      return `${p.displayName}|${p.status.want} ${p.status.flag} ${p.status.state}|${p.version ?? ''}|${shownConfig}|${cf.slice(1)}`;
    });
    assert.deepEqual(ours.join('\n').split('\n'), theirs.join('\n').split('\n'));
    assert.equal(db.get('watcher')?.status.state, 'half-configured');
    for (const p of db.packages()) assert.equal(formatParagraph(p.paragraph).trimEnd(), query(r, 'dpkg-query', ['-s', p.displayName]).trimEnd());
  });

  it('continues the numbering after them, and dpkg-query reads the new entry last', () => {
    const copy = copyRoot(r, path.join(work, 'continued'));
    const db = DpkgDb.open(copy.admin, { nativeArch: NATIVE });
    const last = pending.filter((n) => /^\d+$/.test(n)).pop()!;
    db.setStatus({ name: 'watcher' }, { want: 'hold', flag: 'ok', state: 'half-configured' });
    const next = String(Number(last) + 1).padStart(4, '0');
    assert.ok(fs.existsSync(path.join(copy.admin, 'updates', next)), `expected updates/${next}`);
    assert.equal(query(copy, 'dpkg-query', ['-W', '-f', '${Status}', 'watcher']), 'hold ok half-configured');
  });

  it('incorporates them into status exactly as dpkg does, removing them and the stale tmp.i', () => {
    const ours = copyRoot(r, path.join(work, 'ours'));
    const theirs = copyRoot(r, path.join(work, 'theirs'));
    DpkgDb.open(ours.admin, { nativeArch: NATIVE }).checkpoint();
    dpkg(theirs, ['--set-selections'], { input: '' });
    assert.equal(fs.readFileSync(path.join(ours.admin, 'status'), 'utf8'), fs.readFileSync(path.join(theirs.admin, 'status'), 'utf8'));
    assert.deepEqual(fs.readdirSync(path.join(ours.admin, 'updates')), []);
    assert.deepEqual(fs.readdirSync(path.join(theirs.admin, 'updates')), []);
  });

  it('refuses what dpkg refuses in updates/, with one line, writing nothing', () => {
    const cases: Array<[string, (updates: string) => void, RegExp]> = [
      ['names of different lengths', (u) => fs.writeFileSync(path.join(u, '00099'), 'Package: watcher\nStatus: install ok installed\nVersion: 1\n'), /different length names/],
      ['a name longer than 10 digits', (u) => fs.writeFileSync(path.join(u, '12345678901'), ''), /whose name is too long/],
      ['a broken entry', (u) => fs.writeFileSync(path.join(u, '0099'), 'Package: watcher\nStatus: install ok broken\n'), /updates\/0099:2: third \(status\) word/],
      ['a broken second stanza in an entry', (u) => fs.writeFileSync(path.join(u, '0099'), 'Package: watcher\nStatus: install ok half-configured\nVersion: 1\n\nPackage: x\nStatus: bogus ok installed\n'), /updates\/0099:6: first \(want\) word/],
    ];
    for (const [what, corrupt, problem] of cases) {
      const copy = copyRoot(r, path.join(work, `bad-${what.replace(/\W+/g, '-')}`));
      const db = DpkgDb.open(copy.admin, { nativeArch: NATIVE });
      corrupt(path.join(copy.admin, 'updates'));
      const beforeTree = snapshotTree(copy.admin);
      for (const attempt of [() => DpkgDb.open(copy.admin, { nativeArch: NATIVE }), () => db.checkpoint(), () => db.setStatus({ name: 'watcher' }, { want: 'hold', flag: 'ok', state: 'half-configured' })]) {
        assert.throws(attempt, (err: unknown) => err instanceof OvermergeError && err.code === 'E_DPKG_DB' && !err.message.includes('\n') && problem.test(err.message), what);
      }
      assert.deepEqual(snapshotTree(copy.admin), beforeTree, `${what}: something was written`);
      assert.notEqual(queryStatus(copy), 0, `${what}: dpkg-query accepts it`);
    }
  });
});

describe('views of the database between changes', { skip }, () => {
  it('hands out the same view while a stanza is unchanged, and the new stanza after a change', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-dpkgupd-'));
    try {
      const r = makeDpkgRoot(path.join(work, 'root'));
      dpkg(r, ['-i', await buildDeb(work, quietPackage('gamma', '1.0')), await buildDeb(work, quietPackage('delta', '1.0'))]);
      const db = DpkgDb.open(r.admin, { nativeArch: NATIVE, exclusive: true });
      try {
        const before = db.get('gamma');
        assert.equal(db.get('gamma'), before);
        assert.deepEqual(db.packages().map((p) => p.name), ['delta', 'gamma']);
        db.setStatus({ name: 'gamma' }, { want: 'hold', flag: 'ok', state: 'half-configured' });
        const after = db.get('gamma');
        assert.notEqual(after, before);
        assert.equal(before?.status.state, 'installed');
        assert.equal(after?.status.state, 'half-configured');
        assert.equal(after?.paragraph.get('Status'), 'hold ok half-configured');
        assert.deepEqual(db.packages().map((p) => `${p.name} ${p.status.state}`), ['delta installed', 'gamma half-configured']);
      } finally {
        db.close();
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('an update entry where updates/ is missing', { skip }, () => {
  it('makes updates/ (0755) as dpkg does, and dpkg-query reads the entry', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-dpkgupd-'));
    try {
      const r = makeDpkgRoot(path.join(work, 'root'));
      dpkg(r, ['-i', await buildDeb(work, quietPackage('gamma', '1.0'))]);
      fs.rmSync(path.join(r.admin, 'updates'), { recursive: true });
      const db = DpkgDb.open(r.admin, { nativeArch: NATIVE, exclusive: true });
      try {
        db.setStatus({ name: 'gamma' }, { want: 'hold', flag: 'ok', state: 'installed' });
      } finally {
        db.close();
      }
      assert.equal(fs.statSync(path.join(r.admin, 'updates')).mode & 0o7777, 0o755);
      assert.deepEqual(fs.readdirSync(path.join(r.admin, 'updates')), ['0000']);
      assert.equal(query(r, 'dpkg-query', ['-W', '-f=${Status}', 'gamma']), 'hold ok installed');
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

function copyRoot(r: DpkgRoot, to: string): DpkgRoot {
  fs.cpSync(r.root, to, { recursive: true });
  return { root: to, admin: path.join(to, 'var/lib/dpkg') };
}

function queryStatus(r: DpkgRoot): number | null {
  return spawnSync('dpkg-query', [`--admindir=${r.admin}`, '-W'], { encoding: 'utf8' }).status;
}
