import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkContent } from '../../src/engine/phases/check';
import { plan, PLACE_RUN_MIN } from '../../src/engine/plan';
import type { PathStep } from '../../src/engine/plan-model';
import { stepCount, stepsOf } from '../../src/engine/plan-steps';
import type { RootPath } from '../../src/fs/rootpath';
import type { DiskState } from '../../src/model/disk';
import type { ManifestEntry } from '../../src/model/entry';
import { installedRow, planInput, stagedPackage } from '../helpers/plan-data';
import { hostPathOf } from '../../src/fs/host-path';
import { InstalledFiles } from '../../src/model/installed-files';
import type { InstalledFileList } from '../../src/model/package';
import { withTempDir } from '../helpers/temp';

/**
 * Runs of fresh files (PlaceFilesRun): a huge folder's members planned without a step object each, read
 * back (stepsOf) as exactly the place-file steps a member at a time would have been.
 */

const rp = (s: string) => s as RootPath;
const ROOT: DiskState = { type: 'directory', mode: 0o755, uid: 0, gid: 0 };

function file(path: string): ManifestEntry {
  return { path: rp(path), type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1000, size: 0, conffile: false, stagedIn: 'staging/0' as never, stagedAs: 0 };
}

function dir(path: string): ManifestEntry {
  return { path: rp(path), type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: 1000, size: 0, conffile: false };
}

/** A folder of `n` files, as an archive lists it: its folders first. */
function folderOf(n: number): ManifestEntry[] {
  const out = [dir('usr'), dir('usr/share'), dir('usr/share/many')];
  for (let i = 0; i < n; i++) out.push(file(`usr/share/many/${String(i).padStart(6, '0')}`));
  return out;
}

/** What the planner would list with a step a member: the steps of the runs, expanded. */
const shown = (steps: Iterable<PathStep>) => [...steps].map((s) => `${s.kind}${'aside' in s && s.aside !== 'none' ? `(${s.aside})` : ''} ${s.path}`);

describe('plan: runs of fresh files', () => {
  it('makes no run of files claimed as the root holds them: a rollback missing them is refused, not placed', () => {
    const entries = folderOf(PLACE_RUN_MIN + 5).map((e) => (e.type === 'file' ? { ...e, claimsExisting: true, stagedIn: undefined, stagedAs: undefined } : e));
    const staged = stagedPackage('many', entries);
    const p = plan(planInput({ installs: [{ staged, resolved: new Map(), status: 'installed' }], disk: new Map([[rp(''), ROOT]]) }));
    assert.ok(!p.steps.some((s) => s.kind === 'place-files'));
    assert.throws(() => checkContent(p), (err: unknown) => (err as { code?: string }).code === 'E_CANNOT_ROLLBACK');
  });

  it('plans a folder of fresh files as one run that reads as a place-file step each', () => {
    const entries = folderOf(PLACE_RUN_MIN + 5);
    const staged = stagedPackage('many', entries);
    const p = plan(planInput({ installs: [{ staged, resolved: new Map(), status: 'installed' }], disk: new Map([[rp(''), ROOT]]) }));
    assert.deepEqual(
      p.steps.map((s) => s.kind),
      ['mkdir', 'mkdir', 'mkdir', 'place-files'],
    );
    const expanded = [...stepsOf(p.steps)];
    assert.equal(stepCount(p.steps), 3 + PLACE_RUN_MIN + 5);
    assert.equal(expanded.length, stepCount(p.steps));
    assert.deepEqual(
      expanded.slice(3),
      entries.slice(3).map((entry) => ({ kind: 'place-file', path: entry.path, entry, aside: 'none' })),
    );
    // Read twice (checkGuarded does): the same steps again.
    assert.deepEqual([...stepsOf(p.steps)], expanded);
  });

  it('ends a run at a member that is not placed fresh, and keeps the order of the steps', () => {
    const entries = folderOf(2 * PLACE_RUN_MIN + 1);
    const middle = entries[3 + PLACE_RUN_MIN];
    const disk = new Map<RootPath, DiskState>([
      [rp(''), ROOT],
      [rp('usr'), ROOT],
      [rp('usr/share'), ROOT],
      [rp('usr/share/many'), ROOT],
      [middle.path, { type: 'file', mode: 0o644, uid: 0, gid: 0, size: 1 }],
    ]);
    const p = plan(planInput({ installs: [{ staged: stagedPackage('many', entries), resolved: new Map(), status: 'installed' }], disk }));
    assert.deepEqual(
      p.steps.map((s) => (s.kind === 'place-files' ? `run ${s.from}-${s.to}` : `${s.kind} ${s.path}`)),
      [`run 3-${3 + PLACE_RUN_MIN}`, `place-file ${middle.path}`, `run ${4 + PLACE_RUN_MIN}-${entries.length}`],
    );
    const expected = entries.slice(3).map((e) => `place-file${e === middle ? '(link)' : ''} ${e.path}`);
    assert.deepEqual(shown(stepsOf(p.steps)), expected);
  });

  it('lists a short row of fresh files as a step each', () => {
    const entries = folderOf(PLACE_RUN_MIN - 1);
    const p = plan(planInput({ installs: [{ staged: stagedPackage('few', entries), resolved: new Map(), status: 'installed' }], disk: new Map([[rp(''), ROOT]]) }));
    assert.equal(p.steps.filter((s) => s.kind === 'place-file').length, PLACE_RUN_MIN - 1);
    assert.equal(p.steps.filter((s) => s.kind === 'place-files').length, 0);
  });

  it('makes no run of files that land elsewhere (a directory symlink of the root)', () => {
    const entries = folderOf(PLACE_RUN_MIN + 1);
    const resolved = new Map(entries.slice(3).map((e) => [e.path, rp(e.path.replace('usr/share/many', 'opt/many'))]));
    const p = plan(planInput({ installs: [{ staged: stagedPackage('many', entries), resolved, status: 'installed' }], disk: new Map([[rp(''), ROOT]]) }));
    assert.equal(p.steps.filter((s) => s.kind === 'place-files').length, 0);
    assert.equal(stepCount(p.steps), 3 + PLACE_RUN_MIN + 1);
  });
});

describe('plan: rows that are the manifest', () => {
  it('records a fresh install with the manifest itself as its rows', () => {
    const entries = folderOf(10);
    const staged = stagedPackage('x', entries);
    const p = plan(planInput({ installs: [{ staged, resolved: new Map(), status: 'installed' }], disk: new Map([[rp(''), ROOT]]) }));
    assert.equal(p.records[0].files, staged.entries);
    assert.deepEqual([...p.records[0].files], entries);
  });

  it('keeps an upgrade\'s rows as the manifest plus the installed mtimes of the files left alone', () => {
    const v1 = folderOf(3);
    const v2 = folderOf(5);
    const disk = new Map<RootPath, DiskState>([[rp(''), ROOT]]);
    for (const e of v1) disk.set(e.path, e.type === 'directory' ? ROOT : { type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtimeNs: 999n * 1_000_000_000n });
    const old = { name: 'x', architecture: 'all', version: '1', status: 'installed', files: v1.map((e) => installedRow(e, { sha256: 'same', mtime: 999 })) };
    const same = v2.map((e) => (e.type === 'file' ? { ...e, sha256: 'same' } : e));
    const p = plan(planInput({ installs: [{ staged: stagedPackage('x', same), resolved: new Map(), old, status: 'installed' }], disk }));
    const rows = p.records[0].files;
    assert.ok(!Array.isArray(rows), 'no object a row');
    assert.equal(rows.length, same.length);
    assert.deepEqual(rows.map((r) => r.path), same.map((e) => e.path));
    // The files the root keeps take their installed mtime; the new ones are their entries.
    assert.deepEqual(rows.map((r) => r.mtime), same.map((e, i) => (i >= 3 && i < 6 ? 999 : e.mtime)));
    assert.deepEqual([...rows][6], same[6]);
    assert.deepEqual(rows.filter((r) => r.mtime === 999).map((r) => r.path), same.slice(3, 6).map((e) => e.path));
  });

  it('adds a conffile\'s row, with its hash, in its place, and an obsolete conffile after the manifest\'s rows', () => {
    const conf = (path: string, md5: string): ManifestEntry => ({ ...file(path), conffile: true, md5 });
    const v1 = [dir('etc'), conf('etc/a.conf', 'A'), conf('etc/gone.conf', 'G')];
    const v2 = [dir('etc'), conf('etc/a.conf', 'A2'), file('etc/plain')];
    const disk = new Map<RootPath, DiskState>([[rp(''), ROOT], [rp('etc'), ROOT]]);
    disk.set(rp('etc/a.conf'), { type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, md5: 'A' });
    disk.set(rp('etc/gone.conf'), { type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, md5: 'G' });
    const old = { name: 'x', architecture: 'all', version: '1', status: 'installed', files: v1.map((e) => installedRow(e, { conffileHash: e.md5 })) };
    const p = plan(planInput({ installs: [{ staged: stagedPackage('x', v2), resolved: new Map(), old, status: 'installed' }], disk }));
    const rows = [...p.records[0].files];
    assert.equal(p.records[0].files.length, 4);
    assert.deepEqual(rows.map((r) => [r.path, r.conffileHash]), [['etc', undefined], ['etc/a.conf', 'A2'], ['etc/plain', undefined], ['etc/gone.conf', 'G']]);
  });

  it('plans an upgrade alike whether the installed rows are objects or records spilled to disk', async () => {
    await withTempDir('plan-spilled-rows', async (tmp) => {
      // 30,000 files; the new version changes every 7th, drops every 11th, adds 500, and lists its
      // members in an order of its own (tar's), where the rows come in path order.
      const n = 30_000;
      const name = (i: number) => `usr/share/many/${String(i).padStart(6, '0')}`;
      const v1 = [dir('usr'), dir('usr/share'), dir('usr/share/many'), ...Array.from({ length: n }, (_, i) => file(name(i)))];
      const kept = v1.filter((e, i) => i < 3 || (i - 3) % 11 !== 0);
      const v2 = [...kept.slice(0, 3), ...kept.slice(3).reverse(), ...Array.from({ length: 500 }, (_, i) => file(name(n + i)))].map((e, i) =>
        e.type === 'file' && i % 7 === 0 ? { ...e, sha256: 'new' } : e.type === 'file' ? { ...e, sha256: 'same' } : e,
      );
      const disk = new Map<RootPath, DiskState>([[rp(''), ROOT]]);
      for (const e of v1) disk.set(e.path, e.type === 'directory' ? ROOT : { type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtimeNs: 1000n * 1_000_000_000n });
      const rows = v1.map((e) => installedRow(e, { sha256: e.type === 'file' ? 'same' : undefined })).sort((a, b) => (a.path < b.path ? -1 : 1));
      const planWith = (files: InstalledFileList) => {
        const old = { name: 'x', architecture: 'all', version: '1', status: 'installed', files };
        return plan(planInput({ installs: [{ staged: stagedPackage('x', v2), resolved: new Map(), old, status: 'installed' }], disk }));
      };
      const spilled = InstalledFiles.of(rows, hostPathOf(tmp));
      const a = planWith(rows);
      const b = planWith(spilled);
      assert.deepEqual(shown(stepsOf(b.steps)), shown(stepsOf(a.steps)));
      assert.deepEqual([...b.records[0].files], [...a.records[0].files]);
      const removed = shown(stepsOf(a.steps)).filter((s) => s.startsWith('remove'));
      assert.equal(removed.length, Math.ceil(n / 11), 'every dropped file goes');
      assert.equal(shown(stepsOf(a.steps)).filter((s) => s.startsWith('place')).length, 500 + v2.filter((e, i) => e.type === 'file' && i % 7 === 0 && e.path < name(n)).length);
    });
  });
});
