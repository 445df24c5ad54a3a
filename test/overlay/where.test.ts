import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as xattr from 'fs-xattr';
import type { RootPath } from '../../src/fs/rootpath';
import type { LayerDir } from '../../src/overlay/layers';
import type { OverlayFeatures, RedirectDir } from '../../src/overlay/options';
import { OverlayView, type Where } from '../../src/overlay/where';
import { needs } from '../helpers/gate';
import { withTempDir } from '../helpers/temp';

/**
 * where.ts on layer folders made by hand, without a mount: every rule of overlayfs' lookup it follows, one
 * case each. (overlay.test.ts checks the same against real mounts, where the kernel made the layers.)
 * Whiteouts are device nodes and the attributes are trusted.*, so these need root.
 */

const execFileP = promisify(execFile);

type Features = Pick<OverlayFeatures, 'userxattr' | 'redirectDir' | 'metacopy'>;

function features(f: { userxattr?: boolean; redirectDir?: RedirectDir; metacopy?: boolean } = {}): Features {
  return {
    userxattr: { value: f.userxattr ?? false, source: 'mountinfo' },
    redirectDir: { value: f.redirectDir ?? 'follow', source: 'mountinfo' },
    metacopy: { value: f.metacopy ?? false, source: 'mountinfo' },
  };
}

interface Layout {
  upper: string;
  lower: string[];
  data: string[];
  view(f?: Features, offset?: string): OverlayView;
}

async function withLayers(fn: (l: Layout) => Promise<void>, lowers = 2, datas = 1): Promise<void> {
  await withTempDir('where', async (dir) => {
    const mk = async (name: string): Promise<string> => {
      const p = path.join(dir, name);
      await fsp.mkdir(p);
      return p;
    };
    const upper = await mk('upper');
    const lower: string[] = [];
    for (let i = 0; i < lowers; i++) lower.push(await mk(`lower${i}`));
    const data: string[] = [];
    for (let i = 0; i < datas; i++) data.push(await mk(`data${i}`));
    const dirOf = (role: LayerDir['role'], index: number, p: string): LayerDir => ({ role, index, path: p, reachable: true });
    await fn({
      upper,
      lower,
      data,
      view: (f = features(), offset = '') =>
        new OverlayView(
          { upper: dirOf('upper', 0, upper), lower: lower.map((p, i) => dirOf('lower', i, p)), data: data.map((p, i) => dirOf('data', i, p)) },
          f,
          offset as RootPath,
        ),
    });
  });
}

async function file(at: string, content = 'x', mode = 0o644): Promise<void> {
  await fsp.mkdir(path.dirname(at), { recursive: true });
  await fsp.writeFile(at, content);
  await fsp.chmod(at, mode);
}

async function dir(at: string): Promise<void> {
  await fsp.mkdir(at, { recursive: true });
}

async function whiteout(at: string): Promise<void> {
  await fsp.mkdir(path.dirname(at), { recursive: true });
  await execFileP('mknod', [at, 'c', '0', '0']);
}

async function setAttr(at: string, name: string, value: string): Promise<void> {
  await xattr.setAttribute(at, name, Buffer.from(value));
}

const at = (v: OverlayView, p: string): Promise<Where> => v.where(p as RootPath);

describe('where a path lives, read from layer folders', { skip: needs({ root: 'device-node whiteouts, trusted.* attributes' }) }, () => {
  it('lower only: the topmost lower layer that has it', () =>
    withLayers(async (l) => {
      await file(path.join(l.lower[1], 'a/only1'));
      await file(path.join(l.lower[0], 'a/both'), 'top');
      await file(path.join(l.lower[1], 'a/both'), 'bottom');
      const v = l.view();
      assert.deepEqual(await at(v, 'a/only1'), { path: 'a/only1', class: 'lower', kind: 'file', size: 1, from: { role: 'lower', index: 1, path: 'a/only1' }, upperBytes: 0 });
      assert.deepEqual((await at(v, 'a/both')).from, { role: 'lower', index: 0, path: 'a/both' });
      assert.equal((await at(v, 'a')).class, 'lower', 'a directory merged from two lower layers');
      assert.deepEqual(await at(v, 'a/nothing'), { path: 'a/nothing', class: 'absent', upperBytes: 0 });
    }));

  it('copied-up: same, or which of type, mode, owner, size, content, target differ', () =>
    withLayers(async (l) => {
      for (const n of ['same', 'content', 'mode', 'owner', 'size']) await file(path.join(l.lower[0], n), 'abc');
      await file(path.join(l.upper, 'same'), 'abc');
      await file(path.join(l.upper, 'content'), 'abd');
      await file(path.join(l.upper, 'mode'), 'abc', 0o600);
      await file(path.join(l.upper, 'owner'), 'abc');
      await fsp.chown(path.join(l.upper, 'owner'), 1234, 0);
      await file(path.join(l.upper, 'size'), 'abcd');
      await file(path.join(l.lower[0], 'type'));
      await fsp.symlink('/elsewhere', path.join(l.upper, 'type'));
      await fsp.symlink('/one', path.join(l.lower[0], 'target'));
      await fsp.symlink('/two', path.join(l.upper, 'target'));
      const v = l.view();
      const expected: Record<string, string[]> = { same: [], content: ['content'], mode: ['mode'], owner: ['owner'], size: ['size', 'content'], type: ['type'], target: ['target'] };
      for (const [name, differs] of Object.entries(expected)) {
        const w = await at(v, name);
        assert.equal(w.class, 'copied-up', name);
        assert.deepEqual(w.differs, differs, name);
        assert.equal(w.same, differs.length === 0, name);
        assert.deepEqual(w.beneath?.role, 'lower', name);
      }
      const st = await fsp.lstat(path.join(l.upper, 'same'));
      const same = await at(v, 'same');
      assert.equal(same.upperBytes, st.blocks * 512);
      assert.equal(same.upperInode, `${st.dev}:${st.ino}`);
    }));

  it('upper only; bytes are st_blocks × 512 of the upper entry', () =>
    withLayers(async (l) => {
      await file(path.join(l.upper, 'big'), 'z'.repeat(10000));
      const w = await at(l.view(), 'big');
      assert.equal(w.class, 'upper');
      assert.equal(w.upperBytes, (await fsp.lstat(path.join(l.upper, 'big'))).blocks * 512);
      assert.ok(w.upperBytes >= 10000);
    }));

  it('a whiteout hides what is below it; a whiteout over nothing is absent', () =>
    withLayers(async (l) => {
      await file(path.join(l.lower[1], 'd/gone'));
      await whiteout(path.join(l.upper, 'd/gone'));
      await whiteout(path.join(l.upper, 'd/never'));
      await file(path.join(l.lower[1], 'w/inside/x'));
      await whiteout(path.join(l.upper, 'w'));
      const v = l.view();
      assert.deepEqual(await at(v, 'd/gone'), {
        path: 'd/gone',
        class: 'hidden',
        hiddenBy: { kind: 'whiteout', path: 'd/gone', layer: { role: 'upper', index: 0 } },
        from: { role: 'lower', index: 1, path: 'd/gone' },
        kind: 'file',
        upperBytes: 0,
        upperInode: (await inode(path.join(l.upper, 'd/gone'))),
      });
      assert.equal((await at(v, 'd/never')).class, 'absent');
      const deep = await at(v, 'w/inside/x');
      assert.equal(deep.class, 'hidden', 'beneath a whited-out directory');
      assert.deepEqual(deep.hiddenBy, { kind: 'whiteout', path: 'w', layer: { role: 'upper', index: 0 } });
    }));

  it('an opaque directory: itself copied-up (opaque), the lower entries beneath it hidden, its own upper', () =>
    withLayers(async (l) => {
      await file(path.join(l.lower[0], 'o/old'));
      await file(path.join(l.lower[0], 'o/kept'));
      await file(path.join(l.upper, 'o/kept'));
      await setAttr(path.join(l.upper, 'o'), 'trusted.overlay.opaque', 'y');
      const v = l.view();
      const o = await at(v, 'o');
      assert.equal(o.class, 'copied-up');
      assert.equal(o.opaque, true);
      assert.equal((await at(v, 'o/kept')).class, 'upper', 'the lower o/kept is not merged');
      const old = await at(v, 'o/old');
      assert.equal(old.class, 'hidden');
      assert.deepEqual(old.hiddenBy, { kind: 'opaque', path: 'o', layer: { role: 'upper', index: 0 } });
    }));

  it('a non-directory above a directory hides what is in it', () =>
    withLayers(async (l) => {
      await file(path.join(l.lower[0], 'bin/ls'));
      await fsp.symlink('usr/bin', path.join(l.upper, 'bin'));
      const w = await at(l.view(), 'bin/ls');
      assert.equal(w.class, 'hidden');
      assert.deepEqual(w.hiddenBy, { kind: 'non-directory', path: 'bin', layer: { role: 'upper', index: 0 } });
    }));

  it('whiteouts and opaque directories of lower layers count too', () =>
    withLayers(async (l) => {
      await file(path.join(l.lower[1], 'f'));
      await whiteout(path.join(l.lower[0], 'f'));
      await file(path.join(l.lower[1], 'd/x'));
      await dir(path.join(l.lower[0], 'd'));
      await setAttr(path.join(l.lower[0], 'd'), 'trusted.overlay.opaque', 'y');
      const v = l.view();
      assert.deepEqual((await at(v, 'f')).hiddenBy, { kind: 'whiteout', path: 'f', layer: { role: 'lower', index: 0 } });
      assert.deepEqual((await at(v, 'd/x')).hiddenBy, { kind: 'opaque', path: 'd', layer: { role: 'lower', index: 0 } });
    }));

  it('alternative whiteouts (an empty file marked overlay.whiteout) count only in a directory marked opaque=x', () =>
    withLayers(async (l) => {
      for (const d of ['x', 'plain']) {
        await file(path.join(l.lower[1], d, 'gone'));
        await file(path.join(l.lower[0], d, 'gone'), '');
        await setAttr(path.join(l.lower[0], d, 'gone'), 'trusted.overlay.whiteout', 'y');
      }
      await setAttr(path.join(l.lower[0], 'x'), 'trusted.overlay.opaque', 'x');
      const v = l.view();
      assert.equal((await at(v, 'x/gone')).class, 'hidden');
      assert.equal((await at(v, 'x')).opaque, undefined, "opaque=x is not opaque: the directory still merges");
      assert.deepEqual((await at(v, 'plain/gone')).from, { role: 'lower', index: 0, path: 'plain/gone' }, 'an ordinary empty file');
    }));

  it('redirects of renamed directories are followed (absolute and relative), unless redirect_dir=nofollow', () =>
    withLayers(async (l) => {
      await file(path.join(l.lower[1], 'old/f'), 'data');
      await file(path.join(l.lower[1], 'p/was/g'), 'data');
      await dir(path.join(l.upper, 'new'));
      await setAttr(path.join(l.upper, 'new'), 'trusted.overlay.redirect', '/old');
      await dir(path.join(l.upper, 'p/now'));
      await setAttr(path.join(l.upper, 'p/now'), 'trusted.overlay.redirect', 'was');
      await whiteout(path.join(l.upper, 'old'));
      const v = l.view();
      const f = await at(v, 'new/f');
      assert.equal(f.class, 'lower');
      assert.deepEqual(f.from, { role: 'lower', index: 1, path: 'old/f' });
      const n = await at(v, 'new');
      assert.equal(n.class, 'copied-up');
      assert.equal(n.redirect, '/old');
      assert.deepEqual(n.beneath, { role: 'lower', index: 1, path: 'old', kind: 'directory' });
      assert.deepEqual((await at(v, 'p/now/g')).from, { role: 'lower', index: 1, path: 'p/was/g' });
      assert.equal((await at(v, 'old/f')).class, 'hidden');
      const nofollow = l.view(features({ redirectDir: 'nofollow' }));
      assert.equal((await at(nofollow, 'new/f')).class, 'absent');
      assert.equal((await at(nofollow, 'new')).class, 'upper');
    }));

  it('metacopy files: metadata above, data below (their origin, or a data-only layer by absolute redirect)', () =>
    withLayers(async (l) => {
      await file(path.join(l.lower[0], 'm'), 'payload');
      await file(path.join(l.upper, 'm'), '', 0o600);
      await fsp.truncate(path.join(l.upper, 'm'), 7);
      await setAttr(path.join(l.upper, 'm'), 'trusted.overlay.metacopy', '');
      await file(path.join(l.data[0], 'blobs/ab12'), 'from the data layer');
      await file(path.join(l.lower[1], 'lib/x.so'), '');
      await fsp.truncate(path.join(l.lower[1], 'lib/x.so'), 19);
      await setAttr(path.join(l.lower[1], 'lib/x.so'), 'trusted.overlay.metacopy', '');
      await setAttr(path.join(l.lower[1], 'lib/x.so'), 'trusted.overlay.redirect', '/blobs/ab12');
      const v = l.view(features({ metacopy: true, redirectDir: 'on' }));
      const m = await at(v, 'm');
      assert.equal(m.class, 'copied-up');
      assert.equal(m.metacopy, true);
      assert.deepEqual(m.dataFrom, { role: 'lower', index: 0, path: 'm' });
      assert.deepEqual(m.differs, ['mode'], 'the data is the lower file itself: not read, not different');
      const x = await at(v, 'lib/x.so');
      assert.equal(x.class, 'lower');
      assert.deepEqual(x.dataFrom, { role: 'data', index: 0, path: 'blobs/ab12' });
      assert.equal((await at(v, 'blobs/ab12')).class, 'absent', 'data-only layers have no names in the merged view');
    }));

  it('userxattr: user.overlay.* marks count and trusted.overlay.* do not', () =>
    withLayers(async (l) => {
      await file(path.join(l.lower[0], 'u/a'));
      await file(path.join(l.lower[0], 't/a'));
      await dir(path.join(l.upper, 'u'));
      await dir(path.join(l.upper, 't'));
      await setAttr(path.join(l.upper, 'u'), 'user.overlay.opaque', 'y');
      await setAttr(path.join(l.upper, 't'), 'trusted.overlay.opaque', 'y');
      const user = l.view(features({ userxattr: true }));
      assert.equal((await at(user, 'u/a')).class, 'hidden');
      assert.equal((await at(user, 't/a')).class, 'lower');
      const trusted = l.view();
      assert.equal((await at(trusted, 'u/a')).class, 'lower');
      assert.equal((await at(trusted, 't/a')).class, 'hidden');
    }));

  it('a root inside the overlay: paths are asked relative to it', () =>
    withLayers(async (l) => {
      await file(path.join(l.lower[0], 'srv/chroot/etc/x'));
      await file(path.join(l.upper, 'srv/chroot/etc/y'));
      const v = l.view(features(), 'srv/chroot');
      assert.deepEqual((await at(v, 'etc/x')).from, { role: 'lower', index: 0, path: 'srv/chroot/etc/x' });
      assert.equal((await at(v, 'etc/y')).class, 'upper');
      assert.equal((await at(v, 'etc/y')).path, 'etc/y');
    }));

  it('the root itself, and many paths asked at once under the same folders', () =>
    withLayers(async (l) => {
      const names = Array.from({ length: 40 }, (_, i) => `usr/share/doc/p${i % 5}/f${i}`);
      for (const [i, n] of names.entries()) await file(path.join(i % 2 ? l.upper : l.lower[i % 3 === 0 ? 0 : 1], n));
      const v = l.view();
      const all = await Promise.all(names.map((n) => at(v, n)));
      assert.deepEqual(all.map((w) => w.class), names.map((_, i) => (i % 2 ? 'upper' : 'lower')));
      assert.equal((await at(v, '')).class, 'copied-up');
    }));
});

async function inode(p: string): Promise<string> {
  const st = await fsp.lstat(p);
  return `${st.dev}:${st.ino}`;
}
