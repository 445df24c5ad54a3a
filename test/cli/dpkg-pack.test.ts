import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DIST_SRC, DPKG_PACK_ENTRY, writeDpkgPack } from '../../src/build/write-dpkg-pack';
import { makeDpkgRoot } from '../dpkg/dpkg-root';
import { testEnv } from './dpkg-cli';

/**
 * overmerge-dpkg's start-up pack (src/build/module-pack.ts) answers exactly as the modules themselves:
 * the same stdout, stderr and exit status for the actions it holds and for those it hands to the files
 * (whose modules then share the pack's instances: dpkg's errors are recognised across the two), with
 * --root, --admindir, DPKG_ROOT and DPKG_ADMINDIR; a pack older than the files is not used.
 */
describe('overmerge-dpkg start-up pack', () => {
  let work: string;
  let pack: string;
  let stale: string;
  let root: string;
  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-pack-'));
    pack = path.join(work, 'main.pack.js');
    assert.ok(writeDpkgPack(DIST_SRC, pack) > 10);
    // The same pack, its first module's recorded size wrong: as if that file had been rebuilt since.
    stale = path.join(work, 'stale.pack.js');
    fs.writeFileSync(stale, fs.readFileSync(pack, 'utf8').replace(/^(  \["[^"]+", )(\d+)/m, (_m, head: string, n: string) => `${head}${Number(n) + 1}`));
    root = makeDpkgRoot(path.join(work, 'root')).root;
    fs.writeFileSync(path.join(root, 'var/lib/dpkg/arch'), 'amd64\ni386\n');
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** overmerge-dpkg's main loaded from `entry`, run on `argv`; with whether the pack itself was used. */
  function run(entry: string, argv: string[], env: Record<string, string | undefined> = {}) {
    const script = `
      const entry = ${JSON.stringify(entry)};
      const cli = require(entry);
      cli.main(${JSON.stringify(argv)}, cli.processIo()).then((code) => {
        process.exitCode = code;
        require('node:fs').writeSync(3, String(require.cache[entry].packed));
      });`;
    const r = spawnSync(process.execPath, ['-e', script], { env: testEnv(env), stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    return { status: r.status, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('latin1'), packed: r.output[3]?.toString() };
  }

  const admin = () => path.join(root, 'var/lib/dpkg');
  const cases: Array<[string, () => [string[], Record<string, string>?]]> = [
    ['--print-architecture', () => [['--print-architecture']]],
    ['--print-foreign-architectures --admindir', () => [['--admindir', admin(), '--print-foreign-architectures']]],
    ['--print-foreign-architectures --root', () => [[`--root=${root}`, '--print-foreign-architectures']]],
    ['--print-foreign-architectures with DPKG_ROOT', () => [['--print-foreign-architectures'], { DPKG_ROOT: root }]],
    ['--print-foreign-architectures with DPKG_ADMINDIR', () => [['--print-foreign-architectures'], { DPKG_ADMINDIR: admin() }]],
    ['--compare-versions true', () => [['--compare-versions', '1.0~rc1', 'lt', '1.0']]],
    ['--compare-versions false', () => [['--compare-versions', '2.0', 'lt', '1.0']]],
    ['--compare-versions, a bad version', () => [['--compare-versions', '1.0', 'lt', 'a b']]],
    ['--assert-multi-arch', () => [['--assert-multi-arch']]],
    ['--assert-nonsense', () => [['--assert-nonsense']]],
    ['an unknown option', () => [['--bogus']]],
    ['--version', () => [['--version']]],
    ['-l (a query, outside the pack)', () => [['--admindir', admin(), '-l']]],
    ['-s of a package not there (its error recognised across pack and files)', () => [['--admindir', admin(), '-s', 'nothing-here']]],
  ];

  for (const [name, make] of cases) {
    it(`answers ${name} as the modules do`, () => {
      const [argv, env] = make();
      const files = run(path.join(DIST_SRC, DPKG_PACK_ENTRY), argv, env);
      const packed = run(pack, argv, env);
      assert.equal(packed.packed, 'true');
      assert.deepEqual({ ...packed, packed: undefined }, { ...files, packed: undefined });
    });
  }

  it('loads the files themselves when the pack is older than they are', () => {
    const files = run(path.join(DIST_SRC, DPKG_PACK_ENTRY), ['--print-architecture']);
    const old = run(stale, ['--print-architecture']);
    assert.equal(old.packed, 'false');
    assert.deepEqual({ ...old, packed: undefined }, { ...files, packed: undefined });
  });
});
