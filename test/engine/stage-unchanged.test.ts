import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { it } from 'node:test';
import { readDebControl } from '../../src/archive/deb';
import { OvermergeError } from '../../src/errors';
import { resolveHostPath } from '../../src/fs/host-path';
import type { RootPath } from '../../src/fs/rootpath';
import { stagedContent, type ManifestEntry } from '../../src/model/entry';
import { Manifest } from '../../src/model/manifest';
import type { InstalledFile } from '../../src/model/package';
import { PLACE_RUN_MIN } from '../../src/engine/plan';
import { stageArchive, stageLate } from '../../src/stage/stage';
import { buildDeb, controlFields, controlText } from '../../fixtures/hostile/deb';
import { endOfArchive, tarDir, tarFile } from '../../fixtures/hostile/tar-writer';
import { buildAdHocDeb, type AdHocEntry } from '../helpers/fixtures';
import { ADMIN_REL } from '../helpers/root-state';
import { om } from '../helpers/run-cli';
import { withTempDir } from '../helpers/temp';

/**
 * An upgrade does not write to staging the members that are the installed files (same content, mode,
 * owner): the plan leaves those files as the root holds them. What the plan places of them after all
 * (the root's copy was changed since) is staged from the archive once the plan is made.
 */

const V1: AdHocEntry[] = [
  { path: 'usr/share/u/same', type: 'file', content: 'the same in both versions\n' },
  { path: 'usr/share/u/edited', type: 'file', content: 'the same in both versions, edited in the root\n' },
  { path: 'usr/share/u/changes', type: 'file', content: 'version 1\n' },
  { path: 'etc/u.conf', type: 'file', content: 'a conffile, the same in both versions\n' },
];
const V2: AdHocEntry[] = V1.map((e) => (e.path === 'usr/share/u/changes' ? { ...e, content: 'version 2, longer\n' } : e));

async function debs(work: string): Promise<{ v1: string; v2: string }> {
  const pkg = { name: 'u', conffiles: ['/etc/u.conf'] };
  return {
    v1: await buildAdHocDeb(work, { ...pkg, version: '1', entries: V1 }),
    v2: await buildAdHocDeb(work, { ...pkg, version: '2', entries: V2 }),
  };
}

/** Rows as the database gives them back, from a manifest (the fields a row shares with an entry). */
function rowsOf(entries: readonly ManifestEntry[], conffiles: readonly RootPath[]): Map<RootPath, InstalledFile> {
  return new Map(entries.map((e) => [e.path, { ...e, conffile: conffiles.includes(e.path) }]));
}

it('identical members are hashed but not written; stageLate writes them from the archive, or refuses a changed one', async () => {
  await withTempDir('stage-unchanged', async (work) => {
    const { v1, v2 } = await debs(work);
    const dir = (name: string) => resolveHostPath(path.join(work, name));
    for (const d of ['s1', 's2', 'late', 'bad']) await fsp.mkdir(dir(d));
    const one = await stageArchive(v1, await readDebControl(v1), dir('s1'), { asRoot: false });
    const control2 = await readDebControl(v2);
    const two = await stageArchive(v2, control2, dir('s2'), { asRoot: false, installed: rowsOf([...one.entries], one.conffiles) });
    const indexOf = new Map(two.entries.map((e, i) => [e.path, i]));
    const unwritten = two.entries.filter((e) => e.type === 'file' && stagedContent(e) === undefined).map((e) => e.path).sort();
    assert.deepEqual(unwritten, ['usr/share/u/edited', 'usr/share/u/same'], 'the conffile and the changed file are written');
    assert.equal((await fsp.readdir(dir('s2'))).length, 2);
    assert.deepEqual(two.entries.map(({ stagedIn: _, stagedAs: __, ...rest }) => rest), [...(await stageArchive(v2, control2, undefined, { asRoot: false })).entries]);

    // Late staging gives the content to the manifest and to the plan's objects of the entry.
    const edited = indexOf.get('usr/share/u/edited' as RootPath)!;
    const stepObject = two.entries.at(edited);
    await stageLate(v2, dir('late'), two.entries, new Map([[edited, [stepObject]]]), false);
    const staged = stagedContent(two.entries.at(edited));
    assert.ok(staged !== undefined);
    assert.equal(stagedContent(stepObject), staged);
    assert.equal(await fsp.readFile(staged, 'utf8'), 'the same in both versions, edited in the root\n');
    assert.equal((await fsp.stat(staged)).mode & 0o7777, stepObject.mode);

    // The archive read again is another one (same path, other bytes): refused, nothing taken from it.
    const changes = indexOf.get('usr/share/u/changes' as RootPath)!;
    const unstaged = Manifest.of([{ ...two.entries.at(changes), stagedIn: undefined, stagedAs: undefined }]);
    await assert.rejects(stageLate(v1, dir('bad'), unstaged, new Map([[0, []]]), false), (err: unknown) => err instanceof OvermergeError && err.code === 'E_BAD_ARCHIVE');
    assert.equal(stagedContent(unstaged.at(0)), undefined);
  });
});

it('an upgrade replaces a file the root changed though the package did not, and leaves the others as they are', async () => {
  await withTempDir('upgrade-unchanged', async (work) => {
    const { v1, v2 } = await debs(work);
    const root = path.join(work, 'root');
    await fsp.mkdir(path.join(root, 'var/lib'), { recursive: true });
    const run = async (argv: string[]) => {
      const r = await om(root, argv);
      assert.equal(r.status, 0, `overmerge ${argv.join(' ')}: ${r.stderr}`);
      return r;
    };
    await run(['install', v1]);
    const at = (p: string) => path.join(root, p);
    const sameIno = (await fsp.stat(at('usr/share/u/same'))).ino;
    await fsp.writeFile(at('usr/share/u/edited'), 'changed in the root, not in the package\n');
    await run(['install', v2]);
    assert.equal(await fsp.readFile(at('usr/share/u/edited'), 'utf8'), 'the same in both versions, edited in the root\n');
    assert.equal(await fsp.readFile(at('usr/share/u/changes'), 'utf8'), 'version 2, longer\n');
    assert.equal((await fsp.stat(at('usr/share/u/same'))).ino, sameIno, 'an unchanged file keeps its inode');
    const verify = await om(root, ['verify']);
    assert.equal(verify.stdout, '', 'verify finds the root as recorded');
    assert.deepEqual(await fsp.readdir(at(`${ADMIN_REL}/staging`)).catch(() => []), [], 'staging emptied');
  });
});

it('an upgrade restores unchanged files the root lost, also when they are a run of fresh files (PLACE_RUN_MIN in a row)', async () => {
  await withTempDir('upgrade-lost-run', async (work) => {
    const many = (version: string): AdHocEntry[] => [
      ...Array.from({ length: PLACE_RUN_MIN + 8 }, (_, i): AdHocEntry => ({ path: `usr/share/lost/f${String(i).padStart(5, '0')}`, type: 'file', content: `file ${i}\n` })),
      { path: 'usr/share/lost-version', type: 'file', content: `${version}\n` },
    ];
    const v1 = await buildAdHocDeb(work, { name: 'lost', version: '1', entries: many('1') });
    const v2 = await buildAdHocDeb(work, { name: 'lost', version: '2', entries: many('2') });
    const root = path.join(work, 'root');
    await fsp.mkdir(path.join(root, 'var/lib'), { recursive: true });
    const run = async (argv: string[]) => {
      const r = await om(root, argv);
      assert.equal(r.status, 0, `overmerge ${argv.join(' ')}: ${r.stderr}`);
    };
    await run(['install', v1]);
    // The admin removed the files, not the package: the upgrade finds them absent, though unchanged in it.
    for (const f of await fsp.readdir(path.join(root, 'usr/share/lost'))) await fsp.unlink(path.join(root, 'usr/share/lost', f));
    await run(['install', v2]);
    const names = (await fsp.readdir(path.join(root, 'usr/share/lost'))).sort();
    assert.equal(names.length, PLACE_RUN_MIN + 8);
    assert.equal(await fsp.readFile(path.join(root, 'usr/share/lost', names[7]), 'utf8'), 'file 7\n');
    const verify = await om(root, ['verify']);
    assert.equal(verify.stdout, '', 'verify finds the root as recorded');
  });
});

it('an upgrade of a package whose manifest is spilled to disk (more than 16,384 members) restores lost files from the archive', async () => {
  await withTempDir('upgrade-lost-spilled', async (work) => {
    const count = 20_000;
    const name = (i: number) => `usr/share/big/f${String(i).padStart(5, '0')}`;
    // Built in memory from tar headers: a tree of 20,000 files on disk would take most of a minute.
    const deb = async (version: string) => {
      const tar = [tarDir('./'), tarDir('./usr/'), tarDir('./usr/share/'), tarDir('./usr/share/big/')];
      for (let i = 0; i < count; i++) tar.push(tarFile(`./${name(i)}`, `file ${i}\n`));
      tar.push(tarFile('./usr/share/big-version', `${version}\n`), endOfArchive());
      const file = path.join(work, `big_${version}_all.deb`);
      await fsp.writeFile(file, buildDeb({ control: controlText(controlFields('big', { Version: version })), data: Buffer.concat(tar) }));
      return file;
    };
    const root = path.join(work, 'root');
    await fsp.mkdir(path.join(root, 'var/lib'), { recursive: true });
    const run = async (argv: string[]) => {
      const r = await om(root, argv);
      assert.equal(r.status, 0, `overmerge ${argv.join(' ')}: ${r.stderr}`);
    };
    await run(['install', await deb('1')]);
    // Lost: a run of fresh files early in the manifest (a chunk on disk by the time it is planned), a
    // few single files, and the last members (the chunk still in memory). The probe's disk states spill
    // too (20,005 paths: 10 chunks of 2,048, of which they keep 8 in memory), so the
    // lost files' states are read back from its spill file when the plan asks for them.
    const lost = [...Array.from({ length: PLACE_RUN_MIN + 100 }, (_, i) => 100 + i), 9_000, 15_001, ...Array.from({ length: 20 }, (_, i) => count - 1 - i)];
    for (const i of lost) await fsp.unlink(path.join(root, name(i)));
    await run(['install', await deb('2')]);
    assert.equal((await fsp.readdir(path.join(root, 'usr/share/big'))).length, count);
    for (const i of [100, 9_000, 15_001, count - 1]) assert.equal(await fsp.readFile(path.join(root, name(i)), 'utf8'), `file ${i}\n`);
    const verify = await om(root, ['verify']);
    assert.equal(verify.stdout, '', 'verify finds the root as recorded');
    const files = await om(root, ['files', 'big']);
    assert.equal(files.stdout.split('\n').filter((l) => l.startsWith('/usr/share/big/')).length, count);
  });
});
