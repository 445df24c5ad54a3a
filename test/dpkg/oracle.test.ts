import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatParagraph } from '../../src/control/deb822';
import { Paragraph } from '../../src/control/paragraph';
import { DpkgDb, type DbChange, type Reversal } from '../../src/dpkg/dpkg-db';
import { reversalOf } from '../../src/dpkg/changes';
import { cannotRunDpkg, dpkg, FOREIGN, NATIVE, query, queryAll } from './dpkg-root';
import { buildScenario, type Scenario } from './scenario';

/**
 * src/dpkg against real dpkg as the oracle: the database of a root dpkg brought into most of its states
 * (see scenario.ts) is read and compared with what dpkg-query, dpkg -s/-L/-l/--audit, dpkg-divert and
 * dpkg-statoverride say; then changes written by overmerge are read back by those same tools, before and
 * after a checkpoint, and the checkpoint is compared with dpkg's own incorporation of the same entries.
 */
const skip = cannotRunDpkg();

describe('dpkg database against real dpkg', { skip }, () => {
  let work: string;
  let s: Scenario;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-dpkgdb-'));
    s = await buildScenario(work);
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  const open = (): DpkgDb => DpkgDb.open(s.admin, { nativeArch: NATIVE });

  it('reads every package as dpkg-query shows it: name, status, version, architecture, triggers', () => {
    const db = open();
    const format = '${binary:Package}|${Status}|${Version}|${Architecture}|${Multi-Arch}|${Triggers-Pending}|${Triggers-Awaited}\n';
    const ours = db
      .packages()
      .map((p) => {
        // dpkg-query writes each trigger after a space, as in the field, and 'no' for no Multi-Arch.
        const words = (list: readonly string[]): string => list.map((w) => ` ${w}`).join('');
        return [p.displayName, `${p.status.want} ${p.status.flag} ${p.status.state}`, p.version ?? '', p.arch, p.multiArch, words(p.triggersPending), words(p.triggersAwaited)].join('|');
      })
      .sort();
    assert.deepEqual(ours, queryAll(s, format).sort());
    const states = new Map(db.packages().map((p) => [p.displayName, p.status.state]));
    assert.equal(states.get('alpha'), 'triggers-pending');
    assert.equal(states.get(`libm:${FOREIGN}`), 'triggers-awaited');
    assert.equal(states.get('gamma'), 'unpacked');
    assert.equal(states.get('delta'), 'config-files');
    assert.equal(states.has('eps'), false);
  });

  it('holds each stanza exactly as `dpkg -s` prints it (every field, field order, conffiles with hashes)', () => {
    const db = open();
    for (const p of db.packages()) {
      assert.equal(formatParagraph(p.paragraph).trimEnd(), query(s, 'dpkg-query', ['-s', p.displayName]).trimEnd(), p.displayName);
    }
    const alpha = db.get('alpha')!;
    assert.deepEqual(alpha.conffiles.map((c) => c.path), ['/etc/alpha/alpha.conf']);
    assert.match(alpha.conffiles[0].hash, /^[0-9a-f]{32}$/);
    assert.equal(alpha.paragraph.get('X-Custom'), 'hello');
    const eta = db.get('eta')!.conffiles.map((c) => `${c.path}${c.obsolete ? ' obsolete' : ''}${c.removeOnUpgrade ? ' remove-on-upgrade' : ''}`);
    assert.deepEqual(eta.sort(), ['/etc/eta/a.conf', '/etc/eta/b.conf obsolete', '/etc/eta/c.conf remove-on-upgrade']);
  });

  it('reads each package\'s files as `dpkg -L` lists them, and its info files as dpkg names them', () => {
    const db = open();
    for (const p of db.packages()) {
      const listed = query(s, 'dpkg-query', ['-L', p.displayName])
        .split('\n')
        .filter((l) => l.startsWith('/'));
      assert.deepEqual(db.files({ name: p.name, arch: p.arch }), listed, p.displayName);
      if (p.status.state === 'config-files') continue;
      const control = query(s, 'dpkg-query', ['--control-list', p.displayName]).split('\n').filter(Boolean).sort();
      const ours = db.infoFiles({ name: p.name, arch: p.arch }).filter((t) => t !== 'list' && t !== 'conffiles');
      assert.deepEqual(ours, control, p.displayName);
    }
    const infos = fs.readdirSync(path.join(s.admin, 'info'));
    assert.ok(infos.includes(`libm:${FOREIGN}.list`) && infos.includes(`libm:${NATIVE}.postinst`), 'Multi-Arch: same packages use name:arch');
    assert.equal(db.readInfoFile({ name: 'alpha' }, 'triggers')?.toString(), 'interest /usr/share/libm\n');
  });

  it('reads diversions, statoverrides, foreign architectures and triggers/ as the dpkg tools show them', () => {
    const db = open();
    const divertList = spawnSync('dpkg-divert', [`--admindir=${s.admin}`, '--list'], { encoding: 'utf8' }).stdout;
    for (const d of db.diversions) {
      const line = d.package === null ? `local diversion of ${d.from} to ${d.to}` : `diversion of ${d.from} to ${d.to} by ${d.package}`;
      assert.ok(divertList.includes(line), `${line} not in:\n${divertList}`);
    }
    assert.equal(db.diversions.length, divertList.split('\n').filter(Boolean).length);
    const overrides = spawnSync('dpkg-statoverride', [`--admindir=${s.admin}`, '--list'], { encoding: 'utf8' }).stdout;
    assert.deepEqual(db.statoverrides.map((o) => `${o.user} ${o.group} ${o.mode.toString(8)} ${o.path}`), overrides.split('\n').filter(Boolean));
    assert.deepEqual(db.foreignArchitectures, [FOREIGN]);
    assert.deepEqual([...db.triggers.keys()], ['File', 'Unincorp']);
    assert.equal(db.triggers.get('File')?.toString(), fs.readFileSync(path.join(s.admin, 'triggers/File'), 'utf8'));
    assert.match(db.triggers.get('File')!.toString(), /^\/usr\/share\/libm alpha$/m);
  });

  it('checkpoints an unchanged database to a byte-identical status, keeping the previous one as status-old', () => {
    const file = path.join(s.admin, 'status');
    const original = fs.readFileSync(file);
    const db = open();
    const out = db.checkpoint();
    assert.ok(fs.readFileSync(file).equals(original));
    assert.ok(fs.readFileSync(`${file}-old`).equals(original));
    assert.equal(out.statusBytes, original.length);
  });

  it('writes status changes that dpkg, dpkg-query and apt read as dpkg wrote them; the checkpoint matches dpkg\'s own', () => {
    const db = open();
    const original = fs.readFileSync(path.join(s.admin, 'status'));
    const changes: DbChange[] = [];
    const step = (c: DbChange): void => {
      db.apply(c);
      changes.push(c);
    };
    step(db.planStatus({ name: 'beta' }, { want: 'hold', flag: 'ok', state: 'installed' }));
    step(db.planStatus({ name: 'gamma' }, { want: 'install', flag: 'reinstreq', state: 'half-installed' }));
    const zeta = { name: 'zeta', arch: 'all', multiArch: 'no' as const };
    step(db.planFileList(zeta, ['/.', '/etc', '/etc/zeta.conf', '/usr', '/usr/bin', '/usr/bin/zeta']));
    step(db.planInfoFiles(zeta, { postinst: Buffer.from('#!/bin/sh\nexit 0\n'), conffiles: Buffer.from('/etc/zeta.conf\n'), md5sums: Buffer.from(`${'0'.repeat(32)}  usr/bin/zeta\n`) }));
    step(
      db.planPackage(
        new Paragraph([
          ['Package', 'zeta'],
          ['Version', '3:1.2-1'],
          ['Architecture', 'all'],
          ['Maintainer', 'overmerge tests <tests@overmerge.invalid>'],
          ['Depends', 'alpha(>=1.0),beta'],
          ['X-Origin-Tool', 'overmerge'],
          ['Description', 'zeta\nwritten by overmerge\n.\nend'],
          ['Status', 'install ok unpacked'],
          ['Conffiles', '\n/etc/zeta.conf newconffile'],
        ]),
      ),
    );
    step(db.planForget({ name: 'delta' }));
    assert.equal(db.pendingUpdates, 4);

    // Readers see the update entries before any checkpoint, exactly as dpkg would have written them.
    const check = (when: string): void => {
      const status = (name: string): string => query(s, 'dpkg-query', ['-W', '-f', '${Status}', name]);
      assert.equal(status('beta'), 'hold ok installed', when);
      assert.equal(status('gamma'), 'install reinstreq half-installed', when);
      assert.equal(status('zeta'), 'install ok unpacked', when);
      // Forgotten: dpkg still knows the name until its next checkpoint drops the stanza, then not at all.
      const delta = spawnSync('dpkg-query', [`--admindir=${s.admin}`, '-W', '-f', '${Status}', 'delta'], { encoding: 'utf8' });
      if (when === 'from updates/') assert.equal(delta.stdout, 'unknown ok not-installed', when);
      else assert.equal(delta.status, 1, `${when}: delta still known`);
      assert.equal(query(s, 'dpkg-query', ['-s', 'zeta']).trimEnd(), formatParagraph(db.get('zeta')!.paragraph).trimEnd(), when);
      assert.deepEqual(query(s, 'dpkg-query', ['-L', 'zeta']).split('\n').filter(Boolean), ['/.', '/etc', '/etc/zeta.conf', '/usr', '/usr/bin', '/usr/bin/zeta'], when);
      const listing = query(s, 'dpkg', ['-l']);
      assert.match(listing, /^hi {2}beta /m, when);
      assert.match(listing, /^iHR gamma /m, when);
      assert.match(listing, /^iU {2}zeta /m, when);
      const audit = query(s, 'dpkg', ['--audit']);
      assert.match(audit, /gamma/, `${when}: ${audit}`);
      assert.match(audit, /zeta/, `${when}: ${audit}`);
    };
    check('from updates/');
    const zetaStanza = query(s, 'dpkg-query', ['-s', 'zeta']);
    assert.match(zetaStanza, /^Version: 3:1\.2-1\nDepends: alpha \(>= 1\.0\), beta\nConffiles:\n \/etc\/zeta\.conf newconffile\nDescription: zeta\n written by overmerge\n \.\n end\nX-Origin-Tool: overmerge\n/m);

    // apt refuses while entries are pending, as after an interrupted dpkg.
    assert.match(aptCheck(s.root).output, /dpkg was interrupted/);

    // dpkg's own incorporation of the same entries (on a copy) writes what our checkpoint writes.
    const copy = path.join(work, 'copy');
    fs.cpSync(s.root, copy, { recursive: true });
    dpkg({ root: copy, admin: path.join(copy, 'var/lib/dpkg') }, ['--set-selections'], { input: '' });
    const outcome = db.checkpoint();
    const ours = fs.readFileSync(path.join(s.admin, 'status'));
    assert.ok(ours.equals(fs.readFileSync(path.join(copy, 'var/lib/dpkg/status'))), 'checkpoint differs from dpkg\'s');
    assert.equal(outcome.updatesRemoved, 4);
    assert.deepEqual(fs.readdirSync(path.join(s.admin, 'updates')), []);
    check('after checkpoint');

    // Undo, newest first, from what a journal keeps of each change (no `after`, through JSON, as recover
    // reads it): the database is as before, byte for byte.
    for (const c of changes.reverse()) db.revert(JSON.parse(JSON.stringify(reversalOf(c))) as Reversal);
    db.checkpoint();
    assert.ok(fs.readFileSync(path.join(s.admin, 'status')).equals(original), 'revert did not restore status');
    assert.equal(fs.readdirSync(path.join(s.admin, 'info')).filter((n) => n.startsWith('zeta.')).length, 0);
    assert.equal(aptCheck(s.root).status, 0, aptCheck(s.root).output);
  });
});

function aptCheck(root: string): { status: number | null; output: string } {
  const res = spawnSync(
    'apt-get',
    ['check', '-o', `Dir=${root}`, '-o', `Dir::State::status=${root}/var/lib/dpkg/status`, '-o', 'Dir::Etc=/etc/apt', '-o', 'Debug::NoLocking=0'],
    { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
  );
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}
