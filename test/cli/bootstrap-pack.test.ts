import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { trainingPackage } from '../../src/build/pack-training';
import { writeBootstrapPack } from '../../src/build/write-bootstrap-pack';
import { changed, cloneBuilt, compileHook, damaged, howLoaded } from '../helpers/pack-clone';

/**
 * The start-up pack of `overmerge bootstrap` and its code cache (src/build/write-bootstrap-pack.ts): the
 * clone's bin, run as a program, bootstraps a one-file Essential package the same with the pack and its
 * cache, without the cache or with a damaged one, when a module changed since the pack was made, and
 * without the pack; with the pack it reads none of the bootstrap's modules from their files. The cache is
 * made after a bootstrap, which sets V8's tier-up budget (bootstrap/tier-up.ts): V8 takes it all the same.
 */
describe('overmerge bootstrap pack and code cache', () => {
  let work: string;
  let clone: string;
  let deb: string;
  let cacheBytes: Buffer;
  const packOf = () => path.join(clone, 'dist', 'src', 'cli', 'bootstrap.pack.js');
  const cacheOf = () => path.join(clone, 'dist', 'src', 'cli', 'bootstrap.pack.cache');

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-bootstrap-pack-'));
    clone = cloneBuilt(path.join(work, 'clone'));
    const r = await writeBootstrapPack(path.join(clone, 'dist', 'src'), packOf(), cacheOf());
    assert.ok(r.modules > 100, `pack of ${r.modules} modules`);
    assert.equal(typeof r.cache, 'number', `no code cache: ${r.cache}`);
    cacheBytes = fs.readFileSync(cacheOf());
    deb = await trainingPackage(work, 'gzip', 'essential');
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** The clone's bin bootstrapping `deb` into a new folder (`node` given `preload` first, if any). */
  const bootstrap = (preload?: string) => {
    const dir = fs.mkdtempSync(path.join(work, 'root-'));
    const r = spawnSync(process.execPath, [...(preload ? ['-r', preload] : []), path.join(clone, 'bin', 'overmerge'), 'bootstrap', '--scripts=chrootless', dir, deb], {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    assert.equal(r.status, 0, r.stderr);
    const status = fs.readFileSync(path.join(dir, 'var', 'lib', 'dpkg', 'status'), 'utf8');
    return { said: r.stdout.replace(dir, 'DIR').replace(/ in [\d.]+ s$/m, ''), status, fd3: r.output[3] };
  };

  let reference: { said: string; status: string } | undefined;
  it('bootstraps with the pack and its cache, reading none of its modules, or better-sqlite3\'s, from their files', () => {
    assert.deepEqual(howLoaded(clone, packOf(), cacheOf()), { packed: true, cache: 'used' });
    const hook = compileHook(path.join(work, 'hook.js'), clone);
    const r = bootstrap(hook);
    // code-cache.js is the one module the bin loads from its file: it loads the pack.
    assert.deepEqual(JSON.parse(r.fd3!), { compiled: [path.join(clone, 'dist', 'src', 'build', 'code-cache.js')], packs: [packOf()] });
    reference = { said: r.said, status: r.status };
    assert.match(r.said, /^Setting up overmerge-pack \(1\.0\) \.\.\.$/m);
    assert.match(r.status, /^Package: overmerge-pack\nEssential: yes\nStatus: install ok installed$/m);
  });

  const variants: Array<[string, () => void]> = [
    ['without its cache', () => fs.rmSync(cacheOf())],
    ['with a damaged cache (a byte changed: V8 would take it)', () => fs.writeFileSync(cacheOf(), damaged(cacheBytes))],
  ];
  for (const [name, spoil] of variants) {
    it(`bootstraps the same ${name}, compiling the pack`, () => {
      spoil();
      try {
        assert.deepEqual(howLoaded(clone, packOf(), cacheOf()), { packed: true, cache: 'unusable' });
        const r = bootstrap();
        assert.deepEqual({ said: r.said, status: r.status }, reference);
      } finally {
        fs.writeFileSync(cacheOf(), cacheBytes);
      }
    });
  }

  it('loads the files themselves when one changed since the pack was made, and bootstraps the same', () => {
    const undo = changed(path.join(clone, 'dist', 'src', 'bootstrap', 'run.js'));
    try {
      assert.deepEqual(howLoaded(clone, packOf(), cacheOf()), { packed: false, cache: 'used' });
      const r = bootstrap();
      assert.deepEqual({ said: r.said, status: r.status }, reference);
    } finally {
      undo();
    }
    assert.deepEqual(howLoaded(clone, packOf(), cacheOf()), { packed: true, cache: 'used' }, 'the pack fresh again');
  });

  it('bootstraps the same without the pack', () => {
    fs.renameSync(packOf(), `${packOf()}.away`);
    try {
      const r = bootstrap();
      assert.deepEqual({ said: r.said, status: r.status }, reference);
    } finally {
      fs.renameSync(`${packOf()}.away`, packOf());
    }
  });
});
