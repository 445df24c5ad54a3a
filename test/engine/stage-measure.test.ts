import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { it } from 'node:test';
import { readDebControl } from '../../src/archive/deb';
import { resolveHostPath } from '../../src/fs/host-path';
import { stageArchive } from '../../src/stage/stage';
import { stagedContent } from '../../src/model/entry';
import { buildAdHocDeb, buildFixtureDebs } from '../helpers/fixtures';
import { withTempDir } from '../helpers/temp';

/**
 * A preview measures an archive instead of staging it (the upper-space pre-flight plans from it before a
 * transaction begins): the same manifest, sizes and hashes included, with no staged content and nothing written.
 */
it('measuring an archive gives the manifest staging gives, and writes nothing', async () => {
  await withTempDir('stage-measure', async (work) => {
    await fsp.mkdir(path.join(work, 'debs'));
    const debs = await buildFixtureDebs(path.join(work, 'debs'));
    const control = await readDebControl(debs['hello-2.0']);
    const dir = resolveHostPath(path.join(work, 'staged'));
    await fsp.mkdir(dir);
    const staged = await stageArchive(debs['hello-2.0'], control, dir, { asRoot: false });
    const entriesBefore = (await fsp.readdir(work, { recursive: true })).sort();
    const measured = await stageArchive(debs['hello-2.0'], control, undefined, { asRoot: false });
    assert.deepEqual((await fsp.readdir(work, { recursive: true })).sort(), entriesBefore, 'nothing written');
    assert.ok(staged.entries.some((e) => stagedContent(e) !== undefined));
    assert.ok(measured.entries.every((e) => stagedContent(e) === undefined));
    assert.deepEqual(
      [...measured.entries],
      staged.entries.map(({ stagedIn: _, stagedAs: __, ...rest }) => rest),
    );
    assert.equal(measured.bytes, staged.bytes);
  });
});

/** Empty members share one pair of digest strings (memory per member): they must be the digests of nothing. */
it('an empty member gets the digests of empty content', async () => {
  await withTempDir('stage-empty', async (work) => {
    const deb = await buildAdHocDeb(work, {
      name: 'empties',
      version: '1',
      entries: [
        { path: 'usr/share/e/a', type: 'file', content: '' },
        { path: 'usr/share/e/b', type: 'file', content: '' },
        { path: 'usr/share/e/c', type: 'file', content: 'c' },
      ],
    });
    const control = await readDebControl(deb);
    const dir = resolveHostPath(path.join(work, 'staged'));
    await fsp.mkdir(dir);
    const staged = await stageArchive(deb, control, dir, { asRoot: false });
    const measured = await stageArchive(deb, control, undefined, { asRoot: false });
    const empty = { sha256: createHash('sha256').digest('hex'), md5: createHash('md5').digest('hex') };
    for (const m of [staged, measured]) {
      const files = m.entries.filter((x) => x.type === 'file');
      assert.equal(files.length, 3);
      for (const e of files) {
        if (e.size === 0) assert.deepEqual({ sha256: e.sha256, md5: e.md5 }, empty, e.path);
        else assert.notEqual(e.sha256, empty.sha256, e.path);
      }
    }
  });
});
