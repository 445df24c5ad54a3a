import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configureOrder } from '../../src/bootstrap/order';
import { installGroups, setArchitecture, setIdentity, type SetPackage } from '../../src/bootstrap/package-set';
import { remainingWork } from '../../src/bootstrap/remaining';
import { MERGED_USR_LINKS, POLICY_RC_D, skeleton } from '../../src/bootstrap/skeleton';
import { parseRelations } from '../../src/control/relations';
import { OvermergeError } from '../../src/errors';

/** The bootstrap's pure parts over literal package sets: groups, order, what is left after a crash, the skeleton. */

function pkg(name: string, o: { essential?: boolean; depends?: string; preDepends?: string; arch?: string; version?: string } = {}): SetPackage {
  return {
    archive: `${name}.deb`,
    name,
    version: o.version ?? '1',
    architecture: o.arch ?? 'amd64',
    essential: o.essential ?? false,
    preDepends: parseRelations('Pre-Depends', o.preDepends ?? ''),
    depends: parseRelations('Depends', o.depends ?? ''),
    provides: [],
    fields: { depends: o.depends, preDepends: o.preDepends, order: ['Package', 'Version', 'Architecture'] },
    hasPostinst: true,
  };
}

const SET = [
  pkg('apt', { depends: 'libapt' }),
  pkg('libapt', { depends: 'libc6' }),
  pkg('base-files', { essential: true, preDepends: 'awk' }),
  pkg('mawk', { preDepends: 'libc6', arch: 'amd64' }),
  pkg('base-passwd', { essential: true, depends: 'libc6' }),
  pkg('dash', { essential: true, preDepends: 'libc6' }),
  pkg('libc6', { depends: 'libgcc-s1' }),
  pkg('libgcc-s1', { depends: 'libc6' }),
  pkg('tzdata', { arch: 'all' }),
];

describe('bootstrap planning', () => {
  it('the Essential set is the Essential packages and what they need; base-passwd, then base-files, lead', () => {
    const g = installGroups(SET, 'amd64');
    assert.deepEqual(g.essential.map((p) => p.name), ['base-files', 'base-passwd', 'dash', 'libc6', 'libgcc-s1']);
    assert.deepEqual(g.core.map((p) => p.name), ['base-passwd', 'base-files']);
    assert.deepEqual(g.essentialRest.map((p) => p.name), ['dash', 'libc6', 'libgcc-s1']);
    assert.deepEqual(g.rest.map((p) => p.name), ['apt', 'libapt', 'mawk', 'tzdata']);
  });

  it('an awk provided by a package of the set pulls that package into the Essential set', () => {
    const mawk = { ...pkg('mawk', { preDepends: 'libc6' }), provides: parseRelations('Provides', 'awk').map((g) => g[0]) };
    const g = installGroups([...SET.filter((p) => p.name !== 'mawk'), mawk], 'amd64');
    assert.ok(g.essential.some((p) => p.name === 'mawk'));
  });

  it('a set without an Essential package, of no or of two architectures, or naming a package twice is refused', () => {
    assert.throws(() => installGroups([pkg('apt')], 'amd64'), (e: unknown) => e instanceof OvermergeError && e.code === 'E_BAD_CONTROL');
    assert.throws(() => setArchitecture([pkg('tzdata', { arch: 'all' })]), /no architecture/);
    assert.throws(() => setArchitecture([pkg('a'), pkg('b', { arch: 'arm64' })]), /several architectures/);
    assert.throws(() => installGroups([...SET, pkg('dash', { essential: true, version: '2' })], 'amd64'), /given twice/);
    assert.equal(setArchitecture(SET), 'amd64');
  });

  it('the identity of a set does not depend on the order of the archives', () => {
    assert.deepEqual(setIdentity([...SET].reverse()), setIdentity(SET));
  });

  it('a group goes to the engine in dependency order, a cycle broken as dpkg breaks it and said', () => {
    const g = installGroups(SET, 'amd64');
    const order = configureOrder(g.essentialRest, g.core, 'amd64');
    const names = order.packages.map((p) => p.name);
    assert.equal(names.length, 3);
    assert.ok(names.indexOf('libc6') < names.indexOf('dash'), names.join(' '));
    assert.equal(order.cycleBreaks.length, 1);
    assert.match(order.cycleBreaks[0], /libc6|libgcc-s1/);
  });

  it('after a crash: what dpkg does not show installed is installed again, what it shows unpacked is configured', () => {
    const states: Record<string, { state: string; version?: string; reinstreq: boolean } | undefined> = {
      apt: { state: 'unpacked', version: '1', reinstreq: false },
      libapt: { state: 'installed', version: '1', reinstreq: false },
      mawk: { state: 'half-installed', version: '1', reinstreq: true },
      tzdata: undefined,
      dash: { state: 'half-configured', version: '1', reinstreq: false },
      libc6: { state: 'installed', version: '0.9', reinstreq: false },
      'libgcc-s1': { state: 'triggers-pending', version: '1', reinstreq: false },
    };
    const w = remainingWork(SET.filter((p) => p.name in states), (p) => states[p.name]);
    // mawk half-installed (only a reinstall mends it), libc6 at another version, tzdata unknown to dpkg.
    assert.deepEqual(w.install.map((p) => p.name), ['mawk', 'libc6', 'tzdata']);
    assert.deepEqual(w.configure.map((p) => p.name).sort(), ['apt', 'dash', 'libgcc-s1']);
  });

  it('the skeleton: merged /usr links, dpkg\'s empty database and arch, devices only as root; policy-rc.d says 101', () => {
    const asRoot = skeleton({ arch: 'amd64', devices: true });
    const paths = new Map(asRoot.map((e) => [String(e.path), e]));
    for (const l of MERGED_USR_LINKS) assert.deepEqual(paths.get(l), { kind: 'symlink', path: l, target: `usr/${l}` });
    assert.equal((paths.get('var/lib/dpkg/status') as { content: string }).content, '');
    assert.equal((paths.get('var/lib/dpkg/arch') as { content: string }).content, 'amd64\n');
    assert.equal(paths.get('dev/null')?.kind, 'char');
    assert.equal(skeleton({ arch: 'amd64', devices: false }).some((e) => String(e.path).startsWith('dev/')), false);
    assert.equal(POLICY_RC_D.content, '#!/bin/sh\nexit 101\n');
  });
});
