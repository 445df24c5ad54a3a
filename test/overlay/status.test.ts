import assert from 'node:assert/strict';
import { promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as xattr from 'fs-xattr';
import { mountOfRoot, reachLayers } from '../../src/overlay/layers';
import { OverlayView } from '../../src/overlay/where';
import type { RootPath } from '../../src/fs/rootpath';
import { buildAdHocDeb, buildFixtureDebs } from '../helpers/fixtures';
import { withTempDir } from '../helpers/temp';
import { needs } from '../helpers/gate';
import { withOverlay } from '../helpers/mounts';
import { cannotSquashfs, withOverlayStack, type LowerFormat, type Stack } from '../helpers/overlay-stack';
import { runCli, spawnCli } from '../helpers/run-cli';

/**
 * `overmerge overlay status` on real overlay mounts: packages installed into the lower layer, changed
 * through the merged view the way people change a live system (a file edited, one merely opened for
 * writing, one chmod'ed, one deleted, a directory replaced), another package installed on top; then every
 * installed path's class is checked against a walk of the layer folders done here, independently, and
 * against what the merged view shows.
 */

interface JsonWhere {
  path: string;
  class: string;
  kind?: string;
  same?: boolean;
  differs?: string[];
  upperBytes: number;
  upperInode?: string;
  metacopy?: boolean;
  opaque?: boolean;
  from?: { role: string; index: number; path: string };
  dataFrom?: { role: string; index: number; path: string };
  hiddenBy?: { kind: string; path: string };
}

interface JsonReport {
  overlay: { features: Record<string, { value: unknown; source: string }>; layers: { upper: { path: string }; lower: Array<{ path: string }> } };
  packages: Array<{ name: string; version: string; files: JsonWhere[]; upperBytes: number; counts: Record<string, number> }>;
  database: JsonWhere[];
  totals: { upperBytes: number; files: number };
}

/** bin/overmerge in a process of its own: the installs, as a person runs them. */
async function cli(args: string[]): Promise<string> {
  const r = await spawnCli(args);
  assert.equal(r.status, 0, `overmerge ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The same CLI in this process (main() with buffers): quicker, for the reports read many times. */
async function status(args: string[]): Promise<string> {
  const r = await runCli(args);
  assert.equal(r.status, 0, `overmerge ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function lstat(p: string): Promise<Stats | undefined> {
  return fsp.lstat(p).catch(() => undefined);
}

const isWhiteout = (st: Stats | undefined): boolean => !!st && st.isCharacterDevice() && st.rdev === 0;

async function opaque(p: string, prefix: string): Promise<boolean> {
  return (await xattr.getAttribute(p, `${prefix}opaque`).catch(() => undefined))?.toString() === 'y';
}

/**
 * The class of `p` by walking one upper and one lower folder directly (no redirects, one lower layer):
 * the test's own reading of overlayfs' rules, written apart from where.ts.
 */
async function expectedClass(upper: string, lower: string, p: string, prefix: string): Promise<string> {
  const parts = p === '/.' ? [] : p.slice(1).split('/');
  const inLower = async (): Promise<boolean> => (await lstat(path.join(lower, ...parts))) !== undefined;
  let opaqueAbove = false;
  for (let i = 1; i < parts.length; i++) {
    const a = path.join(upper, ...parts.slice(0, i));
    const st = await lstat(a);
    if (!st) continue;
    if (isWhiteout(st) || !st.isDirectory()) return (await inLower()) ? 'hidden' : 'absent';
    if (await opaque(a, prefix)) opaqueAbove = true;
  }
  const up = await lstat(path.join(upper, ...parts));
  if (isWhiteout(up)) return (await inLower()) ? 'hidden' : 'absent';
  const lo = !opaqueAbove && (await inLower());
  if (up) return lo ? 'copied-up' : 'upper';
  if (opaqueAbove) return (await inLower()) ? 'hidden' : 'absent';
  return lo ? 'lower' : 'absent';
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  return (await fsp.readFile(a)).equals(await fsp.readFile(b));
}

/** Checks every path of every package against the folders and the merged view; returns them by path. */
async function checkAgainstLayers(s: Stack, report: JsonReport, prefix: string): Promise<Map<string, JsonWhere>> {
  const byPath = new Map<string, JsonWhere>();
  let upperBytes = 0;
  const seen = new Set<string>();
  for (const pkg of report.packages) {
    for (const w of pkg.files) {
      byPath.set(w.path, w);
      assert.equal(w.class, await expectedClass(s.upper, s.lowers[0], w.path, prefix), `${pkg.name} ${w.path}`);
      const rel = w.path === '/.' ? '' : w.path.slice(1);
      const merged = await lstat(path.join(s.merged, rel));
      const visible = w.class === 'lower' || w.class === 'copied-up' || w.class === 'upper';
      assert.equal(merged !== undefined, visible, `${w.path}: the merged view ${merged ? 'shows' : 'does not show'} it`);
      const upperSt = await lstat(path.join(s.upper, rel));
      if (visible && merged!.isFile()) {
        const layer = w.class === 'lower' ? s.lowers[0] : s.upper;
        assert.ok(await sameBytes(path.join(s.merged, rel), path.join(layer, rel)), `${w.path}: the merged view shows the ${w.class} content`);
      }
      if (w.class === 'copied-up' && upperSt!.isFile()) {
        const lowerSt = (await lstat(path.join(s.lowers[0], rel)))!;
        const same = (await sameBytes(path.join(s.upper, rel), path.join(s.lowers[0], rel))) && upperSt!.mode === lowerSt.mode && upperSt!.uid === lowerSt.uid;
        assert.equal(w.same, same, `${w.path}: same`);
      }
      assert.equal(w.upperBytes, upperSt ? upperSt.blocks * 512 : 0, `${w.path}: bytes in the upper layer`);
      if (upperSt && !upperSt.isDirectory() && !seen.has(`${upperSt.ino}`)) {
        seen.add(`${upperSt.ino}`);
        upperBytes += upperSt.blocks * 512;
      }
    }
  }
  assert.equal(report.totals.upperBytes, upperBytes, 'the total counts each upper inode of the packages once, directories left out');
  return byPath;
}

/** Changes through the merged view, as a person would on a live system. */
async function changeThroughMergedView(merged: string): Promise<void> {
  await fsp.appendFile(path.join(merged, 'etc/hello.conf'), 'local = yes\n');
  await (await fsp.open(path.join(merged, 'usr/share/doc/hello/copyright'), 'r+')).close();
  await fsp.chmod(path.join(merged, 'usr/bin/hello'), 0o700);
  await fsp.rm(path.join(merged, 'usr/share/doc/hello/README.old'));
  await fsp.rm(path.join(merged, 'usr/share/bug/hello'), { recursive: true });
  await fsp.mkdir(path.join(merged, 'usr/share/bug/hello'));
  await fsp.writeFile(path.join(merged, 'usr/share/bug/hello/control'), 'Send-To: someone else\n');
}

async function scenario(format: LowerFormat, options: string[] = [], show?: (text: string) => void): Promise<void> {
  await withTempDir('overlay-status', async (work) => {
    const debs = await buildFixtureDebs(work);
    const extra = await buildAdHocDeb(work, {
      name: 'extra',
      version: '1',
      entries: [
        { path: 'usr/share/extra/data', type: 'file', content: 'x'.repeat(5000) },
        { path: 'usr/bin/extra', type: 'symlink', target: 'goodbye' },
      ],
    });
    const lower = async (dir: string): Promise<void> => {
      await cli(['--root', dir, 'install', debs['hello-1.0'], debs['greet-1.0']]);
    };
    await withOverlayStack({ lowers: [{ build: lower, format }], options }, async (s) => {
      await changeThroughMergedView(s.merged);
      await cli(['--root', s.merged, 'install', extra]);
      const report = JSON.parse(await status(['--root', s.merged, '--json', 'overlay', 'status'])) as JsonReport;
      const prefix = options.includes('userxattr') ? 'user.overlay.' : 'trusted.overlay.';
      assert.deepEqual(report.packages.map((p) => p.name).sort(), ['extra', 'greet', 'hello']);
      const w = await checkAgainstLayers(s, report, prefix);
      // The cases the changes made, so the comparison above is not vacuous.
      assert.deepEqual([w.get('/etc/hello.conf')?.class, w.get('/etc/hello.conf')?.differs], ['copied-up', ['size', 'content']]);
      assert.deepEqual([w.get('/usr/share/doc/hello/copyright')?.class, w.get('/usr/share/doc/hello/copyright')?.same], ['copied-up', true]);
      assert.deepEqual(w.get('/usr/bin/hello')?.differs, ['mode']);
      assert.deepEqual(w.get('/usr/share/doc/hello/README.old')?.hiddenBy?.kind, 'whiteout');
      assert.equal(w.get('/usr/share/bug/hello')?.opaque, true);
      assert.equal(w.get('/usr/share/bug/hello/control')?.class, 'upper');
      assert.deepEqual(w.get('/usr/share/bug/hello/script')?.hiddenBy, { kind: 'opaque', path: '/usr/share/bug/hello', layer: { role: 'upper', index: 0 } });
      assert.equal(w.get('/usr/share/extra/data')?.class, 'upper');
      assert.equal(w.get('/usr/bin/extra')?.kind, 'symlink');
      assert.equal(w.get('/usr/share/extra')?.class, 'upper');
      assert.deepEqual(w.get('/usr/bin/goodbye')?.from, { role: 'lower', index: 0, path: '/usr/bin/goodbye' });
      assert.deepEqual(report.database.map((d) => [d.path, d.class]).slice(0, 1), [['/var/lib/overmerge/db.sqlite', 'copied-up']]);
      const sorted = report.packages.map((p) => p.upperBytes);
      assert.deepEqual(sorted, [...sorted].sort((a, b) => b - a), 'largest first');

      show?.(await status(['--root', s.merged, 'overlay', 'status']));
      const text = await status(['--root', s.merged, 'overlay', 'status', 'hello']);
      assert.match(text, /^overlay: /);
      assert.match(text, new RegExp(`upper layer +${s.upper}`));
      assert.match(text, /\n {2}copied-up, differs: size,content +\/etc\/hello\.conf +4\.0 KiB\n/);
      assert.match(text, /\n {2}hidden by a whiteout +\/usr\/share\/doc\/hello\/README\.old\n/);
      assert.match(text, /\n {2}hidden by opaque directory \/usr\/share\/bug\/hello +\/usr\/share\/bug\/hello\/script\n/);
      assert.match(text, /\nhello +1\.0-1 +\d+ /);
      assert.doesNotMatch(text, /\n(greet|extra) /, 'only the packages named');
    });
  });
}

describe('overmerge overlay status on real overlay mounts', { skip: needs({ mount: 'overlay' }) }, () => {
  it('a plain folder below, a tmpfs upper: every installed path classified as the layers and the merged view say', () => scenario('dir'));

  it('a squashfs image below, loop-mounted read-only', { skip: cannotSquashfs() ?? false }, (t) =>
    scenario('squashfs', [], (text) => t.diagnostic(`overlay status as a person sees it:\n${text}`)));

  it('userxattr: opaque directories marked in user.overlay.*', () => scenario('dir', ['userxattr']));

  it('metacopy and redirect_dir over two lower layers: data below metadata, a renamed directory followed', async () => {
    await withTempDir('overlay-meta', async (work) => {
      const debs = await buildFixtureDebs(work);
      const bottom = (dir: string): Promise<void> => cli(['--root', dir, 'install', debs['hello-1.0']]).then(() => undefined);
      const top = async (dir: string): Promise<void> => {
        await fsp.mkdir(path.join(dir, 'usr/share/doc/hello'), { recursive: true });
        await fsp.writeFile(path.join(dir, 'usr/share/doc/hello/copyright'), 'a newer copyright\n');
      };
      const lowers = [{ build: top }, { build: bottom, format: 'squashfs' as const }];
      const squash = cannotSquashfs();
      if (squash) lowers[1] = { build: bottom };
      await withOverlayStack({ lowers, options: ['metacopy=on', 'redirect_dir=on'] }, async (s) => {
        await fsp.chmod(path.join(s.merged, 'usr/bin/hello'), 0o700);
        await fsp.rename(path.join(s.merged, 'usr/share/bug/hello'), path.join(s.merged, 'usr/share/bug/hello.moved'));
        const report = JSON.parse(await status(['--root', s.merged, '--json', 'overlay', 'status', 'hello'])) as JsonReport;
        assert.deepEqual([report.overlay.features.metacopy, report.overlay.features.redirectDir], [
          { value: true, source: 'mountinfo' },
          { value: 'on', source: 'mountinfo' },
        ]);
        const w = new Map(report.packages[0].files.map((f) => [f.path, f]));
        const hello = w.get('/usr/bin/hello')!;
        assert.deepEqual([hello.class, hello.metacopy, hello.differs, hello.dataFrom], ['copied-up', true, ['mode'], { role: 'lower', index: 1, path: '/usr/bin/hello' }]);
        assert.ok(hello.upperBytes < 4096, 'a metacopy file holds no data in the upper layer');
        assert.deepEqual(w.get('/usr/share/doc/hello/copyright')?.from, { role: 'lower', index: 0, path: '/usr/share/doc/hello/copyright' });
        assert.deepEqual(w.get('/usr/share/doc/hello/README.old')?.from, { role: 'lower', index: 1, path: '/usr/share/doc/hello/README.old' });
        assert.deepEqual(w.get('/usr/share/bug/hello/script')?.hiddenBy, { kind: 'whiteout', path: '/usr/share/bug/hello', layer: { role: 'upper', index: 0 } });
        // The moved directory is no package's; ask the view directly.
        const m = await mountOfRoot(s.merged);
        assert.equal(m.kind, 'overlay');
        if (m.kind !== 'overlay') return;
        const view = new OverlayView(await reachLayers(m.overlay), m.overlay.options.features);
        const moved = await view.where('usr/share/bug/hello.moved/script' as RootPath);
        assert.deepEqual([moved.class, moved.from], ['lower', { role: 'lower', index: 1, path: 'usr/share/bug/hello/script' }]);
        // A rename within one folder records the old name alone (a relative redirect).
        assert.equal((await view.where('usr/share/bug/hello.moved' as RootPath)).redirect, 'hello');
        assert.ok(await sameBytes(path.join(s.merged, 'usr/share/bug/hello.moved/script'), path.join(s.sources[1], 'usr/share/bug/hello/script')));
      });
    });
  });

  it('mountinfo of a real mount: layers, the root inside the overlay, index, xino, nfs_export, volatile', async () => {
    await withOverlayStack(
      { lowers: [{ build: async (d) => void (await fsp.mkdir(path.join(d, 'srv/chroot'), { recursive: true })) }, { build: async () => {} }], options: ['index=on', 'nfs_export=on', 'xino=on', 'volatile'] },
      async (s) => {
        const m = await mountOfRoot(path.join(s.merged, 'srv/chroot'));
        assert.equal(m.kind, 'overlay');
        if (m.kind !== 'overlay') return;
        const o = m.overlay;
        assert.deepEqual(o.options.layers, { lower: s.lowers, data: [], upper: s.upper, work: s.work });
        assert.equal(o.mountPoint, s.merged);
        assert.equal(o.rootOffset, 'srv/chroot');
        const f = o.options.features;
        assert.deepEqual([f.index.value, f.nfsExport.value, f.volatile.value], [true, true, true]);
        assert.equal(f.volatile.source, 'mountinfo', 'printed as volatile, or as fsync=volatile since Linux 6.18');
        const layers = await reachLayers(o);
        assert.ok(layers.upper?.reachable && layers.lower.every((l) => l.reachable));
        // xino is printed only when the layers are not all on one filesystem (the upper is a tmpfs here).
        assert.equal(layers.sameFilesystem, false);
        assert.equal(f.xino.value, 'on');
        assert.equal(o.defaultsFrom, 'sysfs');
      },
    );
  });

  it('all layers on one filesystem: reported, and xino is not printed', async () => {
    await withOverlay(async (o) => {
      const m = await mountOfRoot(o.merged);
      if (m.kind !== 'overlay') assert.fail('not an overlay');
      const layers = await reachLayers(m.overlay);
      assert.equal(layers.sameFilesystem, true);
      assert.equal(m.overlay.options.features.xino.source, 'default');
    });
  });

  it('an upper path that leads somewhere else from here is reported unreachable, and status refuses in one line', async () => {
    await withOverlayStack({ lowers: [{ build: async () => {} }] }, async (s) => {
      const m = await mountOfRoot(s.merged);
      if (m.kind !== 'overlay') assert.fail('not an overlay');
      const elsewhere = { ...m.overlay, options: { ...m.overlay.options, layers: { ...m.overlay.options.layers, upper: s.sources[0] } } };
      const layers = await reachLayers(elsewhere);
      assert.equal(layers.upper?.reachable, false);
      assert.match(layers.upper?.why ?? '', /another filesystem/);
      const gone = await reachLayers({ ...m.overlay, options: { ...m.overlay.options, layers: { ...m.overlay.options.layers, lower: ['/nonexistent/lower'] } } });
      assert.match(gone.lower[0].why ?? '', /no such folder in this mount namespace/);
    });
  });
});

describe('overmerge overlay status on a root that is not an overlay', () => {
  it('says so in one line and exits 1', async () => {
    await withTempDir('overlay-not', async (dir) => {
      const r = await spawnCli(['--root', dir, 'overlay', 'status']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^overmerge: \S+ is not on an overlay mount: it is on \S+ \(.*\) mounted at \S+ \(--root names the merged folder of an overlayfs mount\)\n$/);
      assert.equal(r.stdout, '');
    });
  });

  it('overlay alone is a usage error naming its subcommands', async () => {
    const r = await spawnCli(['overlay']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /name a subcommand of overlay/);
  });
});

