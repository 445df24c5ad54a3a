import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OVERMERGE_DPKG } from '../helpers/apt-chroot';
import { buildDeb, cannotRunDpkg, FOREIGN, makeDpkgRoot, NATIVE, quietPackage, type DpkgRoot } from '../dpkg/dpkg-root';

/**
 * `name:arch` given to -r, -P and --configure acts on that architecture's instance only, as dpkg's package
 * specifiers do: the same sequence on two instances of a Multi-Arch: same package, run by real dpkg and by
 * overmerge-dpkg on roots of their own, leaves the same states after each step.
 */
const why = cannotRunDpkg();

describe('overmerge-dpkg name:arch specifiers', { skip: why }, () => {
  let work: string;
  let debs: { native: string; foreign: string };
  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-archspec-'));
    // Each instance's files its own: the test is about which instance is acted on.
    const same = (arch: string) => ({
      ...quietPackage('masame', '1.0', arch, { fields: { Architecture: arch, 'Multi-Arch': 'same' } }),
      entries: [{ path: `usr/lib/masame-${arch}/data`, type: 'file' as const, content: `masame ${arch}\n` }],
      conffiles: [],
    });
    debs = { native: await buildDeb(work, same(NATIVE)), foreign: await buildDeb(work, same(FOREIGN)) };
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** Runs `program` on the root; the states of every instance after it (`name:arch state`, sorted). */
  function step(program: string, r: DpkgRoot, args: string[]): string[] {
    run(program, r, args);
    // dpkg-query exits 1 with nothing to list (after the last purge).
    const q = spawnSync('dpkg-query', [`--admindir=${r.admin}`, '-W', '-f', '${Package}:${Architecture} ${Status}\n'], { encoding: 'utf8' });
    return q.stdout.split('\n').filter((l) => l !== '').sort();
  }

  function run(program: string, r: DpkgRoot, args: string[]): void {
    const res = spawnSync(program, [`--root=${r.root}`, '--force-script-chrootless', '--log=/dev/null', ...args], {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C' },
    });
    assert.equal(res.status, 0, `${program} ${args.join(' ')}: ${res.stdout}${res.stderr}`);
  }

  /**
   * Both instances unpacked by real dpkg (overmerge does not yet unpack a second architecture of a name
   * beside the first: it takes it as an upgrade), then `program` configures, removes and purges them one
   * architecture at a time.
   */
  function sequence(program: string, name: string): string[][] {
    const r = makeDpkgRoot(path.join(work, name));
    run('dpkg', r, ['--add-architecture', FOREIGN]);
    run('dpkg', r, ['--unpack', debs.native, debs.foreign]);
    return [
      step(program, r, ['--configure', `masame:${FOREIGN}`]),
      step(program, r, ['--configure', `masame:${NATIVE}`]),
      step(program, r, ['-r', `masame:${FOREIGN}`]),
      step(program, r, ['-P', `masame:${FOREIGN}`]),
      step(program, r, ['-r', `masame:${NATIVE}`]),
      step(program, r, ['-P', `masame:${NATIVE}`]),
    ];
  }

  it('acts on the named architecture only, as real dpkg does', () => {
    const theirs = sequence('dpkg', 'dpkg');
    const ours = sequence(OVERMERGE_DPKG, 'ours');
    // The sequence means what it says: after the first -r, the native instance is still installed.
    assert.deepEqual(theirs[2], [`masame:${FOREIGN} deinstall ok config-files`, `masame:${NATIVE} install ok installed`].sort());
    assert.deepEqual(ours, theirs);
  });
});
