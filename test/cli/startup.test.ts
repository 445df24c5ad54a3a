import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, runCli } from '../helpers/run-cli';

/**
 * What the CLI loads before it knows what to do. Timings are never asserted (see bench/startup.ts); what
 * is loaded is, because one static import of the engine in a command module brings SQLite, liblzma and
 * a hundred modules back into every `overmerge --version`.
 */
const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli');

/** Module requests (as given to require) and files loaded by `script` run in a fresh Node. */
function loadedBy(script: string): { requests: string[]; files: string[]; stdout: string } {
  const probe = `
    const Module = require('node:module');
    const requests = [];
    const load = Module._load;
    Module._load = function (request, ...rest) { requests.push(request); return load.call(this, request, ...rest); };
    process.on('exit', () => process.stderr.write(JSON.stringify({ requests, files: Object.keys(require.cache) })));
    ${script}`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', cwd: REPO_ROOT });
  assert.equal(r.status, 0, r.stderr);
  return { ...(JSON.parse(r.stderr) as { requests: string[]; files: string[] }), stdout: r.stdout };
}

/** Modules a command's parser side has no use for; of src/fs, only the path helpers (no I/O at load) are. */
const ENGINE = /[/\\]dist[/\\]src[/\\]((engine|db|stage|archive|overlay|dpkg)[/\\]|fs[/\\](?!rootpath\.js$|host-path\.js$))/;
const NATIVE = /^(better-sqlite3|lzma-native|zstd-napi|fs-xattr)(\/|$)/;

describe('CLI start-up', () => {
  it('registers every command without loading an engine module or a native addon', () => {
    const { requests, files } = loadedBy(`require(${JSON.stringify(path.join(CLI, 'registry.js'))});`);
    assert.deepEqual(files.filter((f) => ENGINE.test(f) || f.endsWith('.node')), []);
    assert.deepEqual(requests.filter((r) => NATIVE.test(r) || r === 'yargs'), []);
  });

  it('answers --version without loading yargs or the commands', () => {
    const { requests, files, stdout } = loadedBy(
      `require(${JSON.stringify(path.join(CLI, 'main.js'))}).main(['--version']).then((s) => { process.exitCode = s; });`,
    );
    assert.equal(stdout, `${(JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
    assert.ok(!requests.includes('yargs'), 'yargs was loaded');
    assert.deepEqual(files.filter((f) => /[/\\](registry|list|install)\.js$/.test(f)), []);
  });

  it('prints the same version through yargs as without it', async () => {
    const alone = await runCli(['--version']);
    const parsed = await runCli(['--version', '--quiet']);
    assert.equal(alone.status, 0);
    assert.equal(parsed.status, 0);
    assert.equal(parsed.stdout, alone.stdout);
    assert.match(alone.stdout, /^\d+\.\d+\.\d+\S*\n$/);
  });
});
