import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/cli/dpkg/config';
import { DPKG_OPTIONS } from '../../src/cli/dpkg/dpkg-table';
import { FORCE_NAMES, FORCES } from '../../src/cli/dpkg/force';
import { parseArgInt, parseOptions } from '../../src/cli/dpkg/options';
import { DPKG_HELP_HINT, DpkgExit, Reporter } from '../../src/cli/dpkg/report';
import { DpkgSettings } from '../../src/cli/dpkg/settings';
import { fnmatch } from '../../src/dpkg/fnmatch';
import { crop, strWidth } from '../../src/cli/dpkg/query/width';
import { tempDir } from '../helpers/temp';

/**
 * dpkg's option parser as plain data: each case is a command line (and environment) and what dpkg makes of
 * it — the action, the settings, the words left — or the exact error it gives. The expectations are
 * dpkg 1.21's (src/main/main.c, lib/dpkg/options.c); dpkg-oracle.test.ts checks the errors against the
 * real dpkg too.
 */
interface Parsed {
  settings: DpkgSettings;
  args: string[];
  stderr: string;
}

function parse(argv: string[], env: Record<string, string> = {}): Parsed | { exit: number; stream: string; text: string } {
  let stderr = '';
  const report = new Reporter({ prog: 'dpkg', helpHint: DPKG_HELP_HINT, stderr: (b) => (stderr += b.toString('latin1')) });
  try {
    const settings = new DpkgSettings(env, report);
    const args = parseOptions(argv, DPKG_OPTIONS, settings, report);
    return { settings, args, stderr };
  } catch (err) {
    if (err instanceof DpkgExit) return { exit: err.status, stream: err.stream, text: err.bytes.toString('latin1') };
    throw err;
  }
}

function ok(argv: string[], env: Record<string, string> = {}): Parsed {
  const r = parse(argv, env);
  if ('exit' in r) assert.fail(`${argv.join(' ')} was refused: ${r.text}`);
  return r;
}

function usage(message: string): string {
  return `dpkg: error: ${message}\n\n${DPKG_HELP_HINT}\n`;
}

describe('overmerge-dpkg option parser', () => {
  it('reads options before and after the action, up to the first word that is not one', () => {
    const cases: Array<[string[], { action?: string; args: string[] }]> = [
      [['-i', '--force-overwrite', 'a.deb', '--root', '/x'], { action: 'install', args: ['a.deb', '--root', '/x'] }],
      [['--root=/r', '-l'], { action: 'list', args: [] }],
      [['-L', 'pkg', '-s'], { action: 'listfiles', args: ['pkg', '-s'] }],
      [['--', '-l'], { args: ['-l'] }],
      [['-l', '--', '-x', 'y'], { action: 'list', args: ['-x', 'y'] }],
      [['-', '-l'], { args: ['-', '-l'] }],
      [['--purge', '-a'], { action: 'purge', args: [] }],
      [['--print-architecture'], { action: 'print-architecture', args: [] }],
    ];
    for (const [argv, want] of cases) {
      const p = ok(argv);
      assert.equal(p.settings.action?.name, want.action, argv.join(' '));
      assert.deepEqual(p.args, want.args, argv.join(' '));
    }
  });

  it('takes values as --opt=value, --opt value, -Xvalue, -X=value and -X value; groups short flags', () => {
    assert.equal(ok(['--abort-after=7', '-l']).settings.abortAfter, 7);
    assert.equal(ok(['--abort-after', '7', '-l']).settings.abortAfter, 7);
    assert.equal(ok(['-D10', '-l']).settings.debug, 8);
    assert.equal(ok(['-D=10', '-l']).settings.debug, 8);
    assert.equal(ok(['-D', '10', '-l']).settings.debug, 8);
    const p = ok(['-iEBOG', 'a.deb']);
    assert.equal(p.settings.action?.name, 'install');
    assert.equal(p.settings.skipSame, true);
    assert.equal(p.settings.autoDeconfigure, true);
    assert.equal(p.settings.alsoSelect, false);
    assert.equal(p.settings.forces.has('downgrade'), false);
    // A value is the next word, whatever it looks like.
    assert.equal(ok(['--log', '-l', '-s']).settings.log, '-l');
  });

  it('reads integers as strtol(base 0) and refuses the rest as dpkg does', () => {
    assert.deepEqual(['0x10', '010', '10', ' 5', '+3', '0'].map(parseArgInt), [16, 8, 10, 5, 3, 0]);
    assert.deepEqual(['-1', '', 'x', '1e3', '0x', '2147483648', '08'].map(parseArgInt), [undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
    assert.deepEqual(parse(['--abort-after=-1', '-l']), { exit: 2, stream: 'stderr', text: usage("invalid integer for --abort-after: '-1'") });
  });

  it('gives dpkg’s usage errors, exit 2', () => {
    const cases: Array<[string[], string]> = [
      [['--bogus'], 'unknown option --bogus'],
      [['-Z'], 'unknown option -Z'],
      [['--root'], '--root option takes a value'],
      [['-D'], '-D option takes a value'],
      [['--list=x'], '--list option does not take a value'],
      [['-l=x'], '-l option does not take a value'],
      [['-l', '-l'], 'conflicting actions -l (--list) and -l (--list)'],
      [['--unpack', '--configure'], 'conflicting actions -\b (--configure) and -\b (--unpack)'],
      [['-i', '--remove'], 'conflicting actions -r (--remove) and -i (--install)'],
      [['--force-nope'], "unknown force/refuse option 'nope'"],
      [['--force-overwrite,,depends'], "unknown force/refuse option ''"],
      [['-Dx'], '--debug requires a positive octal argument'],
      [['--ignore-depends=a,,b'], "null package name in --ignore-depends comma-separated list 'a,,b'"],
      [['--ignore-depends=a,'], "null package name in --ignore-depends comma-separated list 'a,'"],
      [['--ignore-depends=-x'], "--ignore-depends needs a valid package name but '-x' is not: illegal package name in specifier '-x': must start with an alphanumeric character"],
      [['--ignore-depends=a:'], "--ignore-depends needs a valid package name but 'a:' is not: illegal architecture name in specifier 'a:': may not be empty string"],
      [['--verify-format=json'], "unknown verify output format 'json'"],
    ];
    for (const [argv, message] of cases) assert.deepEqual(parse(argv), { exit: 2, stream: 'stderr', text: usage(message) }, argv.join(' '));
  });

  it('ends the run with help text on stdout for -Dhelp, --force-help', () => {
    const d = parse(['-Dhelp']);
    assert.ok('exit' in d && d.exit === 0 && d.stream === 'stdout' && d.text.startsWith('dpkg debugging option, --debug=<octal> or -D<octal>:\n'));
    const f = parse(['--force-help']);
    assert.ok('exit' in f && f.exit === 0 && f.text.includes('  [!] all                Set all force options\n') && f.text.endsWith('Currently enabled options:\n security-mac,downgrade\n'));
  });

  it('decides the root and the admin directory as dpkg 1.21: environment, then options in order', () => {
    const cases: Array<[string[], Record<string, string>, string, string]> = [
      [[], {}, '', '/var/lib/dpkg'],
      [['--root=/r'], {}, '/r', '/r/var/lib/dpkg'],
      [['--root=/r/./'], {}, '/r', '/r/var/lib/dpkg'],
      [['--root=/'], {}, '/', '//var/lib/dpkg'],
      [['--root', '/r', '--admindir', '/a'], {}, '/r', '/a'],
      [['--admindir', '/a', '--root', '/r'], {}, '/r', '/r/var/lib/dpkg'],
      [['--instdir=/i'], {}, '/i', '/var/lib/dpkg'],
      [['--instdir=/i'], { DPKG_ROOT: '/e' }, '/i', '/e/var/lib/dpkg'],
      [[], { DPKG_ROOT: '/e/' }, '/e', '/e/var/lib/dpkg'],
      [[], { DPKG_ROOT: '/e', DPKG_ADMINDIR: '/adm' }, '/e', '/adm'],
      [['--root=/r'], { DPKG_ADMINDIR: '/adm' }, '/r', '/r/var/lib/dpkg'],
    ];
    for (const [argv, env, root, admindir] of cases) {
      const p = ok([...argv, '-l'], env);
      assert.deepEqual([p.settings.dirs.root, p.settings.dirs.admindir], [root, admindir], `${argv.join(' ')} ${JSON.stringify(env)}`);
    }
  });

  it('keeps forces as dpkg does: defaults, DPKG_FORCE instead of them, all, refuse, no-force, -G', () => {
    assert.deepEqual(ok(['-l']).settings.forces.enabled, ['security-mac', 'downgrade']);
    assert.deepEqual(ok(['-l'], { DPKG_FORCE: '' }).settings.forces.enabled, []);
    assert.deepEqual(ok(['-l'], { DPKG_FORCE: 'overwrite,depends' }).settings.forces.enabled, ['overwrite', 'depends']);
    assert.deepEqual(ok(['--refuse-all', '--force-depends,breaks', '-l']).settings.forces.enabled, ['breaks', 'depends']);
    assert.deepEqual(ok(['--force-all', '--no-force-downgrade', '-G', '-l']).settings.forces.enabled.length, FORCE_NAMES.length - 1);
    assert.equal(ok(['--force-all', '-l']).settings.forces.toString(), FORCES.map((f) => f.name).join(','));
  });

  it('has a treatment for every force dpkg 1.21 knows', () => {
    assert.equal(FORCES.length, 28);
    for (const f of FORCES) assert.ok(['mapped', 'no-op', 'refused'].includes(f.overmerge.kind) && f.overmerge.why.length > 10, f.name);
    assert.deepEqual(FORCES.filter((f) => f.overmerge.kind === 'refused').map((f) => f.name), ['configure-any', 'bad-version', 'overwrite-diverted', 'overwrite-dir', 'remove-reinstreq']);
    assert.ok(FORCES.some((f) => f.name === 'unsafe-io' && f.overmerge.kind === 'no-op'));
  });
});

describe('overmerge-dpkg configuration files', () => {
  const work = tempDir('dpkg-config', { after });

  function load(files: Record<string, string>, argv: string[] = ['-l'], home?: string): Parsed | { exit: number; text: string } {
    const dir = fs.mkdtempSync(path.join(work, 'etc-'));
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), text);
    }
    let stderr = '';
    const report = new Reporter({ prog: 'dpkg', helpHint: DPKG_HELP_HINT, stderr: (b) => (stderr += b.toString('latin1')) });
    try {
      const env: Record<string, string> = home ? { HOME: home } : {};
      const settings = new DpkgSettings(env, report);
      loadConfig('dpkg', DPKG_OPTIONS, settings, report, env, dir);
      return { settings, args: parseOptions(argv, DPKG_OPTIONS, settings, report), stderr };
    } catch (err) {
      if (err instanceof DpkgExit) return { exit: err.status, text: err.bytes.toString('latin1').replace(dir, 'DIR') };
      throw err;
    }
  }

  it('reads dpkg.cfg.d/* in name order (names with other characters skipped), then dpkg.cfg; the command line wins', () => {
    const p = load({
      'dpkg.cfg.d/b': 'log /b\n',
      'dpkg.cfg.d/a': '# comment\n\nforce-overwrite\nlog "/a"\n',
      'dpkg.cfg.d/c.conf': 'bogus option\n',
      'dpkg.cfg': 'abort-after=3   \nno-debsig\n',
    });
    assert.ok(!('exit' in p));
    assert.equal(p.settings.log, '/b');
    assert.equal(p.settings.abortAfter, 3);
    assert.equal(p.settings.noDebsig, true);
    assert.ok(p.settings.forces.has('overwrite'));
    const q = load({ 'dpkg.cfg': 'log /cfg\n' }, ['--log=/cmd', '-l']);
    assert.ok(!('exit' in q) && q.settings.log === '/cmd');
  });

  it('refuses bad lines with dpkg’s "configuration error" naming the file and line', () => {
    const cases: Array<[string, string]> = [
      ['no-act 1\n', "'no-act' does not take a value"],
      ['root\n', "'root' needs a value"],
      ['bogus\n', "unknown option 'bogus'"],
      ["log 'x\n", "unbalanced quotes in 'log'"],
    ];
    for (const [text, message] of cases) {
      assert.deepEqual(load({ 'dpkg.cfg': `# first\n${text}` }), { exit: 2, text: `dpkg: error: configuration error: DIR/dpkg.cfg:2: ${message}\n` }, text);
    }
  });
});

describe('overmerge-dpkg patterns and widths', () => {
  it('matches like fnmatch(3) without flags', () => {
    const cases: Array<[string, string, boolean]> = [
      ['lib*', 'libc6', true],
      ['*', '/usr/bin', true],
      ['/usr/*/bash', '/usr/local/bin/bash', true],
      ['b?sh', 'bash', true],
      ['x[a-c]z', 'xbz', true],
      ['x[!a-c]z', 'xbz', false],
      ['x[^a-c]z', 'xdz', true],
      ['[[:digit:]]*', '7zip', true],
      ['a\\*', 'a*', true],
      ['a\\*', 'ab', false],
      ['[a', '[a', true],
      ['[]]', ']', true],
      ['*.deb', '.deb', true],
    ];
    for (const [p, s, want] of cases) assert.equal(fnmatch(p, s), want, `${p} ${s}`);
  });

  it('measures columns as dpkg does in the C and UTF-8 locales', () => {
    const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
    assert.equal(strWidth('bash', false), 4);
    assert.equal(strWidth(utf8('café'), false), 5);
    assert.equal(strWidth(utf8('café'), true), 4);
    assert.equal(strWidth(utf8('日本'), true), 4);
    assert.deepEqual(crop(utf8('日本語'), 5, true), { strBytes: 6, maxBytes: 7 });
    assert.deepEqual(crop(utf8('café'), 3, false), { strBytes: 3, maxBytes: 3 });
    assert.deepEqual(crop('first\nsecond', 40, false), { strBytes: 5, maxBytes: 40 });
  });
});
