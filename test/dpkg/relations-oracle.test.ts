import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planRelations } from '../../src/dpkg/relations';
import {
  assertSame,
  cannotRunDpkgOracle,
  DpkgRoot,
  dpkgMessages,
  eventText,
  NATIVE,
  type OraclePackage,
  packageData,
  planEvents,
  runScenario,
} from '../helpers/dpkg-relations';
import { withTempDir } from '../helpers/temp';

/**
 * The relations planner against real dpkg 1.21: each scenario sets up a root with dpkg, gives the planner
 * dpkg's database as it stands, runs the same transaction with dpkg, and compares what dpkg did (its
 * Unpacking/Setting up/Removing/De-configuring/disappearance lines, in order), where it broke dependency
 * cycles, the states it left, and its messages, with what the planner predicted.
 */

const pkg = (name: string, fields: Record<string, string> = {}, more: Partial<OraclePackage> = {}): OraclePackage => ({
  name,
  version: '1',
  fields,
  ...more,
});

describe('relations planner against dpkg', async () => {
  const why = await cannotRunDpkgOracle();
  const opts = why ? { skip: `SKIPPED: ${why}` } : {};

  test('an unmet Depends: dpkg unpacks, leaves it unconfigured, and says why', opts, async () => {
    const o = await runScenario({ action: '--install', archives: [pkg('hello', { Depends: 'libgreet (>= 2)' })] });
    assertSame(o);
    assert.match(o.plan.problems[0].detail, /hello depends on libgreet \(>= 2\); however:\n {2}Package libgreet is not installed\./);
  });

  test('an unmet versioned Depends on an installed package', opts, async () => {
    const o = await runScenario({
      setup: [[pkg('libgreet')]],
      action: '--install',
      archives: [pkg('hello', { Depends: 'libgreet (>= 2) | libhello' })],
    });
    assertSame(o);
    assert.match(o.plan.problems[0].detail, /Version of libgreet on system is 1\.\n {2}Package libhello is not installed\./);
  });

  test('Depends on a package of the same run: configured first, whatever the order', opts, async () => {
    const o = await runScenario({ action: '--install', archives: [pkg('hello', { Depends: 'libgreet' }), pkg('libgreet')] });
    assertSame(o);
    assert.deepEqual(o.log, ['libgreet configure', 'hello configure']);
  });

  test('Pre-Depends inside one dpkg call: dpkg refuses, whatever the order (planner: with a only unpacked)', opts, async () => {
    // dpkg unpacks every archive before configuring any, so b's pre-dependency is never configured in
    // time. The planner agrees when a is only to be unpacked; asked to install a it configures a first.
    const a = pkg('a');
    const b = pkg('b', { 'Pre-Depends': 'a' });
    const o = await runScenario({ action: '--unpack', archives: [a, b] });
    assertSame(o);
    assert.match(o.plan.problems[0].detail, /b pre-depends on a\n {2}a is unpacked, but has never been configured\./);
    const reversed = await runScenario({ action: '--install', archives: [b, a] });
    assert.notEqual(reversed.dpkg.status, 0);
    assert.match(dpkgMessages(reversed.dpkg.stderr), /b pre-depends on a\n {2}a is not installed\./);
  });

  test('Pre-Depends inside one transaction: the planner configures a before unpacking b, as dpkg -i a; dpkg -i b', opts, async () => {
    const a = pkg('a');
    const b = pkg('b', { 'Pre-Depends': 'a' });
    await withTempDir('relations-oracle', async (dir) => {
      const root = await DpkgRoot.create(dir);
      const plan = planRelations({ items: [b, a].map((p) => ({ action: 'install', package: packageData(p) })), installed: [], nativeArch: NATIVE });
      const [debA, debB] = await root.build([a, b]);
      const first = await root.dpkg(['--install', debA]);
      const second = await root.dpkg(['--install', debB]);
      assert.equal(first.status + second.status, 0);
      assert.deepEqual(eventText(planEvents(plan)), eventText([...first.events, ...second.events]));
      assert.deepEqual(plan.problems, []);
      const early = plan.steps.find((s) => s.op === 'configure' && s.pkg.name === 'a');
      assert.equal(early?.op === 'configure' ? early.forPreDependsOf?.name : undefined, 'b');
    });
  });

  test('a dependency cycle where every member has a postinst breaks where the cycle started', opts, async () => {
    const o = await runScenario({ action: '--install', archives: [pkg('a', { Depends: 'b' }), pkg('b', { Depends: 'a' })] });
    assertSame(o);
    assert.deepEqual(o.dpkg.cycleBreaks, ['a -> b']);
  });

  test('a dependency cycle breaks at the member without a postinst', opts, async () => {
    const o = await runScenario({
      action: '--install',
      archives: [pkg('a', { Depends: 'b' }), pkg('b', { Depends: 'a' }, { postinst: false })],
    });
    assertSame(o);
    assert.deepEqual(o.dpkg.cycleBreaks, ['b -> a']);
    assert.deepEqual(o.log, ['a configure']);
  });

  test('a three-package cycle, entered from the middle, the last member without a postinst', opts, async () => {
    const o = await runScenario({
      action: '--install',
      archives: [
        pkg('b', { Depends: 'c' }),
        pkg('a', { Depends: 'b' }),
        pkg('c', { Depends: 'a' }, { postinst: false }),
        pkg('d', { Depends: 'a, c' }),
      ],
    });
    assertSame(o);
  });

  test('two cycles sharing a package, and Pre-Depends in the cycle', opts, async () => {
    const o = await runScenario({
      action: '--install',
      archives: [
        pkg('a', { Depends: 'b, c' }),
        pkg('b', { Depends: 'a' }),
        pkg('c', { 'Pre-Depends': 'd' }, { postinst: false }),
        pkg('d', { Depends: 'a' }),
      ],
      force: [],
    });
    // c pre-depends on d, unpacked in the same call: dpkg refuses c, the planner configures d first — a
    // difference on purpose; compare only what dpkg did after refusing c with a run without c.
    assert.notEqual(o.dpkg.status, 0);
    const without = await runScenario({
      action: '--install',
      archives: [pkg('a', { Depends: 'b' }), pkg('b', { Depends: 'a' }), pkg('d', { Depends: 'a' })],
    });
    assertSame(without);
  });

  test('Breaks without --auto-deconfigure: refused', opts, async () => {
    const o = await runScenario({
      setup: [[pkg('x')]],
      action: '--install',
      archives: [pkg('p', { Breaks: 'x (<< 2)' })],
    });
    assertSame(o);
    assert.match(o.plan.problems[0].error, /installing p would break x, and\n deconfiguration is not permitted/);
  });

  test('Breaks with --auto-deconfigure: x is deconfigured, and cannot be configured again', opts, async () => {
    const o = await runScenario({
      setup: [[pkg('x')]],
      action: '--install',
      archives: [pkg('p', { Breaks: 'x (<< 2)' })],
      autoDeconfigure: true,
    });
    assertSame(o);
  });

  test('Breaks with --auto-deconfigure and x upgraded in the same run', opts, async () => {
    const o = await runScenario({
      setup: [[pkg('x')]],
      action: '--install',
      archives: [pkg('p', { Breaks: 'x (<< 2)' }), pkg('x', {}, { version: '2' })],
      autoDeconfigure: true,
    });
    assertSame(o);
  });

  test('Breaks of an installed package against the new one: checked at configuration', opts, async () => {
    const o = await runScenario({
      setup: [[pkg('x', { Breaks: 'p (<< 2)' })]],
      action: '--install',
      archives: [pkg('p')],
    });
    assertSame(o);
  });

  test('Breaks with --force-breaks: a warning', opts, async () => {
    const o = await runScenario({
      setup: [[pkg('x')]],
      action: '--install',
      archives: [pkg('p', { Breaks: 'x' })],
      force: ['breaks'],
    });
    assertSame(o);
    assert.ok(o.plan.warnings.some((w) => w.includes('ignoring breakage, may proceed anyway!')));
  });

  test('Conflicts: refused', opts, async () => {
    const o = await runScenario({ setup: [[pkg('x')]], action: '--install', archives: [pkg('p', { Conflicts: 'x' })] });
    assertSame(o);
  });

  test('Conflicts declared by the installed package: refused too', opts, async () => {
    const o = await runScenario({ setup: [[pkg('x', { Conflicts: 'p' })]], action: '--install', archives: [pkg('p')] });
    assertSame(o);
  });

  test('Conflicts + Replaces: the conflictor is removed in favour of the new package', opts, async () => {
    const o = await runScenario({
      setup: [[pkg('x', {}, { files: ['usr/share/x/a'] })]],
      action: '--install',
      archives: [pkg('p', { Conflicts: 'x', Replaces: 'x' })],
    });
    assertSame(o);
  });

  test('Conflicts + Replaces, but something depends on the conflictor: refused unless --auto-deconfigure', opts, async () => {
    const setup = [[pkg('x')], [pkg('user', { Depends: 'x' })]];
    const refused = await runScenario({ setup, action: '--install', archives: [pkg('p', { Conflicts: 'x', Replaces: 'x' })] });
    assertSame(refused);
    const deconf = await runScenario({
      setup,
      action: '--install',
      archives: [pkg('p', { Conflicts: 'x', Replaces: 'x', Provides: 'x' })],
      autoDeconfigure: true,
    });
    assertSame(deconf);
  });

  test('Conflicts + Replaces with --auto-deconfigure: the depender is deconfigured, and cannot come back', opts, async () => {
    const o = await runScenario({
      setup: [[pkg('x')], [pkg('user', { Depends: 'x' })]],
      action: '--install',
      archives: [pkg('p', { Conflicts: 'x', Replaces: 'x' })],
      autoDeconfigure: true,
    });
    assertSame(o);
    assert.ok(o.plan.steps.some((s) => s.op === 'deconfigure' && s.reason === 'removal'));
  });

  test('--force-conflicts: installed side by side, with a warning', opts, async () => {
    const o = await runScenario({ setup: [[pkg('x')]], action: '--install', archives: [pkg('p', { Conflicts: 'x' })], force: ['conflicts'] });
    assertSame(o);
  });

  test('Conflicts with a package selected for removal: removed in favour (the planner: removed in the same transaction)', opts, async () => {
    const o = await runScenario({
      setup: [[pkg('x')]],
      selections: { x: 'deinstall' },
      action: '--install',
      archives: [pkg('p', { Conflicts: 'x' })],
      extraItems: [{ action: 'remove', name: 'x' }],
    });
    assertSame(o);
  });

  test('Pre-Depends on a package upgraded in the same call: unpacked over a configured version is enough', opts, async () => {
    const o = await runScenario({
      setup: [[pkg('a')]],
      action: '--install',
      archives: [pkg('a', {}, { version: '2' }), pkg('b', { 'Pre-Depends': 'a (>= 1)' })],
    });
    assertSame(o);
    const tooNew = await runScenario({
      setup: [[pkg('a')]],
      action: '--unpack',
      archives: [pkg('a', {}, { version: '2' }), pkg('b', { 'Pre-Depends': 'a (>= 2)' })],
    });
    assertSame(tooNew);
  });

  test('Pre-Depends with a dependency cycle behind it: the planner as dpkg -i a c; dpkg -i b', opts, async () => {
    const a = pkg('a', { Depends: 'c' });
    const b = pkg('b', { 'Pre-Depends': 'a' });
    const c = pkg('c', { Depends: 'a' });
    await withTempDir('relations-oracle', async (dir) => {
      const root = await DpkgRoot.create(dir);
      const plan = planRelations({ items: [b, a, c].map((p) => ({ action: 'install', package: packageData(p) })), installed: [], nativeArch: NATIVE });
      const [debA, debB, debC] = await root.build([a, b, c]);
      const first = await root.dpkg(['--install', debA, debC]);
      const second = await root.dpkg(['--install', debB]);
      assert.equal(first.status + second.status, 0);
      assert.deepEqual(plan.problems, []);
      assert.deepEqual(eventText(planEvents(plan)), eventText([...first.events, ...second.events]));
      assert.deepEqual(
        plan.cycleBreaks.map((cb) => `${cb.pkg.name} -> ${cb.dependsOn}`),
        [...first.cycleBreaks, ...second.cycleBreaks],
      );
    });
  });

  test('--force-depends: configured after the others, with a warning', opts, async () => {
    const o = await runScenario({
      action: '--install',
      archives: [pkg('hello', { Depends: 'missing' }), pkg('other')],
      force: ['depends'],
    });
    assertSame(o);
  });

  test('Breaks through a virtual package, checked when the provider is configured', opts, async () => {
    const o = await runScenario({ setup: [[pkg('x', { Breaks: 'virt' })]], action: '--install', archives: [pkg('p', { Provides: 'virt' })] });
    assertSame(o);
  });

  test('a virtual package: Provides satisfies an unversioned Depends', opts, async () => {
    const o = await runScenario({ action: '--install', archives: [pkg('p', { Depends: 'virt' }), pkg('q', { Provides: 'virt' })] });
    assertSame(o);
  });

  test('versioned Provides: (= 2) satisfies (>= 2); (= 1) and an unversioned one do not', opts, async () => {
    const ok = await runScenario({
      action: '--install',
      archives: [pkg('p', { Depends: 'virt (>= 2)' }), pkg('q', { Provides: 'virt (= 2)' })],
    });
    assertSame(ok);
    const low = await runScenario({
      setup: [[pkg('q', { Provides: 'virt (= 1)' }), pkg('r', { Provides: 'virt' })]],
      action: '--install',
      archives: [pkg('p', { Depends: 'virt (>= 2)' })],
    });
    assertSame(low);
  });

  test('a package conflicting with a name it provides conflicts with the other providers only', opts, async () => {
    const alone = await runScenario({ action: '--install', archives: [pkg('p', { Provides: 'mta', Conflicts: 'mta' })] });
    assertSame(alone);
    const other = await runScenario({
      setup: [[pkg('q', { Provides: 'mta', Conflicts: 'mta' })]],
      action: '--install',
      archives: [pkg('p', { Provides: 'mta', Conflicts: 'mta' })],
    });
    assertSame(other);
    const replacing = await runScenario({
      setup: [[pkg('q', { Provides: 'mta', Conflicts: 'mta' })]],
      action: '--install',
      archives: [pkg('p', { Provides: 'mta', Conflicts: 'mta', Replaces: 'q' })],
    });
    assertSame(replacing);
  });

  test(':any is satisfied by a foreign Multi-Arch: allowed package, not by a plain one', opts, async () => {
    const allowed = await runScenario({
      foreign: ['i386'],
      setup: [[pkg('tool', { 'Multi-Arch': 'allowed' }, { architecture: 'i386' })]],
      action: '--install',
      archives: [pkg('p', { Depends: 'tool:any' }, { architecture: NATIVE })],
    });
    assertSame(allowed);
    const plain = await runScenario({
      foreign: ['i386'],
      setup: [[pkg('tool', {}, { architecture: 'i386' })]],
      action: '--install',
      archives: [pkg('p', { Depends: 'tool:any, tool' }, { architecture: NATIVE })],
    });
    assertSame(plain);
  });

  test('an unqualified Depends across architectures needs Multi-Arch: foreign', opts, async () => {
    const o = await runScenario({
      foreign: ['i386'],
      setup: [[pkg('tool', { 'Multi-Arch': 'foreign' }, { architecture: 'i386' }), pkg('lib', {}, { architecture: 'i386' })]],
      action: '--install',
      archives: [pkg('p', { Depends: 'tool, lib' }, { architecture: NATIVE })],
    });
    assertSame(o);
  });

  test('a cross-grade: a package replaced by its build for another architecture; an arch-qualified Depends', opts, async () => {
    const o = await runScenario({
      foreign: ['i386'],
      setup: [[pkg('tool', {}, { architecture: NATIVE })]],
      action: '--install',
      archives: [pkg('tool', {}, { architecture: 'i386', version: '2' }), pkg('user', { Depends: 'tool:i386 (>= 2), tool:amd64' }, { architecture: NATIVE })],
    });
    assertSame(o);
    // No instance of tool is of the architecture asked for, so dpkg has no reason to give, only the relation.
    assert.match(o.plan.problems[0]?.detail ?? '', / user depends on tool:amd64\.\n$/);
  });

  test('a Multi-Arch: same pair at one version; at two versions one cannot be configured', opts, async () => {
    const ma = { 'Multi-Arch': 'same' };
    const same = await runScenario({
      foreign: ['i386'],
      action: '--install',
      archives: [pkg('lib', ma, { architecture: NATIVE }), pkg('lib', ma, { architecture: 'i386' })],
    });
    assertSame(same);
    const skew = await runScenario({
      foreign: ['i386'],
      setup: [[pkg('lib', ma, { architecture: NATIVE }), pkg('lib', ma, { architecture: 'i386' })]],
      action: '--install',
      archives: [pkg('lib', ma, { architecture: NATIVE, version: '2' })],
    });
    assertSame(skew);
  });

  test('a plain archive cannot join two installed Multi-Arch: same instances', opts, async () => {
    const ma = { 'Multi-Arch': 'same' };
    const o = await runScenario({
      foreign: ['i386'],
      setup: [[pkg('lib', ma, { architecture: NATIVE }), pkg('lib', ma, { architecture: 'i386' })]],
      action: '--install',
      archives: [pkg('lib', {}, { architecture: NATIVE, version: '2' })],
    });
    assertSame(o);
  });

  test('an archive of an architecture dpkg is not configured for', opts, async () => {
    assertSame(await runScenario({ action: '--install', archives: [pkg('x', {}, { architecture: 'arm64' })] }));
  });

  test('removing a Protected package is refused', opts, async () => {
    assertSame(await runScenario({ setup: [[pkg('guard', { Protected: 'yes' })]], action: '--remove', names: ['guard'] }));
  });

  test('removing an Essential package is refused; forced, it goes with a warning', opts, async () => {
    const refused = await runScenario({ setup: [[pkg('core', { Essential: 'yes' })]], action: '--remove', names: ['core'] });
    assertSame(refused);
    const forced = await runScenario({
      setup: [[pkg('core', { Essential: 'yes' })]],
      action: '--remove',
      names: ['core'],
      force: ['remove-essential'],
    });
    assertSame(forced);
  });

  test('removing a package others depend on: refused, unless they go too (dependers first)', opts, async () => {
    const setup = [[pkg('lib')], [pkg('app', { Depends: 'lib' })]];
    assertSame(await runScenario({ setup, action: '--remove', names: ['lib'] }));
    assertSame(await runScenario({ setup, action: '--remove', names: ['lib', 'app'] }));
  });

  test('removing two packages that depend on each other: the removal queue breaks the cycle', opts, async () => {
    const o = await runScenario({
      setup: [[pkg('a', { Depends: 'b' }), pkg('b', { Depends: 'a' }, { postinst: false })]],
      action: '--remove',
      names: ['a', 'b'],
    });
    assertSame(o);
    assert.ok(o.dpkg.cycleBreaks.length > 0);
  });

  test('a package whose every file another takes over (Replaces) disappears', opts, async () => {
    const o = await runScenario({
      setup: [[pkg('old', {}, { files: ['usr/share/doc/old/a', 'usr/bin/old'] })]],
      action: '--install',
      archives: [pkg('new', { Replaces: 'old' }, { files: ['usr/share/doc/old/a', 'usr/bin/old', 'usr/bin/new'] })],
    });
    assertSame(o);
    assert.ok(o.plan.steps.some((s) => s.op === 'disappear' && s.pkg.name === 'old'));
  });

  test('a package owning nothing but folders the new one ships disappears too, without Replaces', opts, async () => {
    const o = await runScenario({
      setup: [[pkg('folders', {}, { folders: ['usr/share/foo'] })]],
      action: '--install',
      archives: [pkg('new', {}, { files: ['usr/share/foo/file'] })],
    });
    assertSame(o);
    assert.ok(o.plan.steps.some((s) => s.op === 'disappear' && s.pkg.name === 'folders'));
  });

  test('... unless it keeps a file of its own, or something depends on it', opts, async () => {
    const kept = await runScenario({
      setup: [[pkg('old', {}, { files: ['usr/bin/old', 'usr/bin/mine'] })]],
      action: '--install',
      archives: [pkg('new', { Replaces: 'old' }, { files: ['usr/bin/old'] })],
    });
    assertSame(kept);
    const needed = await runScenario({
      setup: [[pkg('old', {}, { files: ['usr/bin/old'] })], [pkg('user', { Depends: 'old' })]],
      action: '--install',
      archives: [pkg('new', { Replaces: 'old' }, { files: ['usr/bin/old'] })],
    });
    assertSame(needed);
  });
});
