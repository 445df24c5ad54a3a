import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/run-cli';

/**
 * The published package builds its native addons at install time (`node-gyp rebuild -C src/fs/native`), so
 * every source binding.gyp names must be in the tarball; a new addon once was not (utimens.c), and an install
 * from the tarball would have failed in node-gyp. npm's own file list is the judge (`npm pack --dry-run`,
 * without the prepare script, so nothing is built).
 */
describe('the npm package', () => {
  it('holds every source file binding.gyp compiles and the headers they include, the bins and the man pages', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', REPO_ROOT], {
      cwd: path.dirname(REPO_ROOT),
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const packed = new Set<string>((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));

    const gyp = fs.readFileSync(path.join(REPO_ROOT, 'src/fs/native/binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, '');
    const sources = (JSON.parse(gyp) as { targets: { sources: string[] }[] }).targets.flatMap((t) => t.sources);
    assert.ok(sources.length > 0);
    // The headers of our own that they include ("quoted"), which node-gyp needs as much as the sources.
    const headers = new Set(
      sources.flatMap((s) => [...fs.readFileSync(path.join(REPO_ROOT, 'src/fs/native', s), 'utf8').matchAll(/^#include "([^"]+)"/gm)].map((m) => m[1])),
    );
    assert.ok(headers.has('napi_errno.h'), 'the addons share napi_errno.h');
    const wanted = [
      'src/fs/native/binding.gyp',
      ...[...sources, ...headers].map((s) => `src/fs/native/${s}`),
      ...Object.values(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).bin as Record<string, string>),
      'man/overmerge.1',
      'man/overmerge-dpkg.1',
    ];
    assert.deepEqual(wanted.filter((f) => !packed.has(f)), []);
  });
});
