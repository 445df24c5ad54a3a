import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildDeb as buildArchive } from '../../src/archive/build';
import { FIXTURE_EPOCH } from '../helpers/fixtures';
import { cannotRunDpkg, dpkg, FOREIGN, NATIVE, tool } from '../dpkg/dpkg-root';
import { buildScenario, type Scenario } from '../dpkg/scenario';
import { difference, omDpkg, omDpkgSpawn, realDpkg, type Run, type RunOptions } from './dpkg-cli';

/**
 * overmerge-dpkg against the real dpkg on the same root: every query action (-l, -s, -L, -S, -p, -V,
 * --audit, --get-selections, --yet-to-unpack, --print-*-architecture*, ...), error cases included, gives
 * the same stdout, stderr and exit status byte for byte. The root is test/dpkg/scenario.ts's (most of the
 * states dpkg's database can hold, diversions, a foreign architecture, Multi-Arch: same) plus packages
 * for the listing's columns (long names, versions and descriptions, UTF-8), a failed configuration, a
 * selection on hold, relations to names nothing installs, and files changed on disk for --verify.
 */
const skip = cannotRunDpkg();

describe('overmerge-dpkg queries against real dpkg', { skip }, () => {
  let work: string;
  let s: Scenario;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-dpkgcli-'));
    s = await buildScenario(work);
    const deb = (name: string, control: Record<string, string>, files: Record<string, string> = {}, scripts: Record<string, string> = {}): Promise<string> =>
      buildPlain(work, name, control, files, scripts);
    const long = await deb(
      'a-package-with-a-rather-long-name-indeed',
      {
        Version: '1:2.3.4-5+deb12u1~bpo11+1',
        Architecture: 'all',
        Section: 'utils',
        Priority: 'optional',
        Depends: 'virtual-thing | alpha, libm (>= 2.0)',
        Recommends: 'nonexistent-pkg',
        Provides: 'virtual-thing',
        Description: 'a description longer than the thirty-three columns dpkg starts from\n and a second line',
      },
      { 'usr/share/long/file': 'x\n', 'usr/share/doc/shared/long': 'x\n' },
    );
    const utf8 = await deb(
      'cafe',
      { Version: '1.0', Architecture: 'all', Description: 'Café naïve — ☃ 日本語の説明がここにあります and more text to be cut' },
      { 'usr/share/cafe/menu': 'x\n', 'usr/share/doc/shared/cafe': 'x\n' },
    );
    const broken = await deb('broken', { Version: '0.1', Architecture: NATIVE, Description: 'configuration fails' }, { 'usr/share/broken/f': 'x\n' }, { postinst: '#!/bin/sh\nexit 1\n' });
    const fonly = await deb('fonly', { Version: '3', Architecture: FOREIGN, 'Multi-Arch': 'foreign', Description: 'foreign only' }, { 'usr/share/fonly/f': 'x\n' });
    // alpha's trigger, pending in the scenario, loops when processed: the packages are set up all the same.
    dpkg(s, ['--no-triggers', '-i', long, utf8, fonly], { allowFail: true });
    dpkg(s, ['--no-triggers', '-i', broken], { allowFail: true });
    dpkg(s, ['--set-selections'], { input: 'beta hold\n' });
    // --verify material: a changed file, a missing one, a changed conffile.
    fs.writeFileSync(path.join(s.root, 'usr/share/long/file'), 'changed\n');
    fs.rmSync(path.join(s.root, 'usr/share/cafe/menu'));
    fs.writeFileSync(path.join(s.root, 'etc/alpha/alpha.conf'), 'edited by the administrator\n');
    tool(s, 'dpkg-divert', ['--package', 'cafe', '--add', '--divert', '/usr/share/long/file.cafe', '/usr/share/long/file']);
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** dpkg --root=ROOT ARGS and overmerge-dpkg --root=ROOT ARGS, compared. */
  async function same(args: string[], opts: RunOptions = {}, root = true): Promise<Run> {
    const argv = root ? [`--root=${s.root}`, ...args] : args;
    const want = realDpkg(argv, opts);
    const got = await omDpkg(argv, opts);
    const diff = difference(want, got);
    assert.equal(diff, '', `${args.join(' ')}:\n${diff}`);
    return got;
  }

  it('lists packages (-l) with dpkg’s columns and widths, with and without patterns, whatever COLUMNS says', async () => {
    const patterns = [[], ['*'], ['lib*'], ['libm'], [`libm:${FOREIGN}`], [`*:${FOREIGN}`], ['virtual-thing', 'nonexistent-pkg'], ['nothing-at-all', 'b*'], ['Alpha'], ['?eta'], ['[a-c]*']];
    for (const p of patterns) {
      for (const columns of ['80', '200', '40']) await same(['-l', ...p], { env: { COLUMNS: columns } });
    }
  });

  it('measures wide and non-ASCII text as dpkg does in the C and UTF-8 locales', async () => {
    for (const locale of ['C', 'C.UTF-8']) {
      await same(['-l'], { env: { LC_ALL: locale } });
      const got = await same(['-l', 'cafe', 'a-package*'], { env: { LC_ALL: locale } });
      assert.match(got.stdout.toString(), /ii {2}cafe +1\.0 +all +Café naïve/);
    }
  });

  it('prints status stanzas (-s), one, several, all, and says what it does not know', async () => {
    for (const args of [['-s'], ['-s', 'alpha'], ['-s', 'beta', 'gamma', 'delta'], ['-s', `libm:${NATIVE}`], ['-s', 'libm'], ['-s', 'nothing'], ['-s', 'nothing', 'alpha'], ['-s', 'eps'], ['-s', 'virtual-thing'], ['-s', 'BETA'], ['-s', '-bad'], ['-s', 'alpha:'], ['-s', 'alpha:any'], ['-s', 'fonly'], ['-s', 'broken']]) {
      await same(args);
    }
  });

  it('lists files (-L) with diversions, and refuses what is not installed', async () => {
    for (const args of [['-L', 'alpha'], ['-L', 'beta'], ['-L', `libm:${FOREIGN}`], ['-L', 'cafe', 'a-package-with-a-rather-long-name-indeed'], ['-L', 'gamma'], ['-L', 'delta'], ['-L', 'eps'], ['-L', 'nothing'], ['-L'], ['-L', 'libm'], ['-L', 'alpha', 'nothing', 'beta']]) {
      await same(args);
    }
  });

  it('searches (-S) paths and patterns, owners in dpkg’s order, diversions as dpkg prints them', async () => {
    const cases = [
      ['-S', '/usr/share/doc/shared'],
      ['-S', '/usr/share/libm'],
      ['-S', 'libm'],
      ['-S', '*'],
      ['-S', '/usr/share/long/file'],
      ['-S', '/usr/share/long/file.cafe'],
      ['-S', `/usr/share/beta/data-${NATIVE}`],
      ['-S', '/etc/gamma/gamma.conf'],
      ['-S', '/etc/gamma/gamma.conf.beta'],
      ['-S', '/usr/share/'],
      ['-S', '/usr/share/.'],
      ['-S', '/no/such/file', 'alpha.conf'],
      ['-S', '*conf*'],
      ['-S'],
      ['-S', ''],
    ];
    for (const args of cases) await same(args);
    // Both owners, in dpkg's order (same() checked it): the order of their .list files on disk, which
    // varies from one run of the suite to the next.
    const shared = await same(['-S', '/usr/share/doc/shared']);
    assert.match(shared.stdout.toString(), /^(cafe, a-package-with-a-rather-long-name-indeed|a-package-with-a-rather-long-name-indeed, cafe): \/usr\/share\/doc\/shared\n$/);
    const diverted = await same(['-S', '/usr/share/long/file']);
    assert.match(diverted.stdout.toString(), /^diversion by cafe from: \/usr\/share\/long\/file\ndiversion by cafe to: \/usr\/share\/long\/file\.cafe\n/);
  });

  it('verifies (-V) every package or the named ones against md5sums and conffiles', async () => {
    for (const args of [['-V'], ['-V', 'alpha'], ['-V', 'a-package-with-a-rather-long-name-indeed', 'cafe'], ['-V', 'nothing'], ['-V', 'delta'], ['--verify-format=rpm', '-V', 'alpha'], ['--verify-format', 'json', '-V']]) {
      await same(args);
    }
    const all = (await same(['-V'])).stdout.toString();
    assert.match(all, /^\?\?5\?{6} c \/etc\/alpha\/alpha\.conf$/m);
    assert.match(all, /^missing {5}\/usr\/share\/cafe\/menu$/m);
  });

  it('audits (-C), gets selections, and lists what is yet to unpack', async () => {
    for (const args of [['--audit'], ['-C', 'broken', 'gamma', 'nothing'], ['--get-selections'], ['--get-selections', 'libm*', 'nothing', '*:' + FOREIGN], ['--yet-to-unpack'], ['--yet-to-unpack', 'x']]) {
      await same(args);
    }
  });

  it('prints architectures and the available file (-p) after --merge-avail', async () => {
    await same(['--print-architecture']);
    await same(['--print-foreign-architectures']);
    await same(['-p']);
    await same(['-p', 'alpha']);
  });

  it('gives dpkg’s errors and exit statuses for bad command lines', async () => {
    const cases = [
      [],
      ['--bogus'],
      ['-Q'],
      ['--root'],
      ['-l', '-s'],
      ['--compare-versions', '1.0'],
      ['--compare-versions', '1', 'foo', '2'],
      ['--compare-versions', '1:x', 'lt', '2'],
      ['--compare-versions', 'a1', 'lt', '2'],
      ['--compare-versions', '', 'lt', '2'],
      ['--compare-versions', '1.0~rc1', 'lt', '1.0'],
      ['--compare-versions', '2', '>', '1'],
      ['--validate-version', '1:'],
      ['--validate-version', 'x1'],
      ['--validate-pkgname', 'ab_c'],
      ['--validate-pkgname', 'a b'],
      ['--validate-trigname', 'x y'],
      ['--validate-archname', '-amd64'],
      ['--validate-archname'],
      ['--assert-multi-arch'],
      ['--assert-versioned-provides', 'x'],
      ['--assert-nope'],
      ['--assert-help'],
      ['--force-help'],
      ['--debug=help'],
      ['--print-architecture', 'extra'],
      ['--add-architecture'],
      ['--remove-architecture', 'a', 'b'],
      ['--set-selections', 'x'],
      ['--clear-avail', 'x'],
      ['--merge-avail', 'a', 'b'],
      ['--forget-old-unavail'],
      ['--abort-after=x', '-l'],
      ['--status-fd', '99', '-l'],
      ['--force-bogus', '-l'],
      ['--ignore-depends=a,,b', '-l'],
    ];
    for (const args of cases) await same(args, {}, false);
    await same(['--compare-versions', '1', 'lt', '2'], { env: { DPKG_RUNNING_VERSION: '1.16.0' } }, false);
    await same(['--assert-versioned-provides'], { env: { DPKG_RUNNING_VERSION: '1.16.0' } }, false);
    await same(['--assert-multi-arch'], { env: { DPKG_RUNNING_VERSION: 'x:y' } }, false);
  });

  it('runs as the real binary with the same exit statuses', async () => {
    for (const args of [['-l', 'alpha'], ['-s', 'nothing'], ['--bogus'], ['--compare-versions', '1', 'gt', '2']]) {
      const argv = [`--root=${s.root}`, ...args];
      assert.equal(difference(realDpkg(argv), await omDpkgSpawn(argv)), '', args.join(' '));
    }
  });

  it('reads options from ~/.dpkg.cfg as dpkg does, errors included', async () => {
    const home = fs.mkdtempSync(path.join(work, 'home-'));
    fs.writeFileSync(path.join(home, '.dpkg.cfg'), `# test\nadmindir ${s.admin}\n`);
    await same(['--print-foreign-architectures'], { env: { HOME: home } }, false);
    await same(['-l', 'alpha'], { env: { HOME: home } }, false);
    fs.writeFileSync(path.join(home, '.dpkg.cfg'), 'no-act yes\n');
    await same(['-l'], { env: { HOME: home } }, false);
  });
});

describe('overmerge-dpkg writes as real dpkg does', { skip }, () => {
  let work: string;
  let s: Scenario;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-dpkgcli-w-'));
    s = await buildScenario(work);
    fs.writeFileSync(
      path.join(work, 'Packages'),
      'Package: newpkg\nVersion: 1.0\nArchitecture: all\nMaintainer: M <m@example.org>\nPriority: optional\nSection: misc\nDescription: only available\n\n' +
        'Package: alpha\nVersion: 9.0\nArchitecture: all\nMaintainer: M <m@example.org>\nSection: admin\nDepends: libm (>= 2), newpkg\nFilename: pool/a/alpha_9.0_all.deb\nSize: 1234\nMD5sum: 0123456789abcdef0123456789abcdef\nDescription: alpha, newer\n second line\n\n' +
        `Package: libm\nVersion: 0.5\nArchitecture: ${NATIVE}\nMulti-Arch: same\nMaintainer: M <m@example.org>\nDescription: older than installed\n`,
    );
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** Two copies of the scenario's root, one for each program. */
  function twins(name: string): { d: string; o: string } {
    const d = path.join(work, `${name}-dpkg`);
    const o = path.join(work, `${name}-om`);
    fs.cpSync(s.root, d, { recursive: true, verbatimSymlinks: true });
    fs.cpSync(s.root, o, { recursive: true, verbatimSymlinks: true });
    return { d, o };
  }

  /** Runs each step on both roots, comparing outputs, then compares the admin directories' files. */
  async function steps(name: string, list: Array<{ args: string[]; input?: string }>, files: string[]): Promise<void> {
    const { d, o } = twins(name);
    for (const step of list) {
      const want = realDpkg([`--root=${d}`, ...step.args], { input: step.input });
      const got = await omDpkg([`--root=${o}`, ...step.args], { input: step.input });
      const norm = (r: Run): Run => ({ ...r, stdout: Buffer.from(r.stdout.toString('latin1').replaceAll(d, 'ROOT').replaceAll(o, 'ROOT'), 'latin1'), stderr: Buffer.from(r.stderr.toString('latin1').replaceAll(d, 'ROOT').replaceAll(o, 'ROOT'), 'latin1') });
      const diff = difference(norm(want), norm(got));
      assert.equal(diff, "", `${step.args.join(" ")}: ${diff}`);
    }
    for (const f of files) {
      const read = (root: string): string | null => {
        const p = path.join(root, 'var/lib/dpkg', f);
        return fs.existsSync(p) ? fs.readFileSync(p, 'latin1') : null;
      };
      assert.equal(read(o), read(d), `${name}: var/lib/dpkg/${f}`);
    }
    // dpkg leaves updates/tmp.i behind when a writing run fails; readers ignore it, overmerge makes none.
    const entries = (root: string): string[] => fs.readdirSync(path.join(root, 'var/lib/dpkg/updates')).filter((n) => n !== 'tmp.i');
    assert.deepEqual(entries(o), entries(d), 'updates/');
  }

  it('adds and removes architectures (refusing one in use)', async () => {
    await steps(
      'arch',
      [
        { args: ['--add-architecture', 'arm64'] },
        { args: ['--add-architecture', NATIVE] },
        { args: ['--add-architecture', 'all'] },
        { args: ['--add-architecture', 'b_d'] },
        { args: ['--add-architecture', 'armhf'] },
        { args: ['--remove-architecture', 'arm64'] },
        { args: ['--remove-architecture', FOREIGN] },
        { args: ['--remove-architecture', NATIVE] },
        { args: ['--remove-architecture', 'sparc'] },
        { args: ['--print-foreign-architectures'] },
        { args: ['--force-architecture', '--remove-architecture', FOREIGN] },
        { args: ['--print-foreign-architectures'] },
      ],
      ['arch'],
    );
  });

  it('merges, replaces and clears the available file', async () => {
    await steps(
      'avail',
      [
        { args: ['--merge-avail', path.join(work, 'Packages')] },
        { args: ['-p'] },
        { args: ['-p', 'alpha', 'newpkg', 'beta'] },
        { args: ['--merge-avail', '-'], input: 'Package: dummy\nVersion: 0~\nArchitecture: all\nMaintainer: Dummy Example <dummy@example.org>\nDescription: dummy package record\n A record is needed to put a package on hold, so here it is.\n\n' },
        { args: ['-p'] },
        { args: ['--update-avail', path.join(work, 'Packages')] },
        { args: ['-p'] },
        { args: ['--merge-avail', path.join(work, 'no-such-file')] },
        { args: ['--merge-avail', '-'], input: 'Package: bad\nDescription: no version\n' },
        { args: ['--clear-avail'] },
        { args: ['-p'] },
      ],
      ['available'],
    );
  });

  it('sets and clears selections (status rewritten as dpkg writes it)', async () => {
    await steps(
      'sel',
      [
        { args: ['--merge-avail', path.join(work, 'Packages')] },
        { args: ['--set-selections'], input: `# comment\nbeta hold\n  alpha   deinstall  \nnewpkg install\nunknown-pkg purge\nlibm:${FOREIGN} hold\n` },
        { args: ['--get-selections'] },
        { args: ['--no-act', '--clear-selections'] },
        { args: ['--set-selections'], input: 'gamma bogus\n' },
        { args: ['--set-selections'], input: 'Bad_ install\n' },
        { args: ['--set-selections'], input: 'libm install\n' },
        { args: ['--get-selections', '*'] },
        { args: ['-l', 'newpkg'] },
      ],
      ['status', 'available'],
    );
    await steps('clear', [{ args: ['--clear-selections'] }, { args: ['--get-selections', '*'] }], ['status']);
  });

  it('runs --pre-invoke and --post-invoke hooks around the actions that change something', async () => {
    const hook = 'echo "$DPKG_HOOK_ACTION root=$DPKG_ROOT"';
    const { d, o } = twins('hooks');
    const want = realDpkg([`--root=${d}`, `--pre-invoke=${hook}`, `--post-invoke=${hook}`, '--add-architecture', 's390x']);
    const got = await omDpkg([`--root=${o}`, `--pre-invoke=${hook}`, `--post-invoke=${hook}`, '--add-architecture', 's390x']);
    assert.equal(got.stdout.toString().replaceAll(o, 'ROOT'), want.stdout.toString().replaceAll(d, 'ROOT'));
    assert.equal(got.status, want.status);
    const failing = realDpkg([`--root=${d}`, '--pre-invoke=exit 3', '--add-architecture', 'mips64el']);
    const ours = await omDpkg([`--root=${o}`, '--pre-invoke=exit 3', '--add-architecture', 'mips64el']);
    assert.equal(difference(failing, ours), '');
  });
});

/** A .deb from a control paragraph written as given (UTF-8 descriptions included), files and scripts. */
async function buildPlain(work: string, name: string, control: Record<string, string>, files: Record<string, string>, scripts: Record<string, string>): Promise<string> {
  const tree = fs.mkdtempSync(path.join(work, `tree-${name}-`));
  fs.chmodSync(tree, 0o755);
  fs.mkdirSync(path.join(tree, 'DEBIAN'), { mode: 0o755 });
  const fields = { Package: name, Maintainer: 'overmerge tests <tests@overmerge.invalid>', ...control };
  fs.writeFileSync(path.join(tree, 'DEBIAN/control'), Object.entries(fields).map(([k, v]) => `${k}: ${v}\n`).join(''));
  for (const [script, body] of Object.entries(scripts)) fs.writeFileSync(path.join(tree, 'DEBIAN', script), body, { mode: 0o755 });
  for (const [file, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(tree, file)), { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(tree, file), body, { mode: 0o644 });
  }
  const out = path.join(work, `${name}.deb`);
  await buildArchive(tree, out, { compression: 'gzip', sourceDateEpoch: FIXTURE_EPOCH });
  return out;
}
