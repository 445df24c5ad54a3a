import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { describe, it } from 'node:test';
import { hostileCases } from '../../fixtures/hostile/cases';
import { readDebControl, type DebControl } from '../../src/archive/deb';
import { expansionLimit } from '../../src/engine/space';
import { resolveHostPath } from '../../src/fs/host-path';
import { OvermergeError } from '../../src/errors';
import { stagedContent } from '../../src/model/entry';
import { stageArchive, type StageOptions } from '../../src/stage/stage';
import { ar, deb, entry, metaRecord, paxRecord, tar } from '../archive/fixtures';
import { gate, needs } from '../helpers/gate';
import { REPO_ROOT } from '../helpers/run-cli';
import { unbuiltAddonPreload } from '../helpers/unbuilt-addon';
import { minbaseDebs } from '../helpers/minbase-debs';
import { withTempDir } from '../helpers/temp';

/**
 * The worker thread's staging (src/stage/native-tar.ts, src/fs/native/stage_tar.c) must be invisible: for
 * any archive, the manifest and the staged files it makes are the JavaScript reader's, and an archive
 * either refuses is refused by both in the same words. Each archive is staged both ways (`native: false`
 * is the JavaScript reader alone) and the two outcomes compared whole.
 */

const asRoot = process.getuid?.() === 0;

interface Outcome {
  error?: string;
  byWorker?: boolean;
  entries?: unknown[];
  /** Each staged file's content digest and metadata, by member path. */
  files?: Record<string, string>;
}

async function stagedBoth(archive: string, work: string, opts: Omit<StageOptions, 'asRoot'> = {}): Promise<[Outcome, Outcome]> {
  let control: DebControl;
  try {
    control = await readDebControl(archive);
  } catch (err) {
    const said = (err as Error).message;
    return [{ error: said }, { error: said }];
  }
  const limit = expansionLimit(control, archive);
  const out: Outcome[] = [];
  for (const native of [true, false]) {
    const dir = resolveHostPath(path.join(work, native ? 'worker' : 'reader'));
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.mkdir(dir);
    try {
      const staged = await stageArchive(archive, control, dir, { asRoot, maxBytes: limit, ...opts, native });
      const files: Record<string, string> = {};
      for (const e of staged.entries) {
        const at = stagedContent(e);
        if (at === undefined) continue;
        const st = await fsp.lstat(at);
        const sha = createHash('sha256').update(await fsp.readFile(at)).digest('hex');
        files[e.path] = `${sha} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${st.mtimeMs}`;
      }
      out.push({ byWorker: staged.byWorker === true, entries: staged.entries.map(({ stagedIn: _, ...rest }) => rest), files });
    } catch (err) {
      if (!(err instanceof OvermergeError)) throw err;
      out.push({ error: `${err.code}: ${err.message}` });
    }
  }
  return [out[0], out[1]];
}

function assertSame(archive: string, [worker, reader]: [Outcome, Outcome]): void {
  assert.deepEqual({ ...worker, byWorker: undefined }, { ...reader, byWorker: undefined }, archive);
  assert.equal(reader.byWorker ?? false, false, `${archive}: native: false stages with the JavaScript reader`);
}

describe('staging on the worker thread', { skip: needs({ tools: ['xz'] }) }, () => {
  it('makes the manifest and the files the JavaScript reader makes, for every archive of the minbase set', async (t) => {
    const debs = await minbaseDebs();
    if (gate(t, debs)) return;
    await withTempDir('native-stage-real', async (work) => {
      let byWorker = 0;
      for (const archive of debs.files) {
        const both = await stagedBoth(archive, work);
        assertSame(path.basename(archive), both);
        assert.equal(both[0].error, undefined, archive);
        if (both[0].byWorker) byWorker++;
      }
      // Every one of them is xz, the plain shape dpkg-deb writes: none is left to the JavaScript reader.
      assert.equal(byWorker, debs.files.length);
    });
  });

  it('leaves the other shapes to the JavaScript reader, which accepts or refuses them as before (the hostile corpus, data in xz)', async () => {
    await withTempDir('native-stage-hostile', async (work) => {
      const cases = hostileCases({ manyMembers: 2_000, tooManyMembers: 500 }).filter((c) => !c.heavy);
      let compared = 0;
      for (const c of cases) {
        const repacked = asXzData(c.deb);
        if (repacked === undefined) continue;
        const file = path.join(work, `${c.id}.deb`);
        await fsp.writeFile(file, repacked);
        assertSame(c.id, await stagedBoth(file, work, { members: { left: 500, limit: 500 } }));
        compared++;
      }
      assert.ok(compared >= cases.length / 2, `${compared} of ${cases.length} cases compared`);
    });
  });

  it('takes the plain shape itself, and leaves a pax header, data after the end, a size past the bound or a member after the data to the JavaScript reader', async () => {
    await withTempDir('native-stage-shapes', async (work) => {
      const plain = tar(entry({ name: './', type: 'directory', mode: 0o755 }), entry({ name: './a', data: 'a\n' }), entry({ name: './b', data: Buffer.alloc(70_000, 1) }));
      const shapes: Array<[string, Buffer, boolean, Omit<StageOptions, 'asRoot'>?]> = [
        ['plain', plain, true],
        ['pax path', tar(entry({ name: './', type: 'directory', mode: 0o755 }), metaRecord('x', paxRecord('path', './c')), entry({ name: './a', data: 'a\n' })), false],
        ['garbage after the end', Buffer.concat([plain, Buffer.from('not zeros')]), false],
        ['a hidden member after the end', Buffer.concat([plain, entry({ name: './hidden', data: 'x' })]), false],
        ['past the size bound', plain, false, { maxBytes: 1000 }],
        ['past the member bound', plain, false, { members: { left: 2, limit: 2 } }],
        ['truncated', plain.subarray(0, 1024 + 100), false],
      ];
      for (const [what, data, byWorker, opts] of shapes) {
        const file = path.join(work, 'shape.deb');
        await fsp.writeFile(file, await deb(data, 'xz'));
        const both = await stagedBoth(file, work, opts);
        assertSame(what, both);
        assert.equal(both[0].byWorker ?? false, byWorker, what);
      }
      // xz reads the data member to the end of the file: a member after it leaves the archive to JavaScript.
      const file = path.join(work, 'trailing-member.deb');
      const members = arMembers(await deb(plain, 'xz'))!;
      await fsp.writeFile(file, ar([...members, { name: '_extra', data: 'x' }]));
      const both = await stagedBoth(file, work);
      assertSame('a member after data.tar', both);
      assert.equal(both[0].error, undefined);
      assert.equal(both[0].byWorker, false);
    });
  });

  it('decodes an xz member itself, and gives one that does not decode whole back to the JavaScript reader, which refuses it as before', async () => {
    await withTempDir('native-stage-xz', async (work) => {
      const plain = tar(entry({ name: './', type: 'directory', mode: 0o755 }), entry({ name: './a', data: 'a\n' }), entry({ name: './b', data: Buffer.alloc(300_000, 7) }));
      const members = arMembers(await deb(plain, 'xz'))!;
      const at = members.findIndex((m) => m.name.startsWith('data.tar'));
      const xz = Buffer.from(members[at].data);
      const flipped = (i: number): Buffer => {
        const b = Buffer.from(xz);
        b[i] ^= 0xff;
        return b;
      };
      const cases: Array<[string, Buffer, boolean]> = [
        ['whole', xz, true],
        ['another stream after it (xz decodes both)', Buffer.concat([xz, execFileSync('xz', ['-c'], { input: Buffer.alloc(1024) })]), true],
        ['corrupt in the middle', flipped(Math.floor(xz.length / 2)), false],
        // The index's CRC32, just before the 12-byte stream footer: wrong only once every file is out.
        ['its index spoiled', flipped(xz.length - 13), false],
        ['cut short', xz.subarray(0, xz.length - 20), false],
        ['garbage after the stream', Buffer.concat([xz, Buffer.from('garbage!')]), false],
      ];
      for (const [what, data, byWorker] of cases) {
        const file = path.join(work, 'xz.deb');
        await fsp.writeFile(file, ar(members.map((m, i) => (i === at ? { ...m, data } : m))));
        const both = await stagedBoth(file, work);
        assertSame(what, both);
        assert.equal(both[0].byWorker ?? false, byWorker, what);
        assert.equal(both[0].error === undefined, byWorker, `${what}: ${both[0].error}`);
      }
      // A member of 1 MiB and more: the host's xz decodes it, unless all are to be decoded in the worker
      // thread (a bootstrap); the same staging either way.
      const random = Buffer.alloc(1_300_000);
      for (let i = 0; i < random.length; i += 4) random.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 7)) >>> 0, i);
      const big = tar(entry({ name: './', type: 'directory', mode: 0o755 }), entry({ name: './r', data: random }));
      const bigFile = path.join(work, 'big.deb');
      await fsp.writeFile(bigFile, await deb(big, 'xz'));
      assert.ok(arMembers(await fsp.readFile(bigFile))!.find((m) => m.name.startsWith('data.tar'))!.data.length >= 1 << 20, 'the member is 1 MiB or more');
      for (const xzInProcess of ['small', 'all'] as const) {
        const both = await stagedBoth(bigFile, work, { xzInProcess });
        assertSame(`a large member, ${xzInProcess}`, both);
        assert.equal(both[0].byWorker, true, xzInProcess);
      }
      // A check liblzma cannot verify (ID 5, the size of CRC64's; `xz` warns and exits 2): not the worker's
      // to accept. The JavaScript reader decides, whichever way.
      const unsupported = Buffer.from(xz);
      unsupported[7] = 5;
      unsupported.writeUInt32LE(zlib.crc32(unsupported.subarray(6, 8)), 8);
      unsupported[unsupported.length - 3] = 5;
      unsupported.writeUInt32LE(zlib.crc32(unsupported.subarray(unsupported.length - 8, unsupported.length - 2)), unsupported.length - 12);
      const file = path.join(work, 'xz.deb');
      await fsp.writeFile(file, ar(members.map((m, i) => (i === at ? { ...m, data: unsupported } : m))));
      const both = await stagedBoth(file, work);
      assertSame('an unsupported check', both);
      assert.equal(both[0].byWorker ?? false, false, 'an unsupported check');
    });
  });

  it('where the addon was not built, the JavaScript reader stages the archive, the same manifest', async () => {
    await withTempDir('native-stage-unbuilt', async (work) => {
      const file = path.join(work, 'plain.deb');
      await fsp.writeFile(file, await deb(tar(entry({ name: './', type: 'directory', mode: 0o755 }), entry({ name: './a', data: 'a\n' })), 'xz'));
      const preload = await unbuiltAddonPreload(work, 'stage_tar.node', 'stage_tar.node refused');
      const script = `
const { stageArchive } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/src/stage/stage.js'))});
const { readDebControl } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/src/archive/deb.js'))});
const fs = require('node:fs');
(async () => {
  const dir = ${JSON.stringify(path.join(work, 'staged'))};
  fs.mkdirSync(dir);
  const staged = await stageArchive(${JSON.stringify(file)}, await readDebControl(${JSON.stringify(file)}), dir, { asRoot: false });
  console.log(JSON.stringify({ byWorker: staged.byWorker === true, files: staged.entries.filter((e) => e.type === 'file').map((e) => e.path + ' ' + e.sha256) }));
})();`;
      const run = spawnSync(process.execPath, ['-r', preload, '-e', script], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stderr, /stage_tar\.node refused/, 'the addon was asked for');
      const got = JSON.parse(run.stdout) as { byWorker: boolean; files: string[] };
      assert.equal(got.byWorker, false);
      assert.deepEqual(got.files, [`a ${createHash('sha256').update('a\n').digest('hex')}`]);
    });
  });
});

/** The archive with its data member re-compressed as xz (`data.tar.xz`); undefined for one whose data member is not gzip or plain. */
function asXzData(debBytes: Buffer): Buffer | undefined {
  const members = arMembers(debBytes);
  if (members === undefined) return undefined;
  const at = members.findIndex((m) => m.name.startsWith('data.tar'));
  if (at < 0) return undefined;
  const m = members[at];
  let plain: Buffer;
  try {
    if (m.name === 'data.tar.gz') plain = zlib.gunzipSync(m.data);
    else if (m.name === 'data.tar') plain = m.data;
    else return undefined;
  } catch {
    return undefined;
  }
  const xz = execFileSync('xz', ['-c', '-1', '-T1'], { input: plain, maxBuffer: 1 << 30 });
  return ar(members.map((x, i) => (i === at ? { name: 'data.tar.xz', data: xz } : x)));
}

/** An ar archive's members (name, data), or undefined where it is not a plain one. */
function arMembers(b: Buffer): Array<{ name: string; data: Buffer }> | undefined {
  if (b.subarray(0, 8).toString('latin1') !== '!<arch>\n') return undefined;
  const out: Array<{ name: string; data: Buffer }> = [];
  let at = 8;
  while (at + 60 <= b.length) {
    const name = b.toString('latin1', at, at + 16).trimEnd();
    const size = Number.parseInt(b.toString('latin1', at + 48, at + 58).trim(), 10);
    if (!Number.isSafeInteger(size) || at + 60 + size > b.length) return undefined;
    out.push({ name, data: b.subarray(at + 60, at + 60 + size) });
    at += 60 + size + (size % 2);
  }
  return at === b.length ? out : undefined;
}
