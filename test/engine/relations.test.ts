import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { gate } from '../helpers/gate';
import { assertSameTree, dbState, rootState } from '../helpers/root-state';
import { REPO_ROOT } from '../helpers/run-cli';
import {
  BASE_ENV,
  buildLoggingDeb,
  callLines,
  cannotRunScriptOracle,
  hostConfigForces,
  prepareScriptRoot,
  readLog,
  runDpkg,
  type LoggingPackage,
} from '../helpers/script-oracle';
import { makeTempDir, withTempDir } from '../helpers/temp';

/**
 * Package relations enforced by overmerge's transactions, against real dpkg: each scenario runs through
 * `overmerge` on one root and `dpkg --root` on its twin, with packages whose every maintainer script logs
 * its call and environment. What the two did must agree: the exit status (failed or not), the script calls
 * in order with their environment (DPKG_FORCE included), and every package's Status as dpkg-query shows it.
 *
 * Where overmerge deliberately differs — it refuses up front what dpkg would unpack and leave unconfigured —
 * the test checks that overmerge changed nothing (root tree and both databases) and that it listed every
 * problem in the words dpkg uses for it.
 */

const execFileP = promisify(execFile);

let workDir = '';
let hostForces: string[] = [];
const debs: Record<string, string> = {};

const PACKAGES: Record<string, LoggingPackage> = {
  a: { name: 'a', version: '1' },
  b: { name: 'b', version: '1', fields: { 'Pre-Depends': 'a' } },
  c: { name: 'c', version: '1', fields: { Depends: 'b' } },
  ca: { name: 'ca', version: '1', fields: { Depends: 'cb' } },
  cb: { name: 'cb', version: '1', fields: { Depends: 'ca' } },
  x1: { name: 'x', version: '1' },
  x2: { name: 'x', version: '2' },
  q: { name: 'q', version: '1', fields: { Breaks: 'x (<< 2)' } },
  p: { name: 'p', version: '1', fields: { Conflicts: 'x', Replaces: 'x' } },
  y: { name: 'y', version: '1', files: { 'opt/shared/f': 'y\n' } },
  z: { name: 'z', version: '1', fields: { Replaces: 'y' }, files: { 'opt/shared/f': 'z\n', 'opt/z/g': 'z\n' } },
  prov: { name: 'prov', version: '1', fields: { Provides: 'mta (= 2)' } },
  user: { name: 'user', version: '1', fields: { Depends: 'mta (>= 2)' } },
  picky: { name: 'picky', version: '1', fields: { Depends: 'mta (>= 3)' } },
  libgreet: { name: 'libgreet', version: '1' },
  hello: { name: 'hello', version: '1', fields: { Depends: 'libgreet (>= 2), libother' } },
  greeter: { name: 'greeter', version: '1', fields: { Depends: 'libgreet' } },
  e: { name: 'e', version: '1', fields: { Essential: 'yes' } },
  pr: { name: 'pr', version: '1', fields: { Protected: 'yes' } },
};

before(async () => {
  workDir = await makeTempDir('relations');
  for (const [key, p] of Object.entries(PACKAGES)) debs[key] = await buildLoggingDeb(workDir, { ...p, tag: key });
  hostForces = await hostConfigForces();
});

after(async () => {
  if (workDir) await fsp.rm(workDir, { recursive: true, force: true });
});

interface Run {
  status: number;
  output: string;
  /** overmerge's stderr alone (its messages; stdout has the changes made). */
  stderr?: string;
}

/** `KEY.deb` stands for the archive of PACKAGES[KEY]; anything else is passed as it is. */
const args = (list: readonly string[]): string[] => list.map((a) => (a.endsWith('.deb') ? (debs[a.slice(0, -4)] ?? a) : a));

function overmerge(root: string, argv: readonly string[], scripts = '--scripts=chrootless'): Run {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'overmerge'), '--root', root, scripts, ...args(argv)], {
    env: BASE_ENV,
    encoding: 'utf8',
  });
  return { status: r.status ?? 1, output: `${r.stdout}${r.stderr}`, stderr: r.stderr };
}

function dpkg(root: string, argv: readonly string[]): Promise<Run> {
  return runDpkg(root, 'chrootless', args(argv));
}

/** Every package dpkg's database lists, with its whole Status (want, flag, state). */
async function statuses(root: string): Promise<string[]> {
  const { stdout } = await execFileP('dpkg-query', [`--root=${root}`, '-W', '-f', '${Package} ${Version} ${Status}\n'], { env: BASE_ENV });
  return stdout.split('\n').filter((l) => l !== '').sort();
}

/**
 * The log with the host's dpkg configuration taken out of real dpkg's DPKG_FORCE (overmerge does not read
 * it), and dpkg's folder for the new scripts named as dpkg names it: overmerge runs every preinst of a
 * transaction before any file is placed, so each archive has a folder of its own (tmp.ci.N).
 */
function normalised(log: string[]): string[] {
  return log.map((l) => {
    l = l.replace(/\/tmp\.ci\.\d+\//g, '/tmp.ci/');
    const m = /^(\s+export DPKG_FORCE=')([^']*)'$/.exec(l);
    return m ? `${m[1]}${m[2].split(',').filter((f) => !hostForces.includes(f)).join(',')}'` : l;
  });
}

/** Twin roots (overmerge's, dpkg's) with dpkg's database, in a temporary folder. */
async function twins(t: TestContext, fn: (om: string, dp: string) => Promise<void>): Promise<void> {
  const why = await cannotRunScriptOracle('chrootless');
  if (why !== undefined && gate(t, { skip: why })) return;
  await withTempDir('relations', async (dir) => {
    const [om, dp] = [path.join(dir, 'om'), path.join(dir, 'dpkg')];
    await prepareScriptRoot(om, 'chrootless');
    await prepareScriptRoot(dp, 'chrootless');
    await fn(om, dp);
  });
}

/** The same set-up on both roots (each must succeed), then the logs emptied. */
async function setUp(om: string, dp: string, steps: ReadonlyArray<[dpkgArgs: string[], overmergeArgs: string[]]>): Promise<void> {
  for (const [d, o] of steps) {
    const theirs = await dpkg(dp, d);
    assert.equal(theirs.status, 0, `set-up dpkg ${d.join(' ')}:\n${theirs.output}`);
    const ours = overmerge(om, o);
    assert.equal(ours.status, 0, `set-up overmerge ${o.join(' ')}:\n${ours.output}`);
  }
  for (const r of [om, dp]) await fsp.rm(path.join(r, 'scripts.log'), { force: true });
}

/**
 * Both roots agree: failed or not, the same script calls with the same environment, the same states.
 * `refusedRemoval`: dpkg records the selection (deinstall) of a package it then refuses to remove;
 * overmerge refuses before it changes anything, the selection included (the caller checks that nothing
 * changed) — so after such a refusal the states are compared without the selection.
 */
async function assertAgree(om: string, dp: string, ours: Run, theirs: Run, what: string, refusedRemoval = false): Promise<void> {
  assert.equal(ours.status !== 0, theirs.status !== 0, `${what}: dpkg exit ${theirs.status}, overmerge exit ${ours.status}\n--- overmerge:\n${ours.output}\n--- dpkg:\n${theirs.output}`);
  assert.deepEqual(callLines(normalised(await readLog(om))), callLines(normalised(await readLog(dp))), `${what}: the script calls`);
  assert.deepEqual(normalised(await readLog(om)), normalised(await readLog(dp)), `${what}: the script calls with their environment`);
  const strip = (l: string) => (refusedRemoval ? l.replace(/ (install|deinstall) ok /, ' _ ok ') : l);
  assert.deepEqual((await statuses(om)).map(strip), (await statuses(dp)).map(strip), `${what}: package states`);
}

/**
 * overmerge's explanation of a refusal, line by line, is in what dpkg printed: indented lines verbatim,
 * and each problem's first line (`PKG: text`) as dpkg's `dpkg: text` or as its indented error line.
 */
function assertDpkgWords(ours: Run, theirs: Run, what: string): void {
  const said = new Set(theirs.output.split('\n'));
  const lines = (ours.stderr ?? ours.output).split('\n').filter((l) => l !== '' && !l.startsWith('overmerge: '));
  assert.ok(lines.length > 0, `${what}: overmerge explained nothing:\n${ours.output}`);
  for (const l of lines) {
    const rest = l.replace(/^\S+: /, '');
    const found = /^ /.test(l) ? said.has(l) : said.has(`dpkg: ${rest}`) || said.has(` ${rest}`);
    assert.ok(found, `${what}: dpkg did not say ${JSON.stringify(l)}; dpkg said:\n${theirs.output}`);
  }
}

/** The whole state of a root: its tree (dpkg's database included) and overmerge's database. */
async function snapshot(root: string): Promise<{ tree: Awaited<ReturnType<typeof rootState>>; db: unknown }> {
  return { tree: await rootState(root), db: await dbState(root) };
}

async function assertUnchanged(root: string, before: Awaited<ReturnType<typeof snapshot>>, what: string): Promise<void> {
  const now = await snapshot(root);
  assertSameTree(now.tree, before.tree, `${what}: the root (dpkg's database included)`);
  assert.deepEqual(now.db, before.db, `${what}: overmerge's database`);
}

describe('package relations, enforced as dpkg enforces them', () => {
  it('Pre-Depends: the pre-dependency is installed and configured first, by a transaction of its own', (t) =>
    twins(t, async (om, dp) => {
      // dpkg unpacks every archive of one call before it configures any, so the twin is what apt runs.
      const first = await dpkg(dp, ['-i', 'a.deb']);
      const second = await dpkg(dp, ['-i', 'c.deb', 'b.deb']);
      const ours = overmerge(om, ['install', 'c.deb', 'b.deb', 'a.deb']);
      await assertAgree(om, dp, ours, { status: first.status + second.status, output: first.output + second.output }, 'install c b a');
      // a first (its postinst must run before c's preinst), then c and b: b has a preinst, so it starts a
      // transaction of its own after c's, as dpkg unpacks it after c.
      assert.match(ours.output, /installed as 3 transactions/);
      const calls = callLines(await readLog(om)).map((l) => `${l.split(' ')[0]} ${/\] (<[^>]*>)/.exec(l)?.[1]}`);
      assert.deepEqual(calls, ['a_1 <install>', 'a_1 <configure>', 'c_1 <install>', 'b_1 <install>', 'b_1 <configure>', 'c_1 <configure>']);
    }));

  it('a dependency cycle is broken where dpkg breaks it, and overmerge says where', (t) =>
    twins(t, async (om, dp) => {
      const theirs = await dpkg(dp, ['-i', 'ca.deb', 'cb.deb']);
      const ours = overmerge(om, ['install', 'ca.deb', 'cb.deb']);
      await assertAgree(om, dp, ours, theirs, 'install ca cb');
      assert.match(ours.output, /dependency cycle ca -> cb -> ca broken at ca/);
    }));

  it('Breaks without --auto-deconfigure: refused, as dpkg refuses the archive', (t) =>
    twins(t, async (om, dp) => {
      await setUp(om, dp, [[['-i', 'x1.deb'], ['install', 'x1.deb']]]);
      const was = await snapshot(om);
      const theirs = await dpkg(dp, ['-i', 'q.deb']);
      const ours = overmerge(om, ['install', 'q.deb']);
      await assertAgree(om, dp, ours, theirs, 'install q');
      assertDpkgWords(ours, theirs, 'install q');
      assert.match(ours.output, /--auto-deconfigure/);
      await assertUnchanged(om, was, 'refused Breaks');
    }));

  it('Breaks with --auto-deconfigure: the broken package deconfigured, upgraded and configured again', (t) =>
    twins(t, async (om, dp) => {
      await setUp(om, dp, [[['-i', 'x1.deb'], ['install', 'x1.deb']]]);
      const theirs = await dpkg(dp, ['--auto-deconfigure', '-i', 'q.deb', 'x2.deb']);
      const ours = overmerge(om, ['install', '--auto-deconfigure', 'q.deb', 'x2.deb']);
      await assertAgree(om, dp, ours, theirs, 'install -B q x2');
      assert.match(callLines(await readLog(om))[0], /^x_1 \S+ \[4\] <deconfigure> <in-favour> <q> <1> /);
    }));

  it('Breaks with -B on a package that stays broken: dpkg leaves it half-configured, overmerge refuses up front', (t) =>
    twins(t, async (om, dp) => {
      await setUp(om, dp, [[['-i', 'x1.deb'], ['install', 'x1.deb']]]);
      const was = await snapshot(om);
      const theirs = await dpkg(dp, ['-B', '-i', 'q.deb']);
      const ours = overmerge(om, ['install', '-B', 'q.deb']);
      assert.notEqual(theirs.status, 0);
      assert.equal(ours.status, 1, ours.output);
      assert.ok((await statuses(dp)).includes('x 1 install ok half-configured'), 'dpkg deconfigured x and could not configure it again');
      assertDpkgWords(ours, theirs, 'install -B q');
      await assertUnchanged(om, was, 'refused -B');
    }));

  it('Conflicts + Replaces: the conflictor is removed in favour of the new package', (t) =>
    twins(t, async (om, dp) => {
      await setUp(om, dp, [[['-i', 'x1.deb'], ['install', 'x1.deb']]]);
      const theirs = await dpkg(dp, ['-i', 'p.deb']);
      const ours = overmerge(om, ['install', 'p.deb']);
      await assertAgree(om, dp, ours, theirs, 'install p');
      assert.deepEqual(callLines(await readLog(om)).map((l) => l.replace(/ cwd=.*$/, '').replace(/ \S+ \[/, ' [')), [
        'x_1 [4] <remove> <in-favour> <p> <1>',
        'p_1 [1] <install>',
        'x_1 [1] <remove>',
        'p_1 [2] <configure> <>',
      ]);
      await fsp.access(path.join(om, 'opt/x/file')).then(
        () => assert.fail('the conflictor left its files'),
        () => undefined,
      );
    }));

  it('virtual packages: a versioned Provides satisfies a versioned Depends, configured first', (t) =>
    twins(t, async (om, dp) => {
      const theirs = await dpkg(dp, ['-i', 'user.deb', 'prov.deb']);
      const ours = overmerge(om, ['install', 'user.deb', 'prov.deb']);
      await assertAgree(om, dp, ours, theirs, 'install user prov');
    }));

  it('an unmet Depends refuses the transaction: every problem listed, nothing changed', (t) =>
    twins(t, async (om, dp) => {
      await setUp(om, dp, [[['-i', 'libgreet.deb'], ['install', 'libgreet.deb']]]);
      const was = await snapshot(om);
      const theirs = await dpkg(dp, ['-i', 'hello.deb', 'picky.deb', 'prov.deb']);
      const ours = overmerge(om, ['install', 'hello.deb', 'picky.deb', 'prov.deb']);
      assert.equal(ours.status, 1, ours.output);
      assert.match(ours.output, /^overmerge: package relations refuse the transaction \(2 problems\); nothing was changed \(.*--force-depends/);
      for (const line of [
        ' hello depends on libgreet (>= 2); however:',
        '  Version of libgreet on system is 1.',
        ' hello depends on libother; however:',
        '  Package libother is not installed.',
        ' picky depends on mta (>= 3); however:',
        ' dependency problems - leaving unconfigured',
      ]) {
        assert.ok(ours.output.split('\n').includes(line), `overmerge did not list ${JSON.stringify(line)}:\n${ours.output}`);
      }
      assertDpkgWords(ours, theirs, 'install hello picky prov');
      await assertUnchanged(om, was, 'refused install');
      assert.deepEqual(await readLog(om), [], 'no script ran');
      // The deliberate difference: dpkg unpacked them and left them unconfigured.
      assert.notEqual(theirs.status, 0);
      assert.ok((await statuses(dp)).includes('hello 1 install ok unpacked'), (await statuses(dp)).join('\n'));
    }));

  it('the same forced with --force-depends: a warning, and installed as dpkg installs it', (t) =>
    twins(t, async (om, dp) => {
      await setUp(om, dp, [[['-i', 'libgreet.deb'], ['install', 'libgreet.deb']]]);
      const theirs = await dpkg(dp, ['--force-depends', '-i', 'hello.deb']);
      const ours = overmerge(om, ['install', '--force-depends', 'hello.deb']);
      await assertAgree(om, dp, ours, theirs, 'install --force-depends hello');
      assert.match(ours.output, /^overmerge: hello: dependency problems, but configuring anyway as you requested:$/m);
      assert.match(theirs.output, /^dpkg: hello: dependency problems, but configuring anyway as you requested:$/m);
      assertDpkgWords(ours, theirs, 'install --force-depends hello');
    }));

  it('removing what something depends on is refused, as dpkg refuses it', (t) =>
    twins(t, async (om, dp) => {
      await setUp(om, dp, [[['-i', 'libgreet.deb', 'greeter.deb'], ['install', 'libgreet.deb', 'greeter.deb']]]);
      const was = await snapshot(om);
      const theirs = await dpkg(dp, ['-r', 'libgreet']);
      const ours = overmerge(om, ['remove', 'libgreet']);
      await assertAgree(om, dp, ours, theirs, 'remove libgreet', true);
      assertDpkgWords(ours, theirs, 'remove libgreet');
      await assertUnchanged(om, was, 'refused removal');
      // Removing both: the depender goes first. dpkg runs each package's prerm and postrm in turn; overmerge
      // runs every prerm before the files go and every postrm after its commit, each in dpkg's order.
      const both = await dpkg(dp, ['-r', 'libgreet', 'greeter']);
      const ours2 = overmerge(om, ['remove', 'libgreet', 'greeter']);
      assert.equal(ours2.status, 0, ours2.output);
      assert.equal(both.status, 0, both.output);
      const scripts = async (r: string, s: string) => callLines(await readLog(r)).filter((l) => l.includes(`.${s} `));
      for (const s of ['prerm', 'postrm']) assert.deepEqual(await scripts(om, s), await scripts(dp, s), `${s} calls of remove libgreet greeter`);
      assert.deepEqual((await scripts(om, 'prerm')).map((l) => l.split(' ')[0]), ['greeter_1', 'libgreet_1']);
      assert.deepEqual(await statuses(om), await statuses(dp), 'states after remove libgreet greeter');
    }));

  it('Essential and Protected packages: removal refused, and done when forced', (t) =>
    twins(t, async (om, dp) => {
      await setUp(om, dp, [[['-i', 'e.deb', 'pr.deb'], ['install', 'e.deb', 'pr.deb']]]);
      const was = await snapshot(om);
      const theirs = await dpkg(dp, ['-r', 'e', 'pr']);
      const ours = overmerge(om, ['remove', 'e', 'pr']);
      await assertAgree(om, dp, ours, theirs, 'remove e pr', true);
      assertDpkgWords(ours, theirs, 'remove e pr');
      await assertUnchanged(om, was, 'refused removal of e and pr');
      for (const [force, name] of [
        ['--force-remove-essential', 'e'],
        ['--force-remove-protected', 'pr'],
      ]) {
        const d = await dpkg(dp, [force, '-r', name]);
        const o = overmerge(om, ['remove', force, name]);
        await assertAgree(om, dp, o, d, `remove ${force} ${name}`, true);
        assert.match(o.output, /^overmerge: warning: overriding problem because --force enabled:\novermerge: warning: this is an? \w+ package; it should not be removed$/m);
      }
    }));

  it('a package whose files were all taken over disappears, with postrm disappear', (t) =>
    twins(t, async (om, dp) => {
      await setUp(om, dp, [[['-i', 'y.deb'], ['install', 'y.deb']]]);
      const theirs = await dpkg(dp, ['-i', 'z.deb']);
      const ours = overmerge(om, ['install', 'z.deb']);
      await assertAgree(om, dp, ours, theirs, 'install z');
      assert.match(ours.output, /Noting disappearance of y, which has been completely replaced/);
      const info = async (r: string) => (await fsp.readdir(path.join(r, 'var/lib/dpkg/info'))).filter((f) => f.startsWith('y.')).sort();
      assert.deepEqual(await info(om), await info(dp));
      assert.doesNotMatch(overmerge(om, ['list']).output, /^y[ :]/m, "y is gone from overmerge's database too");
    }));
});

describe('package relations on a root without dpkg’s database (overmerge’s own is judged)', () => {
  it('an unmet Depends is refused, a conflictor removed, a package that disappears forgotten', async (t) => {
    if (gate(t, { root: 'files owned by root' })) return;
    await withTempDir('relations-plain', async (dir) => {
      const root = path.join(dir, 'root');
      await fsp.mkdir(root, { mode: 0o755 });
      const run = (...argv: string[]): Run => overmerge(root, ['--quiet', ...argv], '--no-scripts');
      const ok = (...argv: string[]): Run => {
        const r = run(...argv);
        assert.equal(r.status, 0, `${argv.join(' ')}: ${r.output}`);
        return r;
      };
      ok('install', 'libgreet.deb', 'x1.deb', 'y.deb');
      const refused = run('install', 'hello.deb');
      assert.equal(refused.status, 1);
      assert.match(refused.output, /package relations refuse the transaction \(1 problem\)/);
      assert.match(refused.output, /^ {2}Version of libgreet on system is 1\.$/m);
      ok('install', 'p.deb', 'z.deb');
      const listed = ok('--json', 'list').output;
      const names = (JSON.parse(listed) as Array<{ name: string }>).map((p) => p.name).sort();
      assert.deepEqual(names, ['libgreet', 'p', 'z']);
    });
  });
});
