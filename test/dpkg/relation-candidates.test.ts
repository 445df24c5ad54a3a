import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRelations } from '../../src/control/relations';
import { checkDependencies } from '../../src/dpkg/triggers/depcheck';
import { findDependencyCycle } from '../../src/dpkg/triggers/dep-cycles';
import type { PackageStatus, TriggerPackage } from '../../src/dpkg/triggers/model';
import { RelationCandidates } from '../../src/dpkg/triggers/relation-candidates';

function pkg(name: string, status: PackageStatus, extra: { depends?: string; provides?: string; hasPostinst?: boolean } = {}): TriggerPackage {
  return {
    name,
    status,
    pending: [],
    awaited: [],
    version: '1',
    architecture: 'amd64',
    hasPostinst: extra.hasPostinst,
    ...(extra.depends ? { depends: parseRelations('Depends', extra.depends) } : {}),
    ...(extra.provides ? { provides: parseRelations('Provides', extra.provides).map((g) => g[0]) } : {}),
  };
}

function record(...ps: TriggerPackage[]): Record<string, TriggerPackage> {
  return Object.fromEntries(ps.map((p) => [p.name, p]));
}

describe('RelationCandidates', () => {
  it('gives the packages of a name and its providers in the record\'s order, each once', () => {
    const packages = record(
      pkg('mawk', 'installed', { provides: 'awk' }),
      pkg('awk', 'unpacked'),
      pkg('gawk', 'installed', { provides: 'awk, awk (= 1)' }),
      pkg('libc6:amd64', 'installed', { provides: 'libc6' }),
    );
    const c = new RelationCandidates(packages);
    assert.deepEqual(c.of('awk').map((p) => p.name), ['mawk', 'awk', 'gawk']);
    assert.deepEqual(c.named('awk').map((p) => p.name), ['awk']);
    assert.deepEqual(c.of('libc6').map((p) => p.name), ['libc6:amd64']);
    assert.deepEqual(c.named('libc6').map((p) => p.name), ['libc6:amd64']);
    assert.deepEqual(c.of('nothing'), []);
  });

  it('answers the dependency checks through names and Provides', () => {
    const packages = record(
      pkg('a', 'unpacked', { depends: 'b | virt' }),
      pkg('b', 'half-configured'),
      pkg('p', 'installed', { provides: 'virt' }),
      pkg('q', 'unpacked', { provides: 'virt' }),
    );
    assert.equal(checkDependencies(packages.a, packages, new Set(['a'])).verdict, 'ok');
    packages.p.status = 'unpacked';
    const index = new RelationCandidates(packages); // statuses are read at each check, not indexed
    assert.equal(checkDependencies(packages.a, packages, new Set(['a']), new Set(), index).verdict, 'halt');
    assert.equal(checkDependencies(packages.a, packages, new Set(['a', 'q']), new Set(), index).verdict, 'defer');
    const missing = checkDependencies(pkg('x', 'unpacked', { depends: 'ghost' }), packages, new Set());
    assert.deepEqual(missing.problems, [' x depends on ghost; however:\n  Package ghost is not installed.\n']);
  });

  it('finds the same dependency cycle through names and Provides', () => {
    const packages = record(
      pkg('libc6', 'unpacked', { depends: 'libgcc-s1' }),
      pkg('libgcc-s1', 'unpacked', { depends: 'libc-any', hasPostinst: false }),
    );
    packages.libc6 = { ...packages.libc6, provides: parseRelations('Provides', 'libc-any').map((g) => g[0]) };
    const found = findDependencyCycle('libc6', packages, new Set(), new Set(['libc6', 'libgcc-s1']));
    assert.equal(found?.package, 'libgcc-s1');
    assert.equal(found?.dependsOn, 'libc-any');
    assert.equal(found?.because, 'no-postinst');
  });
});
