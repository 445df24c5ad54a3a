import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertRelations, planRelations, relationsError } from '../../src/dpkg/relations';
import type {
  InstalledPackage,
  PackageData,
  RelationsInput,
  RelationsPlan,
  TransactionItem,
} from '../../src/dpkg/relations';
import { Arches, archSatisfied } from '../../src/dpkg/relations/arch';
import { OvermergeError } from '../../src/errors';

/** Pure tests of the relations planner, one rule at a time, on plain data. */

const NATIVE = 'amd64';

const pkg = (name: string, extra: Partial<PackageData> = {}): PackageData => ({
  name,
  version: '1',
  architecture: 'all',
  hasPostinst: true,
  ...extra,
});
const inst = (name: string, extra: Partial<InstalledPackage> = {}): InstalledPackage => ({
  ...pkg(name),
  status: 'installed',
  ...extra,
});
const install = (p: PackageData): TransactionItem => ({ action: 'install', package: p });
const unpack = (p: PackageData): TransactionItem => ({ action: 'unpack', package: p });

function plan(items: TransactionItem[], installed: InstalledPackage[] = [], more: Partial<RelationsInput> = {}): RelationsPlan {
  return planRelations({ items, installed, nativeArch: NATIVE, ...more });
}

/** The steps as "op label" strings. */
function steps(p: RelationsPlan): string[] {
  return p.steps.map((s) => `${s.op} ${s.pkg.label}`);
}

function problems(p: RelationsPlan): string[] {
  return p.problems.map((x) => `${x.kind} ${x.pkg}: ${x.detail}${x.error}`);
}

function state(p: RelationsPlan, label: string): string | undefined {
  return p.states.find((s) => s.pkg.label === label)?.status;
}

describe('architectures (dpkg deparchsatisfied)', () => {
  const arches = new Arches('amd64', ['i386']);
  const dep = (arch: string, implicit = false, negative = false) => ({ arch, implicit, negative });
  test('an unqualified relation crosses architectures only to Multi-Arch: foreign', () => {
    assert.equal(archSatisfied(arches, { arch: 'i386', multiArch: 'foreign' }, dep('amd64', true)), true);
    assert.equal(archSatisfied(arches, { arch: 'i386', multiArch: 'allowed' }, dep('amd64', true)), false);
    assert.equal(archSatisfied(arches, { arch: 'i386', multiArch: 'no' }, dep('amd64', true)), false);
    assert.equal(archSatisfied(arches, { arch: 'amd64', multiArch: 'no' }, dep('amd64', true)), true);
  });
  test('all counts as native, on either side', () => {
    assert.equal(archSatisfied(arches, { arch: 'all', multiArch: 'no' }, dep('amd64', true)), true);
    assert.equal(archSatisfied(arches, { arch: 'amd64', multiArch: 'no' }, dep('all', true)), true);
    assert.equal(archSatisfied(arches, { arch: 'i386', multiArch: 'no' }, dep('all', true)), false);
  });
  test(':any needs Multi-Arch: allowed, except in Conflicts/Breaks/Replaces', () => {
    assert.equal(archSatisfied(arches, { arch: 'i386', multiArch: 'allowed' }, dep('any')), true);
    assert.equal(archSatisfied(arches, { arch: 'i386', multiArch: 'no' }, dep('any')), false);
    assert.equal(archSatisfied(arches, { arch: 'amd64', multiArch: 'no' }, dep('any')), false);
    assert.equal(archSatisfied(arches, { arch: 'i386', multiArch: 'no' }, dep('any', true, true)), true);
  });
  test('an explicit architecture is compared literally (dpkg knows no :native in binary relations)', () => {
    assert.equal(archSatisfied(arches, { arch: 'i386', multiArch: 'no' }, dep('i386')), true);
    assert.equal(archSatisfied(arches, { arch: 'amd64', multiArch: 'no' }, dep('native')), false);
  });
});

describe('Depends at configuration', () => {
  test('dependencies are configured first, whatever the order of the archives', () => {
    const p = plan([install(pkg('app', { depends: 'lib2' })), install(pkg('lib2', { depends: 'lib1' })), install(pkg('lib1'))]);
    assert.deepEqual(steps(p), ['unpack app', 'unpack lib2', 'unpack lib1', 'configure lib1', 'configure lib2', 'configure app']);
    assert.deepEqual(p.problems, []);
  });

  test('a missing dependency: dpkg wording, the package left unpacked', () => {
    const p = plan([install(pkg('hello', { depends: 'libgreet (>= 2)' }))]);
    assert.deepEqual(problems(p), [
      'depends hello: dependency problems prevent configuration of hello:\n' +
        ' hello depends on libgreet (>= 2); however:\n' +
        '  Package libgreet is not installed.\n' +
        'dependency problems - leaving unconfigured',
    ]);
    assert.equal(state(p, 'hello'), 'unpacked');
  });

  test('every alternative is explained: wrong version, not configured, provided at the wrong version', () => {
    const p = plan(
      [install(pkg('hello', { depends: 'libgreet (>= 2) | greeter | virt (>= 3)' }))],
      [inst('libgreet'), inst('greeter', { status: 'unpacked', configVersion: '' }), inst('other', { provides: 'virt (= 2)' })],
    );
    assert.match(
      p.problems[0].detail,
      / hello depends on libgreet \(>= 2\) \| greeter \| virt \(>= 3\); however:\n {2}Version of libgreet on system is 1\.\n {2}Package greeter is not configured yet\.\n {2}Package virt is not installed\.\n {2}Version of virt on system, provided by other:all, is 2\.\n/,
    );
  });

  test('Pre-Depends are checked again at configuration, worded "depends on" as dpkg does', () => {
    const p = plan([unpack(pkg('lib', { version: '1' }))], [inst('lib', { version: '0', status: 'installed' })]);
    assert.deepEqual(p.problems, []);
    const q = plan([{ action: 'configure', name: 'tool' }], [inst('tool', { status: 'unpacked', preDepends: 'lib (>= 2)' }), inst('lib')]);
    assert.match(q.problems[0].detail, / tool depends on lib \(>= 2\); however:\n {2}Version of lib on system is 1\./);
  });

  test('a Provides satisfies an unversioned dependency; a versioned one only through (= v)', () => {
    assert.deepEqual(plan([install(pkg('app', { depends: 'virt' })), install(pkg('impl', { provides: 'virt' }))]).problems, []);
    assert.deepEqual(plan([install(pkg('app', { depends: 'virt (>= 2)' })), install(pkg('impl', { provides: 'virt (= 2)' }))]).problems, []);
    assert.equal(plan([install(pkg('app', { depends: 'virt (>= 2)' })), install(pkg('impl', { provides: 'virt' }))]).problems.length, 1);
    assert.equal(plan([install(pkg('app', { depends: 'virt (>= 2)' })), install(pkg('impl', { provides: 'virt (= 1)' }))]).problems.length, 1);
  });

  test('a package satisfying its own dependency through its Provides', () => {
    assert.deepEqual(plan([install(pkg('selfish', { depends: 'virt', provides: 'virt' }))]).problems, []);
  });

  test('--force-depends: configured last, with dpkg\'s warning', () => {
    const p = plan([install(pkg('hello', { depends: 'missing' })), install(pkg('other'))], [], { force: ['depends'] });
    assert.deepEqual(p.problems, []);
    assert.deepEqual(steps(p), ['unpack hello', 'unpack other', 'configure other', 'configure hello']);
    assert.match(p.warnings[0], /^hello: dependency problems, but configuring anyway as you requested:\n hello depends on missing; however:/);
  });

  test('--force-depends-version forgives a version only', () => {
    const items = [install(pkg('hello', { depends: 'lib (>= 2), gone' }))];
    const p = plan(items, [inst('lib')], { force: ['depends-version'] });
    assert.equal(p.problems.length, 1);
    assert.doesNotMatch(p.problems[0].detail, /Version of lib/);
    assert.deepEqual(plan([install(pkg('hello', { depends: 'lib (>= 2)' }))], [inst('lib')], { force: ['depends-version'] }).problems, []);
  });

  test('--ignore-depends names the package depended on (naming the depending one does not help, in dpkg either)', () => {
    assert.deepEqual(plan([install(pkg('hello', { depends: 'missing' }))], [], { ignoreDepends: ['missing'] }).problems, []);
    assert.equal(plan([install(pkg('hello', { depends: 'missing' }))], [], { ignoreDepends: ['hello'] }).problems.length, 1);
  });

  test('a dependee awaiting triggers is not taken as configured (trigger processing is planned elsewhere)', () => {
    const p = plan([install(pkg('app', { depends: 'lib' }))], [inst('lib', { status: 'triggers-awaited' })]);
    assert.match(p.problems[0].detail, /Package lib awaits trigger processing\./);
  });

  test('the same archive twice: unpacked twice, configured once, as dpkg says', () => {
    const p = plan([install(pkg('x')), install(pkg('x'))]);
    assert.deepEqual(steps(p), ['unpack x', 'unpack x', 'configure x']);
    assert.deepEqual(p.warnings, ['More than one copy of package x has been unpacked\n in this run !  Only configuring it once.']);
  });

  test('an archive unpacked, then configured in the same transaction', () => {
    const p = plan([unpack(pkg('x')), { action: 'configure', name: 'x' }]);
    assert.deepEqual(steps(p), ['unpack x', 'configure x']);
    assert.deepEqual(p.problems, []);
  });

  test('configure items: one not ready, one already configured', () => {
    const p = plan(
      [
        { action: 'configure', name: 'half' },
        { action: 'configure', name: 'done' },
      ],
      [inst('half', { status: 'half-installed' }), inst('done')],
    );
    assert.deepEqual(
      p.problems.map((x) => x.error),
      ["package half is not ready for configuration\n cannot configure (current status 'half-installed')", 'package done is already installed and configured'],
    );
  });
});

describe('dependency cycles (dpkg findbreakcycle)', () => {
  test('all with a postinst: broken where the cycle started, with a message saying so', () => {
    const p = plan([install(pkg('a', { depends: 'b' })), install(pkg('b', { depends: 'a' }))]);
    assert.deepEqual(steps(p), ['unpack a', 'unpack b', 'configure a', 'configure b']);
    assert.equal(p.cycleBreaks.length, 1);
    const cb = p.cycleBreaks[0];
    assert.deepEqual([cb.pkg.name, cb.dependsOn, cb.because, cb.cycle], ['a', 'b', 'cycle-start', ['a', 'b']]);
    assert.equal(cb.message, 'dependency cycle a -> b -> a broken at a -> b (a is where the cycle started and every other package on it has a postinst)');
    const configureA = p.steps.find((s) => s.op === 'configure' && s.pkg.name === 'a');
    assert.equal(configureA?.op === 'configure' ? configureA.cycleBreak : undefined, cb);
  });

  test('the first package without a postinst going back along the cycle', () => {
    const p = plan([
      install(pkg('a', { depends: 'b' })),
      install(pkg('b', { depends: 'c', hasPostinst: false })),
      install(pkg('c', { depends: 'a' })),
    ]);
    assert.deepEqual(
      p.cycleBreaks.map((c) => [c.pkg.name, c.dependsOn, c.because]),
      [['b', 'c', 'no-postinst']],
    );
    // b's dependency on c is ignored: b first, then a would wait for ... c, which waits for a: one more break.
    assert.deepEqual(p.problems, []);
    assert.deepEqual(steps(p).filter((s) => s.startsWith('configure')), ['configure b', 'configure a', 'configure c']);
  });

  test('the nearest such package to the one closing the cycle wins', () => {
    const p = plan([
      install(pkg('a', { depends: 'b' })),
      install(pkg('b', { depends: 'c', hasPostinst: false })),
      install(pkg('c', { depends: 'a', hasPostinst: false })),
    ]);
    assert.deepEqual(p.cycleBreaks.map((c) => `${c.pkg.name} -> ${c.dependsOn}`), ['c -> a']);
  });

  test('only the starting package lacks a postinst: it is chosen as the start, not for its postinst', () => {
    const p = plan([install(pkg('a', { depends: 'b', hasPostinst: false })), install(pkg('b', { depends: 'a' }))]);
    assert.deepEqual(p.cycleBreaks.map((c) => [c.pkg.name, c.because]), [['a', 'cycle-start']]);
  });

  test('a cycle through a virtual package (Provides)', () => {
    const p = plan([install(pkg('a', { depends: 'virt' })), install(pkg('b', { provides: 'virt', depends: 'a' }))]);
    assert.deepEqual(p.problems, []);
    assert.deepEqual(p.cycleBreaks.map((c) => `${c.pkg.name} -> ${c.dependsOn}`), ['a -> virt']);
  });

  test('a self-dependency is a cycle of one', () => {
    const p = plan([install(pkg('narcissus', { depends: 'narcissus (>= 2)' }))]);
    assert.equal(p.problems.length, 1);
    assert.match(p.problems[0].detail, /Version of narcissus on system is 1\./);
  });
});

describe('Pre-Depends and the unpack order', () => {
  test('a pre-dependency later in the transaction is unpacked and configured first', () => {
    const p = plan([install(pkg('b', { preDepends: 'a' })), install(pkg('a'))]);
    assert.deepEqual(steps(p), ['unpack a', 'configure a', 'unpack b', 'configure b']);
    const early = p.steps[1];
    assert.equal(early.op === 'configure' ? early.forPreDependsOf?.label : undefined, 'b');
  });

  test('with what it depends on in the transaction, a cycle among them broken as dpkg would', () => {
    const p = plan([
      install(pkg('b', { preDepends: 'a' })),
      install(pkg('c', { depends: 'a' })),
      install(pkg('a', { depends: 'c' })),
      install(pkg('d')),
    ]);
    assert.deepEqual(p.problems, []);
    assert.deepEqual(steps(p), [
      'unpack c',
      'unpack a',
      'configure c',
      'configure a',
      'unpack b',
      'unpack d',
      'configure b',
      'configure d',
    ]);
    assert.deepEqual(p.cycleBreaks.map((c) => `${c.pkg.name} -> ${c.dependsOn}`), ['c -> a']);
  });

  test('a chain of pre-dependencies', () => {
    const p = plan([install(pkg('c', { preDepends: 'b' })), install(pkg('b', { preDepends: 'a' })), install(pkg('a'))]);
    assert.deepEqual(steps(p), ['unpack a', 'configure a', 'unpack b', 'configure b', 'unpack c', 'configure c']);
  });

  test('a pre-dependency only to be unpacked cannot be configured first: dpkg\'s refusal', () => {
    const p = plan([unpack(pkg('a')), install(pkg('b', { preDepends: 'a' }))]);
    assert.deepEqual(problems(p), [
      'pre-depends b: regarding b_1_all.deb containing b, pre-dependency problem:\n' +
        ' b pre-depends on a\n' +
        '  a is unpacked, but has never been configured.\n' +
        'pre-dependency problem - not installing b',
    ]);
  });

  test('unpacked over a configured version that satisfies it too: no need to configure it first', () => {
    const p = plan([install(pkg('a', { version: '2' })), install(pkg('b', { preDepends: 'a (>= 1)' }))], [inst('a')]);
    assert.deepEqual(p.problems, []);
    assert.deepEqual(steps(p), ['unpack a', 'unpack b', 'configure a', 'configure b']);
    const q = plan([unpack(pkg('a', { version: '2' })), install(pkg('b', { preDepends: 'a (>= 2)' }))], [inst('a')]);
    assert.match(q.problems[0].detail, / {2}a latest configured version is 1\./);
  });

  test('pre-dependencies in a cycle cannot be met', () => {
    const p = plan([install(pkg('a', { preDepends: 'b' })), install(pkg('b', { preDepends: 'a' }))]);
    assert.ok(p.problems.some((x) => x.kind === 'pre-depends'));
  });
});

describe('Breaks', () => {
  const x = inst('x');
  test('refused without --auto-deconfigure', () => {
    const p = plan([install(pkg('p', { breaks: 'x (<< 2)' }))], [x]);
    assert.deepEqual(problems(p), [
      'breaks p: regarding p_1_all.deb containing p:\n p breaks x (<< 2)\n  x (version 1) is present and installed.\n' +
        'installing p would break x, and\n deconfiguration is not permitted (--auto-deconfigure might help)',
    ]);
  });

  test('with --auto-deconfigure and x upgraded too: deconfigure, unpack, configure both', () => {
    const p = plan([install(pkg('p', { breaks: 'x (<< 2)' })), install(pkg('x', { version: '2' }))], [x], { autoDeconfigure: true });
    assert.deepEqual(p.problems, []);
    assert.deepEqual(steps(p), ['deconfigure x', 'unpack p', 'unpack x', 'configure p', 'configure x']);
    const d = p.steps[0];
    assert.equal(d.op === 'deconfigure' ? `${d.reason} ${d.inFavourOf.label}` : '', 'breaks p');
    assert.deepEqual(p.warnings, []);
  });

  test('with --auto-deconfigure alone x cannot be configured again', () => {
    const p = plan([install(pkg('p', { breaks: 'x (<< 2)' }))], [x], { autoDeconfigure: true });
    assert.match(p.problems[0].detail, / p \(1\) breaks x \(<< 2\) and is installed\.\n {2}Version of x to be configured is 1\./);
    assert.equal(state(p, 'x'), 'half-configured');
  });

  test('an installed package breaking the new one (also through what it provides): at configuration', () => {
    const p = plan([install(pkg('p', { provides: 'virt' }))], [inst('x', { breaks: 'virt' })]);
    assert.match(p.problems[0].detail, / x \(1\) breaks virt and is installed\.\n {2}p \(1\) provides virt\./);
    assert.equal(p.problems[0].kind, 'breaks');
  });

  test('--force-breaks: unpacked and configured, with warnings', () => {
    const p = plan([install(pkg('p', { breaks: 'x' }))], [x], { force: ['breaks'] });
    assert.deepEqual(p.problems, []);
    assert.ok(p.warnings.some((w) => w.endsWith('ignoring breakage, may proceed anyway!')));
  });
});

describe('Conflicts', () => {
  test('refused, with dpkg\'s wording', () => {
    const p = plan([install(pkg('p', { conflicts: 'x' }))], [inst('x')]);
    assert.deepEqual(problems(p), [
      'conflicts p: regarding p_1_all.deb containing p:\n p conflicts with x\n  x (version 1) is present and installed.\n' +
        'conflicting packages - not installing p',
    ]);
  });

  test('with Replaces: the conflictor is removed in favour (prerm before the unpack, removal after)', () => {
    const p = plan([install(pkg('p', { conflicts: 'x', replaces: 'x' }))], [inst('x')]);
    assert.deepEqual(steps(p), ['unpack p', 'remove x', 'configure p']);
    const u = p.steps[0];
    assert.deepEqual(u.op === 'unpack' ? u.conflictors.map((c) => c.label) : [], ['x']);
  });

  test('a package removed in the same transaction is removed in favour, once', () => {
    const p = plan([{ action: 'remove', name: 'x' }, install(pkg('p', { conflicts: 'x' }))], [inst('x')]);
    assert.deepEqual(p.problems, []);
    assert.deepEqual(steps(p), ['unpack p', 'remove x', 'configure p']);
  });

  test('whatever depends on the conflictor blocks it, unless deconfigured (--auto-deconfigure)', () => {
    const installed = [inst('x'), inst('user', { depends: 'x' })];
    const items = [install(pkg('p', { conflicts: 'x', replaces: 'x' }))];
    const refused = plan(items, installed);
    assert.match(refused.problems[0].detail, /no, cannot proceed with removal of x \(--auto-deconfigure will help\):\n user depends on x\n {2}x is to be removed\./);
    // Deconfigured, `user` cannot be configured again without x: that is dpkg's outcome too.
    const p = plan(items, installed, { autoDeconfigure: true });
    assert.deepEqual(steps(p), ['deconfigure user', 'unpack p', 'remove x', 'configure p']);
    const d = p.steps[0];
    assert.equal(d.op === 'deconfigure' ? `${d.reason} ${d.removing?.label}` : '', 'removal x');
    assert.match(p.problems[0].detail, /prevent configuration of user:\n user depends on x; however:\n {2}Package x is not installed\./);
    // If p provides x, user needs no deconfiguration at all.
    const provided = plan([install(pkg('p', { conflicts: 'x', replaces: 'x', provides: 'x' }))], installed);
    assert.deepEqual(provided.problems, []);
    assert.deepEqual(steps(provided), ['unpack p', 'remove x', 'configure p']);
  });

  test('an installed package conflicting with the new one, or with a name it provides', () => {
    assert.equal(plan([install(pkg('p'))], [inst('x', { conflicts: 'p' })]).problems[0].kind, 'conflicts');
    assert.equal(plan([install(pkg('p', { provides: 'mta' }))], [inst('x', { conflicts: 'mta' })]).problems[0].kind, 'conflicts');
  });

  test('conflicting with a name one provides: only other providers conflict', () => {
    assert.deepEqual(plan([install(pkg('p', { provides: 'mta', conflicts: 'mta' }))]).problems, []);
    assert.equal(plan([install(pkg('p', { provides: 'mta', conflicts: 'mta' }))], [inst('q', { provides: 'mta' })]).problems.length, 1);
  });

  test('a conflict with a package that is only unpacked counts; with config-files it does not', () => {
    assert.equal(plan([install(pkg('p', { conflicts: 'x' }))], [inst('x', { status: 'unpacked' })]).problems.length, 1);
    assert.deepEqual(plan([install(pkg('p', { conflicts: 'x' }))], [inst('x', { status: 'config-files' })]).problems, []);
  });

  test('--force-conflicts: a warning', () => {
    const p = plan([install(pkg('p', { conflicts: 'x' }))], [inst('x')], { force: ['conflicts'] });
    assert.deepEqual(p.problems, []);
    assert.ok(p.warnings[0].endsWith('ignoring conflict, may proceed anyway!'));
  });

  test('an Essential conflictor is replaced only by an Essential package (or with the force option)', () => {
    const both = plan([install(pkg('p', { conflicts: 'x', replaces: 'x', essential: true }))], [inst('x', { essential: true, protected: true })]);
    assert.deepEqual(both.problems, []);
    const not = plan([install(pkg('p', { conflicts: 'x', replaces: 'x' }))], [inst('x', { essential: true, protected: true })]);
    assert.equal(not.problems.length, 1);
  });
});

describe('removal', () => {
  test('refused while something depends on it; both removed: the depender first', () => {
    const installed = [inst('lib'), inst('app', { depends: 'lib' })];
    const one = plan([{ action: 'remove', name: 'lib' }], installed);
    assert.deepEqual(problems(one), [
      'depends lib: dependency problems prevent removal of lib:\n app depends on lib.\ndependency problems - not removing',
    ]);
    const both = plan([{ action: 'remove', name: 'lib' }, { action: 'purge', name: 'app' }], installed);
    assert.deepEqual(both.problems, []);
    assert.deepEqual(steps(both), ['remove app', 'remove lib']);
  });

  test('Essential and Protected packages are refused, unless forced', () => {
    for (const flag of ['essential', 'protected'] as const) {
      const p = plan([{ action: 'remove', name: 'core' }], [inst('core', { [flag]: true })]);
      assert.deepEqual(p.problems.map((x) => `${x.kind}: ${x.error}`), [`${flag}: this is ${flag === 'essential' ? 'an' : 'a'} ${flag} package; it should not be removed`]);
      const forced = plan([{ action: 'remove', name: 'core' }], [inst('core', { [flag]: true })], { force: [`remove-${flag}`] });
      assert.deepEqual(forced.problems, []);
      assert.deepEqual(steps(forced), ['remove core']);
    }
  });

  test('an upgrade that drops the dependency lets the old dependee go (removals run after the unpacks)', () => {
    const p = plan([{ action: 'remove', name: 'lib' }, install(pkg('app', { version: '2' }))], [inst('lib'), inst('app', { depends: 'lib' })]);
    assert.deepEqual(p.problems, []);
    assert.deepEqual(steps(p), ['unpack app', 'remove lib', 'configure app']);
  });

  test('removing what a new package needs is refused', () => {
    const p = plan([{ action: 'remove', name: 'lib' }, install(pkg('app', { depends: 'lib' }))], [inst('lib')]);
    // dpkg leaves out the "is to be removed" line when it would be the only one.
    assert.deepEqual(problems(p), ['depends lib: dependency problems prevent removal of lib:\n app depends on lib.\ndependency problems - not removing']);
  });

  test('requests dpkg ignores: not installed, only config files left (unless purging)', () => {
    const p = plan([{ action: 'remove', name: 'ghost' }, { action: 'remove', name: 'conf' }], [inst('conf', { status: 'config-files' })]);
    assert.deepEqual(p.problems, []);
    assert.equal(p.warnings.length, 2);
    const purge = plan([{ action: 'purge', name: 'conf' }], [inst('conf', { status: 'config-files' })]);
    assert.deepEqual(steps(purge), ['remove conf']);
    assert.deepEqual(purge.states, []);
  });

  test('a removed package with conffiles stays as config-files', () => {
    const p = plan([{ action: 'remove', name: 'cfg' }], [inst('cfg', { hasConffiles: true })]);
    assert.equal(state(p, 'cfg'), 'config-files');
  });
});

describe('disappearing packages', () => {
  const old = inst('old', { files: ['/.', '/usr', '/usr/bin', '/usr/bin/old', '/usr/share', '/usr/share/doc', '/usr/share/doc/old'] });
  const base = inst('base', { files: ['/.', '/usr', '/usr/bin', '/usr/bin/base', '/usr/share', '/usr/share/doc'] });
  test('every file taken over, folders shared with others: it disappears after the unpack', () => {
    const p = plan([install(pkg('new', { replaces: 'old', files: ['/.', '/usr', '/usr/bin', '/usr/bin/old', '/usr/share', '/usr/share/doc', '/usr/share/doc/old'] }))], [old, base]);
    assert.deepEqual(steps(p), ['unpack new', 'disappear old', 'configure new']);
    assert.equal(state(p, 'old'), undefined);
  });

  test('a file of its own keeps it', () => {
    const p = plan([install(pkg('new', { replaces: 'old', files: ['/.', '/usr', '/usr/bin', '/usr/bin/old'] }))], [old, base]);
    assert.deepEqual(steps(p), ['unpack new', 'configure new']);
  });

  test('a package depending (or Recommending) on it keeps it', () => {
    for (const rel of ['depends', 'recommends'] as const) {
      const files = ['/.', '/usr', '/usr/bin', '/usr/bin/old', '/usr/share', '/usr/share/doc', '/usr/share/doc/old'];
      const p = plan([install(pkg('new', { replaces: 'old', files }))], [old, base, inst('user', { [rel]: 'old' })]);
      assert.deepEqual(steps(p), ['unpack new', 'configure new'], rel);
    }
  });

  test('a package owning nothing but folders the new one ships disappears, Replaces or not (as in dpkg)', () => {
    const p = plan([install(pkg('new', { files: ['/.', '/usr', '/usr/share', '/usr/share/foo', '/usr/share/foo/file'] }))], [
      inst('folders', { files: ['/.', '/usr', '/usr/share', '/usr/share/foo'] }),
    ]);
    assert.deepEqual(steps(p), ['unpack new', 'disappear folders', 'configure new']);
  });

  test('a package that owns only /. never disappears', () => {
    const p = plan([install(pkg('new', { files: ['/.'] }))], [inst('meta', { files: ['/.'] })]);
    assert.deepEqual(steps(p), ['unpack new', 'configure new']);
  });
});

describe('Multi-Arch', () => {
  const foreignArchs = ['i386'];
  test(':any: satisfied by a foreign package only if Multi-Arch: allowed', () => {
    const tool = (ma: 'allowed' | 'no') => inst('tool', { architecture: 'i386', multiArch: ma });
    const app = install(pkg('app', { architecture: 'amd64', depends: 'tool:any' }));
    assert.deepEqual(plan([app], [tool('allowed')], { foreignArchs }).problems, []);
    assert.equal(plan([app], [tool('no')], { foreignArchs }).problems.length, 1);
  });

  test('an unqualified dependency: same architecture, or Multi-Arch: foreign', () => {
    const app = install(pkg('app', { architecture: 'amd64', depends: 'tool' }));
    assert.equal(plan([app], [inst('tool', { architecture: 'i386' })], { foreignArchs }).problems.length, 1);
    assert.deepEqual(plan([app], [inst('tool', { architecture: 'i386', multiArch: 'foreign' })], { foreignArchs }).problems, []);
    assert.deepEqual(plan([app], [inst('tool', { architecture: 'all' })], { foreignArchs }).problems, []);
  });

  test('a Multi-Arch: same pair; upgrading one deconfigures the other, which then cannot be configured', () => {
    const ma = { multiArch: 'same' as const };
    const pair = plan([install(pkg('lib', { ...ma, architecture: 'amd64' })), install(pkg('lib', { ...ma, architecture: 'i386' }))], [], { foreignArchs });
    assert.deepEqual(pair.problems, []);
    assert.deepEqual(steps(pair), ['unpack lib:amd64', 'unpack lib:i386', 'configure lib:amd64', 'configure lib:i386']);
    const installed = [inst('lib', { ...ma, architecture: 'amd64' }), inst('lib', { ...ma, architecture: 'i386' })];
    const skew = plan([install(pkg('lib', { ...ma, architecture: 'amd64', version: '2' }))], installed, { foreignArchs });
    assert.equal(steps(skew)[0], 'deconfigure lib:i386');
    assert.deepEqual(skew.problems.map((x) => x.error), [
      'package lib:amd64 2 cannot be configured because lib:i386 is at a different version (1)',
      'package lib:i386 1 cannot be configured because lib:amd64 is at a different version (2)',
    ]);
  });

  test('an archive not Multi-Arch: same cannot join several installed instances', () => {
    const installed = [inst('lib', { multiArch: 'same', architecture: 'amd64' }), inst('lib', { multiArch: 'same', architecture: 'i386' })];
    const p = plan([install(pkg('lib', { architecture: 'amd64', version: '2' }))], installed, { foreignArchs });
    assert.equal(p.problems[0].kind, 'multi-arch');
  });

  test('an architecture dpkg is not configured for is refused, unless forced', () => {
    const p = plan([install(pkg('x', { architecture: 'arm64' }))]);
    assert.deepEqual(p.problems.map((x) => x.error), ['package architecture (arm64) does not match system (amd64)']);
    assert.deepEqual(plan([install(pkg('x', { architecture: 'arm64' }))], [], { force: ['architecture'] }).problems, []);
  });

  test('an explicit architecture qualifier', () => {
    const app = install(pkg('app', { architecture: 'amd64', depends: 'lib:i386' }));
    assert.deepEqual(plan([app], [inst('lib', { architecture: 'i386' })], { foreignArchs }).problems, []);
    assert.equal(plan([app], [inst('lib', { architecture: 'amd64' })], { foreignArchs }).problems.length, 1);
  });

  test('a cross-grade: the archive takes the place of the installed instance of another architecture', () => {
    const p = plan([install(pkg('tool', { architecture: 'i386', version: '2' }))], [inst('tool', { architecture: 'amd64' })], { foreignArchs });
    assert.deepEqual(steps(p), ['unpack tool:i386', 'configure tool:i386']);
    const u = p.steps[0];
    assert.equal(u.op === 'unpack' ? u.over : undefined, '1');
    assert.deepEqual(p.states.map((s) => `${s.pkg.label} ${s.status}`), ['tool:i386 installed']);
  });

  test('a foreign package is named name:arch in steps and messages', () => {
    const p = plan([install(pkg('tool', { architecture: 'i386', depends: 'missing' }))], [], { foreignArchs });
    assert.equal(p.steps[0].pkg.label, 'tool:i386');
    assert.match(p.problems[0].detail, /prevent configuration of tool:i386/);
  });
});

describe('the verdict', () => {
  test('every problem in one E_RELATIONS error; none: no error', () => {
    const p = plan([install(pkg('a', { depends: 'x' })), install(pkg('b', { conflicts: 'c' }))], [inst('c')]);
    const err = relationsError(p);
    assert.ok(err instanceof OvermergeError);
    assert.equal(err.code, 'E_RELATIONS');
    assert.match(err.message, /^package relations refuse the transaction \(2 problems\); nothing was changed:\n/);
    assert.match(err.message, /b: regarding b_1_all\.deb containing b:\n b conflicts with c\n {2}c \(version 1\) is present and installed\.\n conflicting packages - not installing b\n/);
    assert.match(err.message, /a: dependency problems prevent configuration of a:\n a depends on x; however:\n {2}Package x is not installed\.\n dependency problems - leaving unconfigured$/);
    assert.match(err.hint ?? '', /--force-conflicts/);
    assert.throws(() => assertRelations(p), (e: unknown) => e instanceof OvermergeError && e.code === 'E_RELATIONS');
    const fine = plan([install(pkg('a'))]);
    assert.equal(relationsError(fine), undefined);
    assert.equal(assertRelations(fine), fine);
  });

  test('the states dpkg would leave', () => {
    const p = plan([install(pkg('a')), unpack(pkg('b'))], [inst('c', { status: 'config-files' })]);
    assert.deepEqual(
      p.states.map((s) => `${s.pkg.label} ${s.status}`),
      ['a installed', 'b unpacked', 'c config-files'],
    );
  });
});
