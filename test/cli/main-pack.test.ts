import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildDeb } from '../../src/archive/build';
import { packIdOf, readCache } from '../../src/build/code-cache';
import { writeMainPack } from '../../src/build/write-main-pack';
import { changed, cloneBuilt, damaged as damagedBytes, howLoaded as howPackLoaded } from '../helpers/pack-clone';
import { REPO_ROOT } from '../helpers/run-cli';

/**
 * overmerge's start-up pack and its V8 code cache (src/build/write-main-pack.ts, code-cache.ts): the built
 * bin, copied as a fresh clone is laid out (bin/, dist/, package.json; node_modules and the native addons
 * beside), installs and removes a package with the pack and its cache, and exactly as well when the
 * cache is missing, made by another Node, for another pack, or damaged (a damaged cache V8 accepted could
 * crash it: it must never be given one), and when the pack is older than the files.
 */
describe('overmerge start-up pack and code cache', () => {
  let work: string;
  let clone: string;
  let deb: string;
  let cacheBytes: Buffer;
  let xzDeb: string;
  let xzCacheBytes: Buffer;
  const xzPackOf = () => path.join(clone, 'dist', 'src', 'archive', 'xz.pack.js');
  const xzCacheOf = () => path.join(clone, 'dist', 'src', 'archive', 'xz.pack.cache');
  const packOf = () => path.join(clone, 'dist', 'src', 'cli', 'main.pack.js');
  const cacheOf = () => path.join(clone, 'dist', 'src', 'cli', 'main.pack.cache');

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-main-pack-'));
    // What a clone has after `npm ci`: the sources' build output and bin; node_modules and the addons linked.
    clone = cloneBuilt(path.join(work, 'clone'));
    const r = await writeMainPack(path.join(clone, 'dist', 'src'), packOf(), cacheOf());
    assert.ok(r.modules > 50, `pack of ${r.modules} modules`);
    assert.equal(typeof r.cache, 'number', `no code cache: ${r.cache}`);
    assert.ok(r.xz.modules > 5, `xz pack of ${r.xz.modules} modules`);
    assert.equal(typeof r.xz.cache, 'number', `no xz code cache: ${r.xz.cache}`);
    cacheBytes = fs.readFileSync(cacheOf());
    xzCacheBytes = fs.readFileSync(xzCacheOf());
    const tree = path.join(work, 'tree');
    fs.mkdirSync(path.join(tree, 'DEBIAN'), { recursive: true });
    fs.mkdirSync(path.join(tree, 'usr', 'share', 'tiny'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'DEBIAN', 'control'), 'Package: tiny\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@localhost>\nDescription: one file\n');
    fs.writeFileSync(path.join(tree, 'usr', 'share', 'tiny', 'README'), 'one file\n');
    deb = (await buildDeb(tree, path.join(work, 'tiny.deb'), { compression: 'gzip', sourceDateEpoch: 0 })).path;
    xzDeb = (await buildDeb(tree, path.join(work, 'tiny-xz.deb'), { compression: 'xz', sourceDateEpoch: 0 })).path;
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** The clone's bin, run as a program: install, list, remove in a new root; what each said. */
  function installAndRemove(archive: string = deb): string[] {
    const root = fs.mkdtempSync(path.join(work, 'root-'));
    const said: string[] = [];
    for (const argv of [['install', archive], ['list'], ['remove', 'tiny'], ['list']]) {
      const r = spawnSync(path.join(clone, 'bin', 'overmerge'), ['--root', root, ...argv], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
      assert.equal(r.status, 0, `${argv[0]}: ${r.stderr}`);
      said.push(r.stdout, r.stderr);
    }
    assert.ok(fs.existsSync(path.join(root, 'var/lib/overmerge/db.sqlite')));
    assert.ok(!fs.existsSync(path.join(root, 'usr/share/tiny/README')));
    return said;
  }

  /** How the pack loads in a fresh Node (as bin/overmerge loads it): whether it used its modules, and its cache. */
  const howLoaded = (pack: string = packOf(), cache: string = cacheOf()) => howPackLoaded(clone, pack, cache);

  let reference: string[] = [];
  it('installs and removes with the pack and its cache', () => {
    assert.deepEqual(howLoaded(), { packed: true, cache: 'used' });
    reference = installAndRemove();
    assert.match(reference[0], /install tiny:all 1\.0/);
  });

  it('runs a small transaction without reading any of its own modules, or better-sqlite3\'s, from their files (folders included)', () => {
    const root = fs.mkdtempSync(path.join(work, 'root-'));
    const script = `
      const Module = require('node:module');
      const { loadPack } = require(${JSON.stringify(path.join(clone, 'dist', 'src', 'build', 'code-cache.js'))});
      const compiled = [];
      const own = Module.prototype._compile;
      Module.prototype._compile = function (content, filename) {
        if (filename.startsWith(${JSON.stringify(path.join(clone, 'dist', 'src') + path.sep)}) || filename.includes('/node_modules/better-sqlite3/')) compiled.push(filename);
        return own.apply(this, arguments);
      };
      const { main } = loadPack(${JSON.stringify(packOf())}, ${JSON.stringify(cacheOf())}).exports;
      const io = { stdout: { write() { return true; } }, stderr: process.stderr, isTTY: false, stdinIsTTY: false };
      (async () => {
        for (const argv of [['install', ${JSON.stringify(deb)}], ['remove', 'tiny']]) {
          const code = await main(['--root', ${JSON.stringify(root)}, '--quiet', ...argv], io);
          if (code !== 0) throw new Error(argv[0] + ' exited ' + code);
        }
        process.stdout.write(JSON.stringify(compiled));
      })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });

  const variants: Array<[string, () => void, string]> = [
    ['without a cache', () => fs.rmSync(cacheOf()), 'unusable'],
    ['with a cache made by another Node', () => fs.writeFileSync(cacheOf(), withHeader((h) => ({ ...h, node: 'v0.0.1', v8: '0.0' }))), 'unusable'],
    ['with the cache of another pack', () => fs.writeFileSync(cacheOf(), withHeader((h) => ({ ...h, pack: '0'.repeat(40) }))), 'unusable'],
    ['with a damaged cache (a byte changed: V8 would take it)', () => fs.writeFileSync(cacheOf(), damaged()), 'unusable'],
    ['with a truncated cache', () => fs.writeFileSync(cacheOf(), cacheBytes.subarray(0, cacheBytes.length >> 1)), 'unusable'],
    ['with a cache that is not one', () => fs.writeFileSync(cacheOf(), 'not a cache\n'), 'unusable'],
  ];
  for (const [name, spoil, own] of variants) {
    it(`installs and removes the same ${name}`, () => {
      spoil();
      try {
        assert.deepEqual(howLoaded(), { packed: true, cache: own });
        assert.deepEqual(installAndRemove(), reference);
      } finally {
        fs.writeFileSync(cacheOf(), cacheBytes);
      }
    });
  }

  it('refuses a damaged cache by its checksum, before V8 is given it', () => {
    const id = packIdOf(fs.readFileSync(packOf(), 'utf8'));
    assert.ok(readCache(cacheOf(), id) !== undefined);
    fs.writeFileSync(cacheOf(), damaged());
    try {
      assert.equal(readCache(cacheOf(), id), undefined);
    } finally {
      fs.writeFileSync(cacheOf(), cacheBytes);
    }
  });

  it('loads the files themselves when one changed since the pack was made, and works the same', () => {
    const undo = changed(path.join(clone, 'dist', 'src', 'cli', 'install.js'));
    try {
      assert.deepEqual(howLoaded(), { packed: false, cache: 'used' });
      assert.deepEqual(installAndRemove(), reference);
    } finally {
      undo();
    }
    assert.deepEqual(howLoaded(), { packed: true, cache: 'used' }, 'the pack fresh again');
  });

  it('works without the pack', () => {
    fs.renameSync(packOf(), `${packOf()}.away`);
    try {
      assert.deepEqual(installAndRemove(), reference);
    } finally {
      fs.renameSync(`${packOf()}.away`, packOf());
    }
  });

  // The xz pack (src/build/lazy-pack.ts): loaded when the first xz member is decoded, checked as the start-up pack is.
  let xzReference: string[] = [];
  it('installs and removes an xz archive with the xz pack and its cache', () => {
    assert.deepEqual(howLoaded(xzPackOf(), xzCacheOf()), { packed: true, cache: 'used' });
    xzReference = installAndRemove(xzDeb);
    assert.match(xzReference[0], /install tiny:all 1\.0/);
  });

  it('decodes xz without reading lzma-native or readable-stream from their files', () => {
    // Both packs fresh: what is compiled from its file below is a module neither holds.
    assert.deepEqual(howLoaded(), { packed: true, cache: 'used' });
    assert.deepEqual(howLoaded(xzPackOf(), xzCacheOf()), { packed: true, cache: 'used' });
    const root = fs.mkdtempSync(path.join(work, 'root-'));
    const script = `
      const Module = require('node:module');
      const { loadPack } = require(${JSON.stringify(path.join(clone, 'dist', 'src', 'build', 'code-cache.js'))});
      const compiled = [];
      const own = Module.prototype._compile;
      Module.prototype._compile = function (content, filename) {
        if (filename.startsWith(${JSON.stringify(path.join(clone, 'dist', 'src') + path.sep)}) || filename.includes('/node_modules/')) compiled.push(filename);
        return own.apply(this, arguments);
      };
      const { main } = loadPack(${JSON.stringify(packOf())}, ${JSON.stringify(cacheOf())}).exports;
      const io = { stdout: { write() { return true; } }, stderr: process.stderr, isTTY: false, stdinIsTTY: false };
      main(['--root', ${JSON.stringify(root)}, '--quiet', 'install', ${JSON.stringify(xzDeb)}], io).then((code) => {
        if (code !== 0) throw new Error('install exited ' + code);
        process.stdout.write(JSON.stringify(compiled));
      });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });

  /**
   * A module of the xz pack (a package's, so the clone's node_modules is the repository's own) changed
   * since the pack was made; the undo puts it back as it was.
   */
  const touchXzModule = (): (() => void) => changed(path.join(REPO_ROOT, 'node_modules', 'readable-stream', 'readable.js'));
  const xzVariants: Array<[string, () => (() => void) | void, { packed: boolean; cache: string } | undefined]> = [
    ['without its cache', () => fs.rmSync(xzCacheOf()), { packed: true, cache: 'unusable' }],
    ['with the cache of the start-up pack', () => fs.writeFileSync(xzCacheOf(), cacheBytes), { packed: true, cache: 'unusable' }],
    ['with a damaged cache', () => fs.writeFileSync(xzCacheOf(), damaged(xzCacheBytes)), { packed: true, cache: 'unusable' }],
    ['when a module changed since the pack was made', touchXzModule, { packed: false, cache: 'used' }],
    ['with a damaged pack', () => fs.writeFileSync(xzPackOf(), xzPackText().slice(0, 5000)), undefined],
    ['without the pack', () => fs.rmSync(xzPackOf()), undefined],
  ];
  let xzPackBytes: Buffer | undefined;
  const xzPackText = (): string => (xzPackBytes ??= fs.readFileSync(xzPackOf())).toString('utf8');
  for (const [name, spoil, loaded] of xzVariants) {
    it(`installs and removes an xz archive the same ${name}`, () => {
      xzPackText();
      const undo = spoil();
      try {
        if (loaded !== undefined) assert.deepEqual(howLoaded(xzPackOf(), xzCacheOf()), loaded);
        assert.deepEqual(installAndRemove(xzDeb), xzReference);
      } finally {
        if (undo) undo();
        fs.writeFileSync(xzPackOf(), xzPackBytes!);
        fs.writeFileSync(xzCacheOf(), xzCacheBytes);
      }
    });
  }

  /** The cache with its header changed by `change`. */
  function withHeader(change: (h: Record<string, unknown>) => Record<string, unknown>): Buffer {
    const nl = cacheBytes.indexOf(10);
    const header = JSON.parse(cacheBytes.subarray(0, nl).toString()) as Record<string, unknown>;
    return Buffer.concat([Buffer.from(`${JSON.stringify(change(header))}\n`), cacheBytes.subarray(nl + 1)]);
  }

  const damaged = (of: Buffer = cacheBytes): Buffer => damagedBytes(of);
});
