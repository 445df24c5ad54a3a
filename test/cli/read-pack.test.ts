import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildDeb } from '../../src/archive/build';
import { READS, writeReadPack } from '../../src/build/write-read-pack';
import { changed, cloneBuilt, compileHook, damaged, howLoaded } from '../helpers/pack-clone';

/**
 * The start-up pack of the commands that read the database, and its code cache (src/build/write-read-pack.ts):
 * the clone's bin, run as a program, answers list, files, owner, verify and history the same with the pack
 * and its cache, without the cache or with one not its own or damaged, when a module changed since the
 * pack was made, and without the pack; with the pack it reads none of those commands' modules from files.
 */
describe('overmerge read pack and code cache', () => {
  let work: string;
  let clone: string;
  let root: string;
  let cacheBytes: Buffer;
  const packOf = () => path.join(clone, 'dist', 'src', 'cli', 'read.pack.js');
  const cacheOf = () => path.join(clone, 'dist', 'src', 'cli', 'read.pack.cache');
  const commands = [['list'], ['list', 't*'], ['files', 'tiny'], ['owner', '/usr/share/tiny/README'], ['verify'], ['history']];

  /** The clone's bin run as a program on `argv` in the root (`node` given `preload` first, if any). */
  const bin = (argv: string[], preload?: string) =>
    spawnSync(process.execPath, [...(preload ? ['-r', preload] : []), path.join(clone, 'bin', 'overmerge'), '--root', root, ...argv], {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-read-pack-'));
    clone = cloneBuilt(path.join(work, 'clone'));
    const r = await writeReadPack(path.join(clone, 'dist', 'src'), packOf(), cacheOf());
    assert.ok(r.modules > 20, `pack of ${r.modules} modules`);
    assert.equal(typeof r.cache, 'number', `no code cache: ${r.cache}`);
    cacheBytes = fs.readFileSync(cacheOf());
    const tree = path.join(work, 'tree');
    fs.mkdirSync(path.join(tree, 'DEBIAN'), { recursive: true });
    fs.mkdirSync(path.join(tree, 'usr', 'share', 'tiny'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'DEBIAN', 'control'), 'Package: tiny\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@localhost>\nDescription: one file\n');
    fs.writeFileSync(path.join(tree, 'usr', 'share', 'tiny', 'README'), 'one file\n');
    const deb = (await buildDeb(tree, path.join(work, 'tiny.deb'), { compression: 'gzip', sourceDateEpoch: 0 })).path;
    root = fs.mkdtempSync(path.join(work, 'root-'));
    const installed = bin(['install', deb]);
    assert.equal(installed.status, 0, installed.stderr);
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** What each reading command said. */
  function reads(): string[] {
    return commands.flatMap((argv) => {
      const r = bin(argv);
      assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
      return [r.stdout, r.stderr];
    });
  }

  let reference: string[] = [];
  it('answers the reading commands with the pack and its cache', () => {
    assert.deepEqual(howLoaded(clone, packOf(), cacheOf()), { packed: true, cache: 'used' });
    reference = reads();
    assert.match(reference[0], /^tiny\s+1\.0\s+all\s+installed$/m);
    assert.match(reference[4], /^\/usr\/share\/tiny\/README$/m);
  });

  it('is what the bin loads for each command the build trains it on, which reads none of its modules, or better-sqlite3\'s, from their files', () => {
    const bins = fs.readFileSync(path.join(clone, 'bin', 'overmerge'), 'utf8').match(/^const READERS = (\[.*\]);$/m);
    assert.deepEqual(JSON.parse(bins![1].replace(/'/g, '"')), [...new Set(READS.map((argv) => argv[0]))]);
    const hook = compileHook(path.join(work, 'hook.js'), clone);
    for (const argv of commands) {
      const r = bin(argv, hook);
      assert.equal(r.status, 0, r.stderr);
      // code-cache.js is the one module the bin loads from its file: it loads the pack.
      assert.deepEqual(JSON.parse(r.output[3]!), { compiled: [path.join(clone, 'dist', 'src', 'build', 'code-cache.js')], packs: [packOf()] }, argv.join(' '));
    }
  });

  const main = () => fs.readFileSync(path.join(clone, 'dist', 'src', 'cli', 'main.pack.cache'));
  const variants: Array<[string, () => void]> = [
    ['without its cache', () => fs.rmSync(cacheOf())],
    ['with the cache of the writers\' pack', () => fs.writeFileSync(cacheOf(), main())],
    ['with a damaged cache (a byte changed: V8 would take it)', () => fs.writeFileSync(cacheOf(), damaged(cacheBytes))],
  ];
  for (const [name, spoil] of variants) {
    it(`answers the same ${name}, compiling the pack`, () => {
      spoil();
      try {
        assert.deepEqual(howLoaded(clone, packOf(), cacheOf()), { packed: true, cache: 'unusable' });
        assert.deepEqual(reads(), reference);
      } finally {
        fs.writeFileSync(cacheOf(), cacheBytes);
      }
    });
  }

  it('loads the files themselves when one changed since the pack was made, and answers the same', () => {
    const undo = changed(path.join(clone, 'dist', 'src', 'cli', 'list.js'));
    try {
      assert.deepEqual(howLoaded(clone, packOf(), cacheOf()), { packed: false, cache: 'used' });
      assert.deepEqual(reads(), reference);
    } finally {
      undo();
    }
    assert.deepEqual(howLoaded(clone, packOf(), cacheOf()), { packed: true, cache: 'used' }, 'the pack fresh again');
  });

  it('answers the same without the pack', () => {
    fs.renameSync(packOf(), `${packOf()}.away`);
    try {
      assert.deepEqual(reads(), reference);
    } finally {
      fs.renameSync(`${packOf()}.away`, packOf());
    }
  });
});
