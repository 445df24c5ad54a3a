import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DpkgDb } from '../../src/dpkg/dpkg-db';
import { byteString } from '../../src/dpkg/bytes';
import { formatStanza } from '../../src/dpkg/dump';
import { isInformative } from '../../src/dpkg/entry';
import { PackageTable } from '../../src/dpkg/package-table';
import { loadStatus, loadUpdate } from '../../src/dpkg/status-file';
import { OvermergeError } from '../../src/errors';
import { mutateControlText } from '../../fuzz/control-mutate';
import { Rng } from '../../fuzz/rng';
import { fuzzSeed } from '../fuzz/seed';
import { cannotRunDpkg, NATIVE } from './dpkg-root';

/**
 * Seeded mutations of a status file, read by dpkg-query and by overmerge: both must accept it or both
 * refuse it, and where both accept, status as dpkg rewrites it (`dpkg --set-selections` with no input
 * rewrites it from what it read) must be what overmerge's writer makes of what it read.
 * OVERMERGE_TEST_FULL=1 tries ten times as many; OVERMERGE_FUZZ_SEED picks another seed.
 */
const skip = cannotRunDpkg();
const CASES = process.env.OVERMERGE_TEST_FULL === '1' ? 1000 : 100;
const FOREIGN = NATIVE === 'i386' ? 'amd64' : 'i386';

const BASE = [
  `Package: alpha\nStatus: install ok installed\nPriority: optional\nSection: misc\nInstalled-Size: 12\nMaintainer: A <a@example.org>\nArchitecture: all\nVersion: 1:1.0-1\nDepends: libm (>= 2.0), beta | gamma\nConffiles:\n /etc/alpha.conf 0123456789abcdef0123456789abcdef\n /etc/old.conf fedcba9876543210fedcba9876543210 obsolete\nDescription: alpha\n long text\n .\n more\nX-Extra: kept\n`,
  `Package: beta\nStatus: install ok unpacked\nMaintainer: B <b@example.org>\nArchitecture: ${NATIVE}\nVersion: 2.0\nConfig-Version: 1.9\nBreaks: alpha (<< 1.0)\nDescription: beta\n`,
  `Package: delta\nStatus: deinstall ok config-files\nMaintainer: D <d@example.org>\nArchitecture: all\nVersion: 0.1\nConffiles:\n /etc/delta.conf 00000000000000000000000000000000\nDescription: delta\n`,
  `Package: libm\nStatus: install ok installed\nMaintainer: M <m@example.org>\nArchitecture: ${NATIVE}\nMulti-Arch: same\nVersion: 2.1\nDescription: libm\n`,
  `Package: libm\nStatus: install ok installed\nMaintainer: M <m@example.org>\nArchitecture: ${FOREIGN}\nMulti-Arch: same\nVersion: 2.1\nDescription: libm\n`,
].join('\n');

describe('status files: overmerge reads and writes what dpkg reads and writes', { skip }, () => {
  let work: string;
  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-dpkgconf-'));
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it(`agrees with dpkg on ${CASES} mutated status files (seed ${fuzzSeed()})`, () => {
    const disagreements: string[] = [];
    let accepted = 0;
    for (let i = 0; i < CASES; i++) {
      const rng = Rng.forIteration(fuzzSeed(), i);
      const text = i === 0 ? Buffer.from(BASE) : rng.chance(0.3) ? mutateControlText(rng, Buffer.from(BASE)) : mutateStatus(rng, BASE);
      const verdict = compare(path.join(work, String(i)), text);
      if (verdict === 'both accept') accepted++;
      else if (verdict !== 'both refuse') disagreements.push(`case ${i}: ${verdict}\n${JSON.stringify(text.toString('latin1'))}`);
    }
    assert.deepEqual(disagreements, []);
    assert.ok(accepted >= CASES / 5, `only ${accepted} of ${CASES} accepted: the mutations are too rough to compare writers`);
  });

  it(`agrees with dpkg on ${CASES} sets of update entries applied to a status (seed ${fuzzSeed()})`, () => {
    const disagreements: string[] = [];
    let accepted = 0;
    for (let i = 0; i < CASES; i++) {
      const rng = Rng.forIteration(fuzzSeed() + 1, i);
      const updates = mutateUpdates(rng);
      const verdict = compare(path.join(work, `u${i}`), Buffer.from(BASE), updates);
      if (verdict === 'both accept') accepted++;
      else if (verdict !== 'both refuse') disagreements.push(`case ${i}: ${verdict}\n${updates.map((u) => JSON.stringify(u.toString('latin1'))).join('\n')}`);
    }
    assert.deepEqual(disagreements, []);
    assert.ok(accepted >= CASES / 5, `only ${accepted} of ${CASES} accepted`);
  });
});

const WORDS = ['install', 'hold', 'deinstall', 'purge', 'unknown', 'ok', 'reinstreq', 'not-installed', 'config-files', 'half-installed', 'unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending', 'installed', 'Installed', 'bogus'];
const LINES = [
  'Config-Version: 1.0',
  'Config-Version: 0:1.0',
  'Triggers-Pending: /usr/share/x other',
  // No Triggers-Awaited: dpkg's write-open drops awaited packages that have nothing pending
  // (trig_fixup_awaiters), which belongs to the triggers logic, not to reading and writing status.
  'X-Nul: before\0after',
  'Multi-Arch: same',
  'Multi-Arch: Foreign',
  'Architecture: all',
  'Architecture:',
  'Essential: yes',
  'Essential: no',
  'Protected: Yes',
  'Priority: unknown',
  'Priority: Important',
  'Priority: weird',
  'Recommended: x',
  'Optional: y (> 1)',
  'Revision: 2',
  'Class: extra',
  'Filename: pool/x.deb',
  'Depends: a(>=1)|b,c:any',
  'Provides: virt (= 1.0)',
  'Section:',
  'description: lower-case name',
  'Package: alpha',
  'X: too short',
  'Conffiles:\n /etc/x 0123 obsolete remove-on-upgrade',
  'Description: tab\n\tcontinued\n .',
  'Version: 3:2.0~rc1-1',
  'Version: 1.0-',
  'X-Latin1: caf\xe9',
];

/** Mutations that keep most status files readable: fields dpkg handles specially, status words, order. */
function mutateStatus(rng: Rng, base: string): Buffer {
  let lines = base.split('\n');
  const n = 1 + rng.smallInt(3);
  for (let k = 0; k < n; k++) {
    const i = rng.below(lines.length);
    rng.weighted<() => void>([
      [4, () => lines.splice(i, 0, rng.pick(LINES))],
      [3, () => (lines = lines.map((l) => (l.startsWith('Status:') && rng.chance(0.3) ? `Status: ${rng.pick(WORDS)} ${rng.pick(WORDS)} ${rng.pick(WORDS)}` : l)))],
      [2, () => lines.splice(i, 1)],
      [1, () => (lines[i] = lines[i].replace(/^[A-Za-z-]+/, (name) => (rng.chance(0.5) ? name.toLowerCase() : name.toUpperCase())))],
      [1, () => lines.splice(rng.below(lines.length), 0, ...lines.splice(i, 1))],
    ])();
  }
  return Buffer.from(lines.join('\n'), 'latin1');
}

/** One to three update entries: stanzas of BASE with the fields that decide where an entry lands changed. */
function mutateUpdates(rng: Rng): Buffer[] {
  const stanzas = BASE.split('\n\n').map((t) => (t.endsWith('\n') ? t : `${t}\n`));
  const edits: Array<(t: string) => string> = [
    (t) => setField(t, 'Architecture', rng.pick([NATIVE, FOREIGN, 'all'])),
    (t) => setField(t, 'Section', rng.pick(['admin', 'libs', ''])),
    (t) => setField(t, 'Priority', rng.pick(['required', 'extra', 'weird'])),
    (t) => setField(t, 'Status', rng.pick(['install ok unpacked', 'purge ok not-installed', 'deinstall ok config-files', 'install reinstreq half-installed', 'hold ok installed'])),
    (t) => setField(t, 'Multi-Arch', rng.pick(['same', 'no', 'foreign'])),
    (t) => setField(t, 'Version', rng.pick(['9.0', '1:0.1', '2.1'])),
    (t) => setField(t, 'Package', rng.pick(['alpha', 'libm', 'newpkg'])),
  ];
  return Array.from({ length: 1 + rng.smallInt(2) }, () => {
    let t = rng.pick(stanzas);
    for (let k = 0; k < 1 + rng.smallInt(2); k++) t = rng.pick(edits)(t);
    return Buffer.from(t, 'latin1');
  });
}

function setField(stanza: string, name: string, value: string): string {
  const line = `${name}: ${value}`;
  const re = new RegExp(`^${name}:.*$`, 'm');
  return re.test(stanza) ? stanza.replace(re, line) : stanza.replace(/\n/, `\n${line}\n`);
}

function compare(dir: string, text: Buffer, updates: Buffer[] = []): string {
  const admin = path.join(dir, 'admin');
  fs.mkdirSync(path.join(admin, 'updates'), { recursive: true });
  fs.mkdirSync(path.join(admin, 'info'));
  fs.writeFileSync(path.join(admin, 'status'), text);
  updates.forEach((u, i) => fs.writeFileSync(path.join(admin, 'updates', String(i).padStart(4, '0')), u));
  const query = spawnSync('dpkg-query', [`--admindir=${admin}`, '-W'], { encoding: 'utf8' });
  let ours: string | undefined;
  try {
    DpkgDb.open(admin, { nativeArch: NATIVE }).close();
  } catch (err) {
    if (!(err instanceof OvermergeError) || err.code !== 'E_DPKG_DB') throw err;
    ours = err.message;
  }
  if (query.status !== 0 && ours !== undefined) return 'both refuse';
  if (query.status !== 0) return `dpkg refuses (${query.stderr.trim().split('\n').join(' ')}), overmerge accepts`;
  if (ours !== undefined) return `overmerge refuses (${ours}), dpkg accepts`;

  const rewrite = spawnSync('dpkg', [`--admindir=${admin}`, '--log=/dev/null', '--set-selections'], { input: '', encoding: 'utf8' });
  if (rewrite.status !== 0) return `dpkg --set-selections failed: ${rewrite.stderr}`;
  const theirs = fs.readFileSync(path.join(admin, 'status'), 'latin1');
  const table = new PackageTable(NATIVE);
  loadStatus(table, byteString(text), 'status');
  updates.forEach((u, i) => loadUpdate(table, byteString(u), `updates/${i}`));
  const mine = table
    .sorted()
    .filter(isInformative)
    .map((e) => `${formatStanza(e)}\n`)
    .join('');
  return mine === theirs ? 'both accept' : `written differently:\n--- dpkg\n${theirs}\n--- overmerge\n${mine}`;
}
