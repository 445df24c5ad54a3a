import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { filteredOut } from '../../src/stage/path-filter';
import type { PathFilter } from '../../src/model/path-filter';
import { buildDeb, cannotRunDpkg, makeDpkgRoot, type DpkgRoot } from '../dpkg/dpkg-root';
import type { AdHocPackage } from '../helpers/fixtures';
import { om } from '../helpers/run-cli';
import { difference, omDpkg, realDpkg, type RunOptions } from './dpkg-cli';

/**
 * dpkg's path filtering (--path-exclude/--path-include, and the same lines in dpkg's configuration files):
 * overmerge-dpkg -i and real dpkg -i of one archive on two fresh roots leave the same tree, the same
 * .list, md5sums and status stanza, and `dpkg -L` / `dpkg --verify` say the same about both; upgrades and
 * removals under filters too. And the main CLI's install with the same options against dpkg -i.
 */
const skip = cannotRunDpkg();

const exclude = (pattern: string): PathFilter => ({ pattern, include: false });
const include = (pattern: string): PathFilter => ({ pattern, include: true });
const name = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('path filters, as dpkg’s filters.c decides', () => {
  it('lets the last matching pattern decide, with * crossing /', () => {
    const f = [exclude('/usr/share/doc/*'), include('/usr/share/doc/*/copyright')];
    assert.equal(filteredOut(f, name('./usr/share/doc/x/changelog.gz'), 'file'), true);
    assert.equal(filteredOut(f, name('./usr/share/doc/x/copyright'), 'file'), false);
    assert.equal(filteredOut(f, name('./usr/share/doc/x/sub/copyright'), 'file'), false);
    assert.equal(filteredOut(f, name('./usr/bin/x'), 'file'), false);
    assert.equal(filteredOut([...f, exclude('*')], name('./usr/share/doc/x/copyright'), 'file'), true);
    assert.equal(filteredOut([], name('./usr/share/doc/x/copyright'), 'file'), false);
  });

  it('keeps an excluded directory or symlink whose name an include pattern’s literal head begins', () => {
    const f = [exclude('/usr/share/doc/*'), include('/usr/share/doc/*/copyright')];
    assert.equal(filteredOut(f, name('./usr/share/doc/x/'), 'directory'), false);
    assert.equal(filteredOut(f, name('./usr/share/doc/x'), 'symlink'), false);
    // A file is never brought back so; nor a directory the head does not begin.
    assert.equal(filteredOut(f, name('./usr/share/doc/x/NEWS'), 'file'), true);
    assert.equal(filteredOut([exclude('/usr/*'), include('/usr/share/doc/*')], name('./usr/lib/'), 'directory'), true);
    // Byte prefixes, not path components, as dpkg compares (strncmp).
    assert.equal(filteredOut([exclude('/usr/*'), include('/usr/share/doc/*')], name('./usr/share/docs/'), 'directory'), false);
  });

  it('matches the tar name less its first character, and fnmatch brackets and escapes', () => {
    assert.equal(filteredOut([exclude('/etc/[a-c]*')], name('./etc/b.conf'), 'file'), true);
    assert.equal(filteredOut([exclude('/etc/[!a-c]*')], name('./etc/b.conf'), 'file'), false);
    assert.equal(filteredOut([exclude('/etc/\\*')], name('./etc/*'), 'file'), true);
    assert.equal(filteredOut([exclude('/etc/\\*')], name('./etc/x'), 'file'), false);
    // The root entry './' is '' to the filters (which '*' matches); a name without './' loses its first letter, as in dpkg.
    assert.equal(filteredOut([exclude('/*')], name('./'), 'directory'), false);
    assert.equal(filteredOut([exclude('*')], name('./'), 'directory'), true);
    assert.equal(filteredOut([exclude('/usr/*')], name('usr/bin/x'), 'file'), false);
  });
});

/** The package: documentation, a manual page, a program, a conffile (version 2 changes each). */
function fixture(version: string): AdHocPackage {
  return {
    name: 'pf',
    version,
    entries: [
      { path: 'usr/bin/pf', type: 'file', content: `#!/bin/sh\necho ${version}\n`, mode: 0o755 },
      { path: 'usr/share/doc/pf/copyright', type: 'file', content: `copyright ${version}\n` },
      { path: 'usr/share/doc/pf/changelog.gz', type: 'file', content: `changelog ${version}\n` },
      { path: 'usr/share/man/man1/pf.1.gz', type: 'file', content: `manual ${version}\n` },
      { path: 'usr/share/pf/link', type: 'symlink', target: '../doc/pf' },
      { path: 'etc/pf/pf.conf', type: 'file', content: `setting=${version}\n` },
    ],
    conffiles: ['/etc/pf/pf.conf'],
    fields: { Architecture: 'all' },
  };
}

const UBUNTU_MINIMAL = ['path-exclude=/usr/share/man/*', 'path-exclude=/usr/share/doc/*', 'path-include=/usr/share/doc/*/copyright', ''].join('\n');

describe('overmerge-dpkg --path-exclude/--path-include against real dpkg', { skip }, () => {
  let work: string;
  let v1: string;
  let v2: string;
  let n = 0;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-pathfilter-'));
    v1 = await buildDeb(work, fixture('1.0'));
    v2 = await buildDeb(work, fixture('2.0'));
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** Two fresh roots: one for dpkg, one for overmerge-dpkg. */
  function roots(): { want: DpkgRoot; got: DpkgRoot } {
    n++;
    return { want: makeDpkgRoot(path.join(work, `dpkg-${n}`)), got: makeDpkgRoot(path.join(work, `om-${n}`)) };
  }

  const common = (r: DpkgRoot): string[] => [`--root=${r.root}`, '--force-script-chrootless', '--log=/dev/null'];

  /**
   * The same command on both roots: exit status and stderr alike (stdout's progress lines are the
   * transaction tests' business). `dpkgOpts`/`omOpts` differ only where the configuration is read from.
   */
  async function both(r: { want: DpkgRoot; got: DpkgRoot }, args: string[], dpkgOpts: RunOptions = {}, omOpts: RunOptions = dpkgOpts): Promise<void> {
    const want = realDpkg([...common(r.want), ...args], dpkgOpts);
    const got = await omDpkg([...common(r.got), ...args], { env: { HOME: undefined }, configDir: path.join(work, 'no-config'), ...omOpts });
    assert.equal(got.status, want.status, `${args.join(' ')}: exit status\n${want.stderr}\n${got.stderr}`);
    assert.equal(got.stderr.toString(), want.stderr.toString(), `${args.join(' ')}: stderr`);
    assert.equal(want.status, 0, `dpkg ${args.join(' ')}: ${want.stderr}`);
  }

  /** Everything the two roots should agree on after a command. */
  async function same(r: { want: DpkgRoot; got: DpkgRoot }, what: string): Promise<void> {
    assert.deepEqual(tree(r.got.root), tree(r.want.root), `${what}: the tree`);
    for (const f of ['pf.list', 'pf.md5sums', 'pf.conffiles']) assert.equal(info(r.got, f), info(r.want, f), `${what}: info/${f}`);
    assert.equal(stanza(r.got), stanza(r.want), `${what}: the status stanza`);
    // Real dpkg reads both databases; overmerge-dpkg answers as dpkg does on its own.
    for (const q of [['-L', 'pf'], ['--verify']]) {
      const want = realDpkg([`--root=${r.want.root}`, ...q]);
      const ofGot = realDpkg([`--root=${r.got.root}`, ...q]);
      assert.equal(difference(want, ofGot), '', `${what}: dpkg ${q.join(' ')} on both roots`);
      const om = await omDpkg([`--root=${r.got.root}`, ...q], { env: { HOME: undefined } });
      assert.equal(difference(want, om), '', `${what}: overmerge-dpkg ${q.join(' ')}`);
    }
  }

  it('excludes the documentation but its copyright, and the manual pages', async () => {
    const r = roots();
    await both(r, ['--path-exclude=/usr/share/doc/*', '--path-include=/usr/share/doc/*/copyright', '--path-exclude=/usr/share/man/*', '-i', v1]);
    await same(r, 'doc excluded, copyright included');
    assert.ok(fs.existsSync(path.join(r.got.root, 'usr/share/doc/pf/copyright')));
    assert.ok(!fs.existsSync(path.join(r.got.root, 'usr/share/doc/pf/changelog.gz')));
    assert.ok(!fs.existsSync(path.join(r.got.root, 'usr/share/man/man1')));
  });

  it('excludes directories with what is in them, a conffile and a symlink included', async () => {
    const r = roots();
    await both(r, ['--path-exclude=/etc/*', '--path-exclude=/usr/share/man*', '--path-exclude=/usr/share/pf/*', '-i', v1]);
    await same(r, 'directories excluded');
    assert.ok(!fs.existsSync(path.join(r.got.root, 'etc/pf')));
    assert.ok(!fs.existsSync(path.join(r.got.root, 'usr/share/man')));
  });

  it('changes nothing with an include and no exclude', async () => {
    const r = roots();
    await both(r, ['--path-include=/usr/share/doc/*', '-i', v1]);
    await same(r, 'include alone');
    assert.ok(fs.existsSync(path.join(r.got.root, 'usr/share/doc/pf/changelog.gz')));
  });

  it('reads the filters from dpkg’s configuration files (Ubuntu’s minimal images), before the command line', async () => {
    // dpkg reads /etc/dpkg/dpkg.cfg.d/* of the host, which a test cannot change; it reads ~/.dpkg.cfg the
    // same way, so real dpkg gets the lines there and overmerge-dpkg (in-process) from a dpkg.cfg.d/.
    const home = fs.mkdtempSync(path.join(work, 'home-'));
    fs.writeFileSync(path.join(home, '.dpkg.cfg'), UBUNTU_MINIMAL);
    const configDir = fs.mkdtempSync(path.join(work, 'etc-dpkg-'));
    fs.mkdirSync(path.join(configDir, 'dpkg.cfg.d'));
    fs.writeFileSync(path.join(configDir, 'dpkg.cfg.d', 'excludes'), UBUNTU_MINIMAL);
    const r = roots();
    await both(r, ['-i', v1], { env: { HOME: home } }, { env: { HOME: undefined }, configDir });
    await same(r, 'filters from dpkg.cfg.d');
    assert.ok(!fs.existsSync(path.join(r.got.root, 'usr/share/doc/pf/changelog.gz')));
    // overmerge-dpkg reads ~/.dpkg.cfg as dpkg does; an include on the command line comes after the file's lines.
    const r2 = roots();
    await both(r2, ['--path-include=/usr/share/man/*', '-i', v1], { env: { HOME: home } }, { env: { HOME: home } });
    await same(r2, 'filters from ~/.dpkg.cfg and the command line');
    assert.ok(fs.existsSync(path.join(r2.got.root, 'usr/share/man/man1/pf.1.gz')));
  });

  it('upgrades under filters: a filtered file the old version placed stays, an unfiltered one arrives', async () => {
    // The conffile alone: its folder stays, so dpkg has no folder it cannot delete to warn about.
    const doc = ['--path-exclude=/usr/share/doc/*', '--path-include=/usr/share/doc/*/copyright', '--path-exclude=/etc/pf/pf.conf'];
    const r = roots();
    await both(r, ['-i', v1]);
    await both(r, [...doc, '-i', v2]);
    await same(r, 'unfiltered 1.0, then filtered 2.0');
    const r2 = roots();
    await both(r2, [...doc, '-i', v1]);
    await both(r2, ['-i', v2]);
    await same(r2, 'filtered 1.0, then unfiltered 2.0');
    assert.equal(fs.readFileSync(path.join(r2.got.root, 'usr/share/doc/pf/changelog.gz'), 'utf8'), 'changelog 2.0\n');
    const r3 = roots();
    await both(r3, [...doc, '-i', v1]);
    await both(r3, [...doc, '-i', v2]);
    await same(r3, 'filtered 1.0, then filtered 2.0');
  });

  it('unpacks under filters and configures after, a filtered conffile left unconfigured as dpkg leaves it', async () => {
    const r = roots();
    await both(r, ['--path-exclude=/etc/*', '--path-exclude=/usr/share/doc/*', '--unpack', v1]);
    await same(r, 'unpacked');
    await both(r, ['--configure', 'pf']);
    await same(r, 'configured');
  });

  it('removes and purges a package with filtered paths without a word about them', async () => {
    const r = roots();
    await both(r, ['--path-exclude=/usr/share/doc/*', '--path-exclude=/etc/*', '-i', v1]);
    await both(r, ['-r', 'pf']);
    assert.deepEqual(tree(r.got.root), tree(r.want.root), 'after -r: the tree');
    assert.equal(stanza(r.got), stanza(r.want), 'after -r: the status stanza');
    await both(r, ['-P', 'pf']);
    assert.deepEqual(tree(r.got.root), tree(r.want.root), 'after -P: the tree');
    assert.equal(stanza(r.got), stanza(r.want), 'after -P: the status stanza');
  });
});

describe('overmerge install --path-exclude/--path-include against real dpkg', { skip }, () => {
  let work: string;
  let v1: string;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-pathfilter-main-'));
    v1 = await buildDeb(work, fixture('1.0'));
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** dpkg -i and overmerge install with the same filters on two fresh roots: the same tree and database. */
  async function compare(name: string, filters: string[]): Promise<{ got: DpkgRoot }> {
    const want = makeDpkgRoot(path.join(work, `dpkg-${name}`));
    const got = makeDpkgRoot(path.join(work, `om-${name}`));
    const d = realDpkg([`--root=${want.root}`, '--force-script-chrootless', '--log=/dev/null', ...filters, '-i', v1]);
    assert.equal(d.status, 0, d.stderr.toString());
    const o = await om(got.root, ['install', ...filters, v1], { quiet: true });
    assert.equal(o.status, 0, o.stderr);
    assert.deepEqual(tree(got.root), tree(want.root), `${name}: the tree`);
    for (const f of ['pf.list', 'pf.md5sums', 'pf.conffiles']) assert.equal(info(got, f), info(want, f), `${name}: info/${f}`);
    assert.equal(stanza(got), stanza(want), `${name}: the status stanza`);
    const verify = (r: DpkgRoot): string => realDpkg([`--root=${r.root}`, '--verify']).stdout.toString();
    assert.equal(verify(got), verify(want), `${name}: dpkg --verify`);
    return { got };
  }

  it('keeps the documentation but its copyright out, and the manual pages', async () => {
    const { got } = await compare('doc', ['--path-exclude=/usr/share/doc/*', '--path-include', '/usr/share/doc/*/copyright', '--path-exclude=/usr/share/man/*']);
    assert.ok(fs.existsSync(path.join(got.root, 'usr/share/doc/pf/copyright')));
    assert.ok(!fs.existsSync(path.join(got.root, 'usr/share/doc/pf/changelog.gz')));
  });

  it('takes the filters in the order given: an include before the exclusion brings nothing back', async () => {
    const { got } = await compare('order', ['--path-include=/usr/share/doc/*/copyright', '--path-exclude=/usr/share/doc/*']);
    assert.ok(!fs.existsSync(path.join(got.root, 'usr/share/doc/pf/copyright')));
  });

  it('refuses a filter without its pattern in one line, and changes nothing', async () => {
    const r = makeDpkgRoot(path.join(work, 'refused'));
    const before = tree(r.root);
    const o = await om(r.root, ['install', v1, '--path-exclude']);
    assert.notEqual(o.status, 0);
    assert.equal(o.stderr.trim().split('\n').length, 1, o.stderr);
    assert.match(o.stderr, /path-exclude/);
    assert.deepEqual(tree(r.root), before);
  });
});

/** The root's tree outside var/ (dpkg's database is compared on its own): path → type, mode, content or target. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`;
      if (p === 'var') continue;
      const host = path.join(root, p);
      const mode = (fs.lstatSync(host).mode & 0o7777).toString(8);
      if (e.isDirectory()) {
        out[`${p}/`] = `dir ${mode}`;
        walk(p);
      } else if (e.isSymbolicLink()) out[p] = `symlink -> ${fs.readlinkSync(host)}`;
      else out[p] = `file ${mode} ${fs.readFileSync(host).toString('base64')}`;
    }
  };
  walk('');
  return out;
}

function info(r: DpkgRoot, file: string): string | undefined {
  const p = path.join(r.admin, 'info', file);
  return fs.existsSync(p) ? fs.readFileSync(p, 'latin1') : undefined;
}

/** pf's stanza of the status file. */
function stanza(r: DpkgRoot): string | undefined {
  return fs
    .readFileSync(path.join(r.admin, 'status'), 'latin1')
    .split(/\n\n+/)
    .find((s) => s.startsWith('Package: pf\n'));
}

