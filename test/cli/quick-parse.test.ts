import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { COMMAND_MODULES, loadCommand } from '../../src/cli/command-modules';
import { commandName } from '../../src/cli/command';
import { globalOptions } from '../../src/cli/global';
import { yargsParser } from '../../src/cli/main';
import { declared, quickParse } from '../../src/cli/quick-parse';
import { commands } from '../../src/cli/registry';
import { REPO_ROOT } from '../helpers/run-cli';

/**
 * The quick parser (src/cli/quick-parse.ts) against yargs: every line it takes, it takes exactly as yargs
 * does (the same arguments object the command's handler receives), and it hands every line it is not sure
 * of to yargs. Lines it must take are named, so that the fast path does not silently stop being used.
 */
const split = (line: string): string[] => line.split(' ').filter((w) => w !== '');

/** What yargs hands the handler for `argv`, or the error it throws. */
async function viaYargs(argv: string[]): Promise<Record<string, unknown> | { error: string }> {
  let args: Record<string, unknown> | undefined;
  try {
    await yargsParser(argv, '0.1.0', (_c, a) => {
      args = a;
    }).parseAsync(argv);
  } catch (err) {
    return { error: (err as Error).message };
  }
  return args ?? { error: 'no command ran' };
}

const quick = (argv: string[]) => quickParse(argv, declared(globalOptions), loadCommand, 'overmerge');

/** Lines the quick parser must take, as yargs does. */
const TAKEN = [
  'list',
  '--root /r list',
  '--root=/r list lib*',
  'list --json',
  '-q list --no-json',
  'install a.deb',
  '--root /r install a.deb b.deb --force-overwrite --keep-backups',
  'install a.deb --backup-retention 3 --max-members 10 --dry-run --force-confnew',
  'install a.deb --force depends,conflicts -B --ignore-depends x,y --force-depends',
  'unpack --root /r a.deb --no-triggers --mode copy --lock-wait 2.5',
  'install a.deb --scripts chrootless --auto-recover',
  'install a.deb --scripts= --no-auto-recover',
  'install a.deb --no-scripts --db /d --staging /s --admindir /a',
  'remove x',
  'remove x:amd64 y --root /r -q',
  'purge x --dry-run --force-remove-essential',
  'configure a b',
  'configure --pending',
  'configure -a --triggers-only',
  'files x',
  'owner /usr/bin/x',
  'verify',
  'verify a b',
  'history --json',
  'recover --root /r',
  'rollback',
  'rollback 12 --force-confold',
  'bootstrap /t a.deb b.deb',
  'install a.deb --path-exclude=/usr/share/doc/* b.deb',
  'unpack --path-include /usr/share/doc/*/copyright a.deb',
];

/** Lines it must leave to yargs (help, errors, what it does not model); yargs says what they mean. */
const LEFT = [
  '',
  '--help',
  'list --help',
  'list -h',
  '--version list',
  'lisst',
  'list a b',
  'list --unknown',
  'install',
  'install a.deb --force-overwrite --force-overwrite',
  'install a.deb --force x --force y',
  'install a.deb --force-confnew --force-confold',
  'install a.deb --backup-retention -1',
  'install a.deb --backup-retention x',
  'install a.deb --max-members 0',
  'install a.deb --force nonsense',
  'install a.deb --mode move',
  'install a.deb --scripts maybe',
  'install a.deb --lock-wait',
  'install a.deb --json=false',
  'install -- a.deb',
  'install a.deb -Bq',
  'configure',
  'configure --pending a',
  'overlay status',
  'build dir out.deb',
  'compare-versions 1.0 lt 2.0',
  'contents a.deb',
  'info a.deb',
  'list --no-root',
  'install a.deb --no-scripts=x',
  'list --root',
  'list --root=',
  'install a.deb --path-exclude=/a --path-exclude=/b',
  'install a.deb --path-exclude',
];

describe('quick parser', () => {
  it('names the same commands as the registry, each to the same command', () => {
    assert.deepEqual(Object.keys(COMMAND_MODULES).sort(), commands.map((c) => commandName(c)).sort());
    for (const c of commands) assert.equal(loadCommand(commandName(c)), c, commandName(c));
    assert.equal(loadCommand('constructor'), undefined);
  });

  for (const line of TAKEN) {
    it(`takes \`overmerge ${line}\` as yargs does`, async () => {
      const argv = split(line);
      const q = quick(argv);
      assert.ok(q, 'left to yargs');
      assert.deepEqual(q.args, await viaYargs(argv));
    });
  }

  for (const line of LEFT) {
    it(`leaves \`overmerge ${line}\` to yargs`, () => {
      assert.equal(quick(split(line)), undefined);
    });
  }

  it('loads neither yargs nor another command for `overmerge list`', () => {
    const probe = `
      const Module = require('node:module');
      const requests = [];
      const load = Module._load;
      Module._load = function (request, ...rest) { requests.push(request); return load.call(this, request, ...rest); };
      require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'))}).main(['--root', '/nonexistent-root', 'list']).then((s) => {
        process.stderr.write(JSON.stringify({ status: s, requests, files: Object.keys(require.cache) }));
      });`;
    const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', cwd: REPO_ROOT });
    const { requests, files } = JSON.parse(r.stderr.slice(r.stderr.indexOf('{'))) as { requests: string[]; files: string[] };
    assert.ok(!requests.includes('yargs'), 'yargs was loaded');
    assert.deepEqual(files.filter((f) => /[/\\]cli[/\\](registry|install|remove|verify)\.js$/.test(f)), []);
  });
});
