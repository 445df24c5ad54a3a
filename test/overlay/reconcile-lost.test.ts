import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { buildAdHocDeb } from '../helpers/fixtures';
import { layerState } from '../helpers/layer-state';
import { om, runCli } from '../helpers/run-cli';
import { withTempDir } from '../helpers/temp';

/**
 * Data that lived in the replaced lower: a package the live system installed keeps its rows, but one of
 * its files was the old image's (an identical file an upgrade left where it was) and the new image lacks
 * it. The dry run lists it; --apply refuses with one line and changes nothing; --accept-data-loss applies.
 * Plain folders stand for the layers (reconcile reads layer folders, mounted or not).
 */
test('lost data: listed, --apply refused with one line, --accept-data-loss applies', async () => {
  await withTempDir('reconcile-lost', async (dir) => {
    const deb = await buildAdHocDeb(dir, {
      name: 'tool',
      version: '2.0',
      entries: [
        { path: 'usr/bin/tool', type: 'file', content: 'tool 2\n' },
        { path: 'usr/share/doc/tool/copyright', type: 'file', content: 'same in 1.0 and 2.0\n' },
      ],
    });
    const upper = path.join(dir, 'upper');
    const lower = path.join(dir, 'image-v2');
    await fsp.mkdir(upper);
    await fsp.mkdir(lower);
    const r = await om(upper, ['install', deb], { quiet: true });
    assert.equal(r.status, 0, r.stderr);
    // The copyright was the old image's (tool 1.0 had the same bytes): it is not in the upper layer.
    await fsp.rm(path.join(upper, 'usr/share/doc/tool/copyright'));

    const dry = await runCli(['--json', 'overlay', 'reconcile', '--upper', upper, '--lower', lower]);
    assert.equal(dry.status, 0, dry.stderr);
    const j = JSON.parse(dry.stdout) as { lost: Array<{ path: string; kind: string; package: string }>; packages: Array<{ name: string; verdict: string }> };
    assert.deepEqual(j.lost.map((l) => `${l.kind} ${l.path} ${l.package}`), ['package-file usr/share/doc/tool/copyright tool 2.0']);
    assert.deepEqual(j.packages.map((p) => `${p.name} ${p.verdict}`), ['tool upper-only']);
    const text = await runCli(['overlay', 'reconcile', '--upper', upper, '--lower', lower]);
    assert.match(text.stdout, /Lost data: 1 \(it lived in the replaced lower layer; --apply refuses unless --accept-data-loss\)/);

    const before = await layerState(upper);
    const refused = await runCli(['overlay', 'reconcile', '--upper', upper, '--lower', lower, '--apply']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /^overmerge: 1 file\(s\) would lose data that lived in the replaced lower layer \(first: \/usr\/share\/doc\/tool\/copyright: .*\(.*--accept-data-loss\)\n$/);
    assert.deepEqual(await layerState(upper), before, 'a refused --apply changed the upper layer');

    const accepted = await runCli(['overlay', 'reconcile', '--upper', upper, '--lower', lower, '--apply', '--accept-data-loss']);
    assert.equal(accepted.status, 0, accepted.stderr);
    const list = await om(upper, ['--json', 'list']);
    assert.deepEqual((JSON.parse(list.stdout) as Array<{ name: string }>).map((p) => p.name), ['tool'], 'the package is kept: reinstall it to get the file back');
  });
});
