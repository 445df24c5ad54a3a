import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { needs } from '../helpers/gate';
import { mount, unmount } from '../helpers/mounts';
import { cannotSquashfs } from '../helpers/overlay-stack';
import { runCli } from '../helpers/run-cli';
import { makeTempDir } from '../helpers/temp';

const execFileP = promisify(execFile);

/**
 * The linux-unionfs thread "overlayfs: issue with a replaced lower squashfs with export-table"
 * (shared/background/001): an upper layer kept across a rebuilt squashfs lower. Every copy-up records the
 * lower inode's file handle as `trusted.overlay.origin` whenever the lower can make handles — a squashfs
 * with its export table (mksquashfs' default) can; `-no-exports` gives an empty origin — with or without
 * index=on. squashfs has no UUID and numbers inodes afresh at every build, so after the rebuild an origin
 * names another file of the new image. Since the thread's fix the kernel follows such an origin only with
 * index=on (or nfs_export=on, which implies it); then, as this test shows on a real mount:
 * - a v2 file whose inode number is a stale origin is looked up as the upper file that carries it: reading
 *   it gives the other file's bytes (and a write through it hard-links the two in the upper layer);
 * - when the root's inode number changed too, the mount itself fails ("failed to verify upper root origin").
 * `overlay reconcile --strip-origin` finds those origins and removes them; both mounts then work and every
 * file gives its own contents.
 */

interface World {
  base: string;
  mounted: string[];
}

async function mountAt(w: World, args: string[], at: string): Promise<void> {
  await fsp.mkdir(at, { recursive: true });
  await mount([...args, at]);
  w.mounted.unshift(at);
}

async function unmountAt(w: World, at: string): Promise<void> {
  await unmount(at);
  w.mounted.splice(w.mounted.indexOf(at), 1);
}

/** An image of `files` (content, or `-> target` for a symlink), packed and loop-mounted. */
async function image(w: World, name: string, files: Record<string, string>): Promise<string> {
  const src = path.join(w.base, 'src', name);
  for (const [p, content] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(src, p)), { recursive: true });
    if (content.startsWith('-> ')) await fsp.symlink(content.slice(3), path.join(src, p));
    else await fsp.writeFile(path.join(src, p), content);
  }
  const sqfs = path.join(w.base, 'src', `${name}.sqfs`);
  await execFileP('mksquashfs', [src, sqfs, '-quiet', '-noappend', '-no-progress']);
  const at = path.join(w.base, name);
  await mountAt(w, ['-o', 'loop,ro', '-t', 'squashfs', sqfs], at);
  return at;
}

function overlay(lower: string, upper: string, work: string, options = 'index=on'): string[] {
  return ['-t', 'overlay', 'overmerge-estale', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work},${options}`];
}

const read = (p: string): Promise<string> => fsp.readFile(p, 'utf8');

interface Json {
  origins: Array<{ path: string; verdict: string; inode?: number; lowerInode?: number; nullUuid: boolean; stripped: boolean }>;
}

async function reconcileJson(argv: string[]): Promise<Json> {
  const r = await runCli(['--json', 'overlay', 'reconcile', ...argv]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Json;
}

test('the thread\'s case: stale origins over a rebuilt squashfs are found, and --strip-origin makes index=on lookups right again', { skip: needs({ mount: ['overlay', 'tmpfs'] }) || cannotSquashfs() }, async (t) => {
  const w: World = { base: await makeTempDir('estale'), mounted: [] };
  try {
    await mountAt(w, ['-t', 'tmpfs', '-o', 'size=64m,mode=0755', 'overmerge-estale'], path.join(w.base, 'src'));
    const layers = path.join(w.base, 'layers');
    await mountAt(w, ['-t', 'tmpfs', '-o', 'size=16m,mode=0755', 'overmerge-estale-layers'], layers);
    for (const d of ['upper', 'work', 'upper3', 'work3']) await fsp.mkdir(path.join(layers, d));
    const [upper, work, upper3, work3] = ['upper', 'work', 'upper3', 'work3'].map((d) => path.join(layers, d));
    const merged = path.join(w.base, 'merged');

    // v1: d/a, d/b, d/l (a symlink), d/m are inodes 2 to 5 and the root 6. The live system changes a and b,
    // and the owner of the symlink (copy-ups, each recording its origin).
    const v1 = await image(w, 'v1', { 'd/a': 'A\n', 'd/b': 'B\n', 'd/l': '-> a', 'd/m': 'M\n' });
    await mountAt(w, overlay(v1, upper, work), merged);
    await fsp.appendFile(path.join(merged, 'd/a'), 'A2\n');
    await fsp.appendFile(path.join(merged, 'd/b'), 'B2\n');
    await fsp.lchown(path.join(merged, 'd/l'), 1, 1);
    await unmountAt(w, merged);
    await unmountAt(w, v1);
    await execFileP('cp', ['-a', '--', `${upper}/.`, upper3]);

    // v2: a new file sorts first and takes inode 2; a, b and l move to 3, 4 and 5; the root stays 6.
    const v2 = await image(w, 'v2', { 'd/0first': 'Z\n', 'd/a': 'A\n', 'd/b': 'B\n', 'd/l': '-> a' });
    await mountAt(w, overlay(v2, upper, work), merged);
    const a = await read(path.join(merged, 'd/a'));
    const z = await read(path.join(merged, 'd/0first')).catch((err: NodeJS.ErrnoException) => `${err.code}`);
    await unmountAt(w, merged);
    assert.equal(a, 'A\nA2\n');
    assert.notEqual(z, 'Z\n', "with the stale origins, v2's 0first is not read as itself");
    t.diagnostic(`before reconcile, reading v2's d/0first (inode 2, a's stale origin) gave ${JSON.stringify(z)}`);

    const dry = await reconcileJson(['--upper', upper, '--lower', v2]);
    assert.deepEqual(dry.origins, [
      { path: 'd/a', verdict: 'stale', inode: 2, lowerInode: 3, nullUuid: true, stripped: false },
      { path: 'd/b', verdict: 'stale', inode: 3, lowerInode: 4, nullUuid: true, stripped: false },
      { path: 'd/l', verdict: 'stale', inode: 4, lowerInode: 5, nullUuid: true, stripped: false },
    ]);
    const text = await runCli(['overlay', 'reconcile', '--upper', upper, '--lower', v2]);
    assert.match(text.stdout, /ESTALE/);
    await reconcileJson(['--upper', upper, '--lower', v2, '--apply', '--strip-origin']);
    assert.deepEqual((await reconcileJson(['--upper', upper, '--lower', v2])).origins, []);

    await mountAt(w, overlay(v2, upper, work), merged);
    assert.equal(await read(path.join(merged, 'd/a')), 'A\nA2\n');
    assert.equal(await read(path.join(merged, 'd/0first')), 'Z\n');
    assert.equal(await read(path.join(merged, 'd/b')), 'B\nB2\n');
    await fsp.chmod(path.join(merged, 'd/0first'), 0o600); // a copy-up of 0first, which now records inode 2 itself
    assert.equal(await read(path.join(merged, 'd/0first')), 'Z\n');
    assert.equal(await read(path.join(merged, 'd/a')), 'A\nA2\n');
    const [sa, sz] = [await fsp.stat(path.join(merged, 'd/a')), await fsp.stat(path.join(merged, 'd/0first'))];
    assert.notEqual(sa.ino, sz.ino);
    await unmountAt(w, merged);
    const [ua, uz] = [await fsp.stat(path.join(upper, 'd/a')), await fsp.stat(path.join(upper, 'd/0first'))];
    assert.notEqual(ua.ino, uz.ino, 'the upper layer keeps two files');
    assert.equal(uz.nlink, 1);
    assert.equal(await fsp.readlink(path.join(upper, 'd/l')), 'a');

    // v3: one more file, so the root's inode number changes as well: index=on refuses to mount at all.
    const v3 = await image(w, 'v3', { 'd/0first': 'Z\n', 'd/a': 'A\n', 'd/b': 'B\n', 'd/l': '-> a', 'd/zz': 'zz\n' });
    await assert.rejects(mountAt(w, overlay(v3, upper3, work3), merged), /Stale file handle|mount/);
    const dry3 = await reconcileJson(['--upper', upper3, '--lower', v3]);
    assert.deepEqual(dry3.origins.map((o) => `${o.path || '/'} names ${o.inode}, v3 has ${o.lowerInode}`), ['/ names 6, v3 has 7', 'd/a names 2, v3 has 3', 'd/b names 3, v3 has 4', 'd/l names 4, v3 has 5']);
    await reconcileJson(['--upper', upper3, '--lower', v3, '--apply', '--strip-origin']);
    await mountAt(w, overlay(v3, upper3, work3), merged);
    assert.deepEqual(await Promise.all(['d/0first', 'd/a', 'd/b', 'd/zz'].map((f) => read(path.join(merged, f)))), ['Z\n', 'A\nA2\n', 'B\nB2\n', 'zz\n']);
    await unmountAt(w, merged);
  } finally {
    for (const at of [...w.mounted]) await unmount(at);
    await fsp.rm(w.base, { recursive: true, force: true });
  }
});
