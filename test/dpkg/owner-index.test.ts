import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OwnerIndex } from '../../src/dpkg/relations/indexes';

/**
 * The owner index keeps a path's only owner without a set (memory per member of a huge archive). What it
 * answers must be what the plain definition answers — the owners of each path; the instances that own
 * paths, none of them alone — through any sequence of adds and removes (seeded, so a failure repeats).
 */
test('owners and shadowed instances match their definition through random adds and removes', () => {
  const pkgs = ['a', 'b', 'c', 'd'];
  const paths = ['', 'usr', 'usr/x', 'usr/y', 'etc', 'etc/z'];
  let seed = 14;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const idx = new OwnerIndex<string>();
  const truth = new Map<string, Set<string>>(paths.map((p) => [p, new Set()]));
  for (let step = 0; step < 3000; step++) {
    const pkg = pkgs[rnd(pkgs.length)];
    const files = paths.filter(() => rnd(3) === 0);
    if (rnd(2) === 0) {
      idx.add(pkg, files);
      for (const f of files) truth.get(f)!.add(pkg);
    } else {
      // dpkg's index is only ever told to remove what it added; a path the instance does not own is skipped.
      idx.remove(pkg, files);
      for (const f of files) truth.get(f)!.delete(pkg);
    }
    for (const p of paths) {
      assert.deepEqual([...idx.get(p)].sort(), [...truth.get(p)!].sort(), `step ${step}: owners of '${p}'`);
      for (const k of pkgs) assert.equal(idx.some(p, (o) => o === k), truth.get(p)!.has(k), `step ${step}: some owner of '${p}' is ${k}`);
    }
    const shadowed = pkgs.filter((k) => {
      const own = paths.filter((p) => truth.get(p)!.has(k));
      return own.length > 0 && own.every((p) => truth.get(p)!.size > 1);
    });
    assert.deepEqual([...idx.shadowed()].sort(), shadowed, `step ${step}: shadowed`);
  }
});

/**
 * The files of a package added to an empty index wait unindexed until a question needs them (a lone
 * archive's paths): adds, removes and one random question at a time, so that every kind of question meets
 * that state, each answered as the plain definition answers it.
 */
test('a lone package\'s deferred files answer every question as indexed ones do', () => {
  const pkgs = ['a', 'b', 'c'];
  const paths = ['', 'usr', 'usr/x', 'usr/y', 'etc'];
  let seed = 2026;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const idx = new OwnerIndex<string>();
  const truth = new Map<string, Set<string>>(paths.map((p) => [p, new Set()]));
  // The lists each instance was given, as dpkg's index gets them back (the same array) when it lets go of them.
  const given = new Map<string, string[]>();
  for (let step = 0; step < 5000; step++) {
    const pkg = pkgs[rnd(pkgs.length)];
    const op = rnd(4);
    if (op === 0) {
      const files = paths.filter(() => rnd(2) === 0);
      idx.add(pkg, files);
      given.set(pkg, files);
      for (const f of files) truth.get(f)!.add(pkg);
    } else if (op === 1) {
      const files = given.get(pkg) ?? [];
      idx.remove(pkg, files);
      for (const f of files) truth.get(f)!.delete(pkg);
    } else if (op === 2) {
      const p = paths[rnd(paths.length)];
      const k = pkgs[rnd(pkgs.length)];
      const test = rnd(2) === 0 ? (o: string) => o === k : (o: string) => o !== k;
      assert.equal(idx.some(p, test), [...truth.get(p)!].some(test), `step ${step}: some owner of '${p}'`);
    } else {
      const shadowed = pkgs.filter((k) => {
        const own = paths.filter((p) => truth.get(p)!.has(k));
        return own.length > 0 && own.every((p) => truth.get(p)!.size > 1);
      });
      assert.deepEqual([...idx.shadowed()].sort(), shadowed, `step ${step}: shadowed`);
      const p = paths[rnd(paths.length)];
      assert.deepEqual([...idx.get(p)].sort(), [...truth.get(p)!].sort(), `step ${step}: owners of '${p}'`);
    }
  }
});
