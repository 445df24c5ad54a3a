import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forcesOf, ignoredDepends, relationForces, type ForceArgs } from '../../src/cli/force-options';
import { relationMessageLines } from '../../src/cli/relation-messages';
import { UsageError } from '../../src/cli/usage-error';
import { planRelations, type InstalledPackage, type TransactionItem } from '../../src/dpkg/relations';
import { refusal } from '../../src/engine/relations/check';
import { effectsOf } from '../../src/engine/relations/effects';
import { summarizedArchiveName } from '../../src/engine/relations/input';
import { orderFlows } from '../../src/engine/relations/order';
import { configureOrder, cutAtScripts, unpackStages } from '../../src/engine/relations/stages';
import type { PackageScripts } from '../../src/engine/script-plan';
import { NATIVE, packageData, type OraclePackage } from '../helpers/dpkg-relations';

/**
 * The engine's side of the relations planner, as plain data: how a plan becomes transactions (stages),
 * effects (conflictors, deconfigurations, disappearances), an order of post-commit script flows, one
 * refusal, and how the command line's forces and dpkg's messages are read and printed.
 */

const pkg = (name: string, fields: Record<string, string> = {}, more: Partial<OraclePackage> = {}): OraclePackage => ({ name, version: '1', fields, ...more });
const install = (...ps: OraclePackage[]): TransactionItem[] => ps.map((p) => ({ action: 'install', package: packageData(p) }));
const installed = (p: OraclePackage): InstalledPackage => ({ ...packageData(p), archive: undefined, status: 'installed' });
const names = (stages: OraclePackage[][]): string[][] => stages.map((s) => s.map((p) => p.name));
const ref = (p: OraclePackage) => ({ name: p.name, architecture: p.architecture ?? 'all' });

describe('stages: one transaction, unless a package pre-depends on another of the same call', () => {
  it('no Pre-Depends inside the call: one stage, in the order given', () => {
    const ps = [pkg('a', { Depends: 'b' }), pkg('b')];
    const plan = planRelations({ items: install(...ps), installed: [], nativeArch: NATIVE });
    assert.deepEqual(names(unpackStages(plan, ps, ref)), [['a', 'b']]);
    assert.deepEqual(configureOrder(plan).map((r) => r.name), ['b', 'a'], 'dependencies configured first');
  });

  it('a pre-dependency (and what it depends on) goes first, in a stage of its own', () => {
    const ps = [pkg('c', { Depends: 'b' }), pkg('b', { 'Pre-Depends': 'a' }), pkg('a', { Depends: 'd' }), pkg('d')];
    const plan = planRelations({ items: install(...ps), installed: [], nativeArch: NATIVE });
    assert.deepEqual(plan.problems, []);
    assert.deepEqual(names(unpackStages(plan, ps, ref)), [['a', 'd'], ['c', 'b']]);
  });

  it('a pre-dependency already configured on the system: one stage', () => {
    const ps = [pkg('b', { 'Pre-Depends': 'a' })];
    const plan = planRelations({ items: install(...ps), installed: [installed(pkg('a'))], nativeArch: NATIVE });
    assert.deepEqual(names(unpackStages(plan, ps, ref)), [['b']]);
  });

  it('chained pre-dependencies: one stage each', () => {
    const ps = [pkg('c', { 'Pre-Depends': 'b' }), pkg('b', { 'Pre-Depends': 'a' }), pkg('a')];
    const plan = planRelations({ items: install(...ps), installed: [], nativeArch: NATIVE });
    assert.deepEqual(names(unpackStages(plan, ps, ref)), [['a'], ['b'], ['c']]);
  });

  it('without preDependsFirst: one stage in the planner\'s unpack order, configured in its order', () => {
    const ps = [pkg('c', { 'Pre-Depends': 'b' }), pkg('b', { 'Pre-Depends': 'a' }), pkg('a')];
    const plan = planRelations({ items: install(...ps), installed: [], nativeArch: NATIVE });
    assert.deepEqual(names(unpackStages(plan, ps, ref, false)), [['a', 'b', 'c']]);
    assert.deepEqual(configureOrder(plan).map((r) => r.name), ['a', 'b', 'c']);
  });
});

describe('cutAtScripts: a transaction starts at each archive whose scripts run before its files', () => {
  const scripted = new Set(['b', 'd']);
  const first = (n: string): boolean => scripted.has(n);

  it('a cut before each such archive (but the first)', () => {
    assert.deepEqual(cutAtScripts(['a', 'b', 'c', 'd'], first), [['a'], ['b', 'c'], ['d']]);
    assert.deepEqual(cutAtScripts(['b', 'c'], first), [['b', 'c']]);
  });
});

describe('effects: what a plan asks of the transaction besides the archives', () => {
  it('a conflictor removed in favour, a package deconfigured, a package that disappears', () => {
    const plan = planRelations({
      items: install(pkg('p', { Conflicts: 'x', Replaces: 'x, y', Breaks: 'w' }, { files: ['opt/y/f'] })),
      installed: [installed(pkg('x')), installed(pkg('w')), installed(pkg('y', {}, { files: ['opt/y/f'] }))],
      nativeArch: NATIVE,
      autoDeconfigure: true,
    });
    const e = effectsOf(plan);
    assert.equal(e.archives.length, 1);
    assert.deepEqual(e.archives[0].conflictors.map((r) => r.name), ['x']);
    assert.deepEqual(e.archives[0].deconfigure.map((d) => [d.pkg.name, d.reason]), [['w', 'breaks']]);
    assert.deepEqual(e.archives[0].disappear.map((r) => r.name), ['y']);
    assert.deepEqual(e.removeOrder, [], 'a conflictor is not a requested removal');
  });

  it('removals in the order dpkg removes them: the depender first', () => {
    const plan = planRelations({
      items: [
        { action: 'remove', name: 'lib' },
        { action: 'remove', name: 'app' },
      ],
      installed: [installed(pkg('lib')), installed(pkg('app', { Depends: 'lib' }))],
      nativeArch: NATIVE,
    });
    assert.deepEqual(effectsOf(plan).removeOrder.map((r) => r.name), ['app', 'lib']);
  });
});

describe('the order of the script flows after the commit', () => {
  const flow = (key: string, post: string[] = []): PackageScripts => ({
    key,
    pre: [],
    post: post.map((p) => ({ kind: 'dpkg-change', intent: { op: 'forget', name: p, arch: 'all' } })),
    tail: [],
  });
  it('what happens during the unpacks first, then the configurations in the planner order; posts stay in unpack order', () => {
    const plan = planRelations({
      items: install(pkg('a', { Depends: 'b' }), pkg('b', { Conflicts: 'x', Replaces: 'x' })),
      installed: [installed(pkg('x'))],
      nativeArch: NATIVE,
    });
    const effects = effectsOf(plan);
    const own = new Map([
      ['a:all', flow('a', ['a-post'])],
      ['b:all', flow('b', ['b-post'])],
    ]);
    const conflictor = flow('x');
    const out = orderFlows(effects, own, new Map([['b:all', [conflictor]]]));
    assert.deepEqual(out.map((f) => f.key), ['x', 'b', 'a']);
    assert.deepEqual(out.flatMap((f) => f.post.map((s) => (s.kind === 'dpkg-change' && s.intent.op === 'forget' ? s.intent.name : ''))), ['a-post', 'b-post']);
    assert.deepEqual(out[0].post.length, 2, 'every post rides on the first flow');
  });
});

describe('one refusal for every problem', () => {
  it('a first line that stands alone, dpkg’s words below it, and the forces that would go on', () => {
    const plan = planRelations({
      items: install(pkg('hello', { Depends: 'libgreet (>= 2), other' }), pkg('b', { Breaks: 'w' })),
      installed: [installed(pkg('libgreet')), installed(pkg('w'))],
      nativeArch: NATIVE,
    });
    const err = refusal(plan);
    assert.equal(err.code, 'E_RELATIONS');
    assert.equal(err.message, 'package relations refuse the transaction (2 problems); nothing was changed');
    assert.ok(!err.message.includes('\n'));
    assert.match(err.hint ?? '', /--force-depends/);
    assert.match(err.hint ?? '', /--auto-deconfigure/);
    assert.ok(err.detail?.includes(' hello depends on libgreet (>= 2); however:'), err.detail?.join('\n'));
    assert.ok(err.detail?.includes('  Package other is not installed.'), err.detail?.join('\n'));
  });
});

describe('the command line and dpkg’s messages', () => {
  it('forces by either spelling, checked', () => {
    const f = forcesOf({ force: ['depends,breaks', 'remove-essential'], forceConflicts: true } as ForceArgs);
    assert.deepEqual(relationForces(f), ['depends', 'conflicts', 'breaks', 'remove-essential']);
    assert.ok(forcesOf({ force: 'overwrite' }).has('overwrite'));
    assert.throws(() => forcesOf({ force: 'dependz' }), (e: unknown) => e instanceof UsageError && /unknown force 'dependz'/.test(e.message));
    assert.throws(() => forcesOf({ force: 'confnew,confold' }), UsageError);
    assert.deepEqual(ignoredDepends({ ignoreDepends: ['a,B', 'c'] }), ['a', 'b', 'c']);
    assert.throws(() => ignoredDepends({ ignoreDepends: 'a b' }), /legal package name/);
  });

  it('warnings printed as dpkg prints them', () => {
    assert.deepEqual(relationMessageLines('overriding problem because --force enabled:\nthis is an essential package; it should not be removed'), [
      'overmerge: warning: overriding problem because --force enabled:',
      'overmerge: warning: this is an essential package; it should not be removed',
    ]);
    assert.deepEqual(relationMessageLines('a: dependency problems, but removing anyway as you requested:\n b depends on a.\n'), [
      'overmerge: a: dependency problems, but removing anyway as you requested:',
      ' b depends on a.',
    ]);
  });

  it('archive names in notices shortened as dpkg shortens them', () => {
    assert.equal(summarizedArchiveName('/tmp/overmerge-relations-39eZAb/q_1_q.deb'), '.../q_1_q.deb');
    assert.equal(summarizedArchiveName('hello_1.0_all.deb'), 'hello_1.0_all.deb');
    assert.equal(summarizedArchiveName('/var/cache/apt/archives/libc6_2.36-9+deb12u4_amd64.deb'), '.../libc6_2.36-9+deb12u4_amd64.deb');
  });
});
