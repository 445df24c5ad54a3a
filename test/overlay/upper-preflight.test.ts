import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { seededRandom } from '../../fixtures/random';
import { buildAdHocDeb, type AdHocEntry } from '../helpers/fixtures';
import { needs } from '../helpers/gate';
import { layerState } from '../helpers/layer-state';
import { assertSameTree, rootState } from '../helpers/root-state';
import { withOverlayStack, type Stack } from '../helpers/overlay-stack';
import { om } from '../helpers/run-cli';
import { makeTempDir, withTempDir } from '../helpers/temp';

/**
 * The upper-space pre-flight on real overlays whose upper layer is a small tmpfs: the lower layer is a
 * Debian-like root (dpkg's database and overmerge's) with packages installed into it; the command runs on
 * the merged root. A transaction that cannot fit is refused before anything changes; one that fits runs;
 * and the estimate (`--dry-run --json`) is set against what the upper layer's filesystem really took.
 */

const MiB = 1024 * 1024;

/** `count` files of `each` bytes of incompressible-looking text under usr/share/NAME/SUB (seeded: v1 and v2 differ). */
function files(name: string, sub: string, count: number, each: number, seed: number): AdHocEntry[] {
  const rnd = seededRandom(seed);
  const out: AdHocEntry[] = [];
  for (let i = 0; i < count; i++) {
    let content = '';
    while (content.length < each) content += Math.floor(rnd() * 2 ** 52).toString(36);
    out.push({ path: `usr/share/${name}/${sub}/f${String(i).padStart(2, '0')}`, type: 'file', content: content.slice(0, each) });
  }
  return out;
}

interface Debs {
  grow1: string;
  grow2: string;
  fresh: string;
  up1: string;
  up2: string;
  dirf1: string;
  dirf2: string;
  gone: string;
}

async function buildDebs(work: string): Promise<Debs> {
  const deb = (name: string, version: string, entries: AdHocEntry[]) => buildAdHocDeb(work, { name, version, entries });
  // A preinst that fills 3.5 MiB of the root on upgrade (the old version's postrm abort-upgrade takes it back).
  const scripts = {
    preinst: '#!/bin/sh\nset -e\nif [ "$1" = upgrade ]; then head -c 3670016 /dev/zero > "$DPKG_ROOT/var/tmp/grow-fill"; fi\n',
    postrm: '#!/bin/sh\nset -e\nif [ "$1" = abort-upgrade ]; then rm -f "$DPKG_ROOT/var/tmp/grow-fill"; fi\n',
  };
  const grow = (version: string, seed: number) =>
    buildAdHocDeb(work, { name: 'grow', version, entries: files('grow', 'data', 8, 128 * 1024, seed), controlMembers: scripts });
  return {
    grow1: await grow('1.0', 6),
    grow2: await grow('2.0', 7),
    fresh: await deb('fresh', '1.0', files('fresh', 'data', 24, 128 * 1024, 1)),
    up1: await deb('up', '1.0', files('up', 'data', 24, 128 * 1024, 2)),
    up2: await deb('up', '2.0', files('up', 'data', 24, 128 * 1024, 3)),
    dirf1: await deb('dirf', '1.0', [...files('dirf', 'tree', 16, 128 * 1024, 4), { path: 'usr/share/dirf/keep', type: 'file', content: 'kept\n' }]),
    dirf2: await deb('dirf', '2.0', [
      { path: 'usr/share/dirf/tree', type: 'file', content: 'the tree is a file now\n' },
      { path: 'usr/share/dirf/keep', type: 'file', content: 'kept\n' },
    ]),
    gone: await deb('gone', '1.0', files('gone', 'data', 24, 128 * 1024, 5)),
  };
}

/** A Debian-like lower layer: dpkg's database (empty status) and the given archives installed by overmerge. */
function lowerWith(archives: readonly string[]): (dir: string) => Promise<void> {
  return async (dir) => {
    await fsp.mkdir(path.join(dir, 'var/lib/dpkg/info'), { recursive: true });
    await fsp.mkdir(path.join(dir, 'var/lib/dpkg/updates'), { recursive: true });
    await fsp.writeFile(path.join(dir, 'var/lib/dpkg/status'), '');
    await fsp.mkdir(path.join(dir, 'var/tmp'), { recursive: true });
    for (const a of archives) {
      const r = await om(dir, ['--quiet', '--scripts=chrootless', 'install', a], { spawn: true });
      assert.equal(r.status, 0, r.stderr);
    }
  };
}

/** Bytes in use on the upper layer's filesystem (df): the tmpfs holding the upper and work folders. */
async function used(s: Stack): Promise<number> {
  const st = await fsp.statfs(s.upper);
  return (Number(st.blocks) - Number(st.bfree)) * Number(st.bsize);
}

interface DryUpper {
  kind: string;
  bytes: number;
  need: number;
  room: number;
  items: Array<{ path: string; cause: string; bytes: number }>;
}

/** The dry run's estimate (JSON). The dry run opens the databases as the command will (their copy-up happens here). */
async function estimate(s: Stack, argv: string[]): Promise<DryUpper> {
  const r = await om(s.merged, ['--json', ...argv, '--dry-run'], { spawn: true });
  const out = JSON.parse(r.stdout) as { upper: DryUpper[] };
  assert.equal(out.upper.length, 1);
  assert.equal(out.upper[0].kind, 'overlay');
  return out.upper[0];
}

/**
 * The estimate set against the upper layer's growth: after the command, and with --keep-backups on a twin
 * overlay over the same lower layer — every backup the transaction made is kept then, so its growth is the
 * transaction's peak (the moment before the finish phase lets the backups go). Returns the ratios.
 */
async function measureAgainst(t: TestContext, what: string, lower: (dir: string) => Promise<void>, argv: string[]): Promise<void> {
  const run = async (keep: boolean): Promise<{ est: DryUpper; grew: number }> =>
    withOverlayStack({ lowers: [{ build: lower }], upperSizeBytes: 32 * MiB }, async (s) => {
      const est = await estimate(s, argv);
      const before = await used(s);
      const r = await om(s.merged, ['--quiet', ...argv, ...(keep ? ['--keep-backups'] : [])], { spawn: true });
      assert.equal(r.status, 0, r.stderr);
      return { est, grew: (await used(s)) - before };
    });
  const plain = await run(false);
  const kept = await run(true);
  assert.equal(kept.est.bytes, plain.est.bytes, 'the same plan on twin overlays');
  const e = plain.est.bytes;
  const peak = Math.max(kept.grew, plain.grew);
  const causes = plain.est.items.reduce<Record<string, number>>((m, i) => ({ ...m, [i.cause]: (m[i.cause] ?? 0) + i.bytes }), {});
  t.diagnostic(
    `${what}: estimate ${e} bytes ${JSON.stringify(causes)}; upper grew ${plain.grew} (after), ${kept.grew} (backups kept: the peak); ` +
      `estimate/peak ${(e / peak).toFixed(2)}, estimate/after ${(e / Math.max(plain.grew, 1)).toFixed(2)}`,
  );
  assert.ok(e >= plain.grew, `${what}: estimate ${e} covers the growth after ${plain.grew}`);
  assert.ok(e >= peak, `${what}: estimate ${e} covers the peak ${peak}`);
  // Not absurdly above: the databases' generous fixed share (a few hundred KiB) aside, within a quarter.
  assert.ok(e <= 1.25 * peak + 512 * 1024, `${what}: estimate ${e} is not absurdly above the peak ${peak}`);
}

/** Each installed package's version, from `overmerge list --json`. */
async function versions(root: string): Promise<Record<string, string>> {
  const r = await om(root, ['--json', 'list'], { spawn: true });
  assert.equal(r.status, 0, r.stderr);
  return Object.fromEntries((JSON.parse(r.stdout) as Array<{ name: string; version: string }>).map((p) => [p.name, p.version]));
}

describe('upper-space pre-flight on overlay roots', { skip: needs({ mount: ['overlay', 'tmpfs'] }) }, () => {
  let work = '';
  let debs: Debs;
  before(async () => {
    work = await makeTempDir('preflight');
    debs = await buildDebs(work);
  });
  after(async () => {
    if (work !== '') await fsp.rm(work, { recursive: true, force: true });
  });

  it('refuses an upgrade whose copy-ups do not fit, before anything changes: upper layer and both databases byte-identical', async (t) => {
    {
      // 3 MiB of new files fit in 5 MiB; the 3 MiB of lower-layer files they replace are copied up first (backups).
      await withOverlayStack({ lowers: [{ build: lowerWith([debs.up1]) }], upperSizeBytes: 5 * MiB }, async (s) => {
        const dry = await estimate(s, ['install', debs.up2]);
        assert.ok(dry.need > dry.room, `the estimate ${dry.need} exceeds the room ${dry.room}`);
        const before = await layerState(s.upper);
        const dpkgBefore = await layerState(path.join(s.merged, 'var/lib/dpkg'));
        const r = await om(s.merged, ['install', debs.up2], { spawn: true });
        assert.equal(r.status, 1, r.stderr);
        const lines = r.stderr.trimEnd().split('\n');
        assert.equal(lines.length, 1, r.stderr);
        t.diagnostic(lines[0]);
        assert.match(
          lines[0],
          /^overmerge: not enough space in the overlay's upper layer .*\/upper: the transaction needs \d+\.\d MiB \(\d+ bytes\) there, \d+\.\d MiB \(\d+ bytes\) free \(.*copy-ups.*\); nothing was changed/,
        );
        assert.deepEqual(await layerState(s.upper), before, 'the upper layer (overmerge database included) is byte-identical');
        assert.deepEqual(await layerState(path.join(s.merged, 'var/lib/dpkg')), dpkgBefore, "dpkg's database is byte-identical");
        assert.deepEqual(await versions(s.merged), { up: '1.0' });
      });
    }
  });

  it('refuses a removal whose backups (copy-ups of lower files) do not fit; with room the same removal runs', async () => {
    {
      await withOverlayStack({ lowers: [{ build: lowerWith([debs.gone]) }], upperSizeBytes: 2 * MiB }, async (s) => {
        await estimate(s, ['remove', 'gone']);
        const before = await layerState(s.upper);
        const r = await om(s.merged, ['remove', 'gone'], { spawn: true });
        assert.equal(r.status, 1);
        assert.match(r.stderr, /^overmerge: not enough space in the overlay's upper layer .*: the transaction needs .* free \(copy-ups 3\.0 MiB.*\); nothing was changed/);
        assert.deepEqual(await layerState(s.upper), before);
      });
      await withOverlayStack({ lowers: [{ build: lowerWith([debs.gone]) }], upperSizeBytes: 8 * MiB }, async (s) => {
        const r = await om(s.merged, ['remove', 'gone'], { spawn: true });
        assert.equal(r.status, 0, r.stderr);
        await assert.rejects(fsp.access(path.join(s.merged, 'usr/share/gone/data/f00')));
      });
    }
  });

  it("measures the real plan again after the preinsts: one that filled the upper layer refuses the transaction, rolled back", async () => {
    // The preview (1 MiB staged, 1 MiB copied up) fits in 5 MiB; the preinst then writes 3.5 MiB of its own.
    await withOverlayStack({ lowers: [{ build: lowerWith([debs.grow1]) }], upperSizeBytes: 5 * MiB }, async (s) => {
      const dry = await estimate(s, ['--scripts=chrootless', 'install', debs.grow2]);
      assert.ok(dry.need <= dry.room, `the preview fits: ${dry.need} of ${dry.room}`);
      // dpkg's status is checkpointed after the roll-back (its update entries folded in): same text, new file.
      const withoutStatus = async () => {
        const t = await rootState(s.merged);
        return { ...t, entries: t.entries.filter((e) => !/^var\/lib\/dpkg\/status(-old)?$/.test(e.path)) };
      };
      const before = await withoutStatus();
      const statusBefore = await fsp.readFile(path.join(s.merged, 'var/lib/dpkg/status'), 'utf8');
      const r = await om(s.merged, ['--scripts=chrootless', 'install', debs.grow2], { spawn: true });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^overmerge: not enough space in the overlay's upper layer .*: the transaction needs .* free \(.*\); nothing was changed/m);
      assertSameTree(await withoutStatus(), before, 'rolled back (the postrm abort-upgrade took the fill away)');
      assert.equal(await fsp.readFile(path.join(s.merged, 'var/lib/dpkg/status'), 'utf8'), statusBefore);
      assert.deepEqual(await fsp.readdir(path.join(s.merged, 'var/lib/overmerge/staging')), [], 'no staging left');
      assert.deepEqual(await versions(s.merged), { grow: '1.0' });
    });
  });

  it('lets the same upgrade run when the upper layer has room for it', async () => {
    {
      await withOverlayStack({ lowers: [{ build: lowerWith([debs.up1]) }], upperSizeBytes: 12 * MiB }, async (s) => {
        const r = await om(s.merged, ['install', debs.up2], { spawn: true });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(await versions(s.merged), { up: '2.0' });
      });
    }
  });

  it('estimates no less than the upper layer takes, and not absurdly more: new files, upgrade, directory to file, removal', async (t) => {
    {
      await measureAgainst(t, 'new files', lowerWith([]), ['install', debs.fresh]);
      await measureAgainst(t, 'upgrade of lower files', lowerWith([debs.up1]), ['install', debs.up2]);
      await measureAgainst(t, 'directory to file (EXDEV copy-aside)', lowerWith([debs.dirf1]), ['install', debs.dirf2]);
      await measureAgainst(t, 'removal (whiteouts)', lowerWith([debs.gone]), ['remove', 'gone']);
    }
  });

  it('--dry-run prints the estimate on an overlay root (staging counted where it lies), and says when the root is not one', async () => {
    {
      await withOverlayStack({ lowers: [{ build: lowerWith([debs.dirf1]) }], upperSizeBytes: 16 * MiB }, async (s) => {
        const before = await rootState(s.merged);
        const r = await om(s.merged, ['install', debs.dirf2, '--dry-run'], { spawn: true });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^would upgrade dirf:all 1\.0 -> 2\.0$/m);
        assert.match(r.stdout, /^dry run: \d+ filesystem steps planned, nothing changed$/m);
        assert.match(r.stdout, /^upper layer .*\/upper: this transaction writes about \d+\.\d (KiB|MiB) \(\d+ bytes\) and \d+ inodes there/m);
        assert.match(r.stdout, /^upper layer free: \d+\.\d MiB \(\d+ bytes\) \(reserved blocks/m);
        assert.match(r.stdout, /^ {2}by cause: .*directories copied aside 2\.0 MiB/m);
        assert.match(r.stdout, /^upper layer: enough room$/m);
        assertSameTree(await rootState(s.merged), before, 'a dry run changes nothing in the root');
        // The upper layer holds only what opening the databases (under their locks) copied up.
        const upper = Object.keys(await layerState(s.upper)).filter((p) => !['.', 'var', 'var/lib'].includes(p));
        assert.deepEqual(upper.filter((p) => !/^var\/lib\/(overmerge|dpkg)(\/|$)/.test(p)), []);
        assert.deepEqual(await versions(s.merged), { dirf: '1.0' });
      });
      // Staging elsewhere costs the upper layer the placed files only; staging on its filesystem (outside the
      // overlay) costs the staged files and their copies.
      await withOverlayStack({ lowers: [{ build: lowerWith([]) }], upperSizeBytes: 16 * MiB }, async (s) => {
        const causes = async (staging: string): Promise<Record<string, number>> => {
          const r = await om(s.merged, ['--json', '--staging', staging, 'install', debs.fresh, '--dry-run'], { spawn: true });
          assert.equal(r.status, 0, r.stderr);
          const items = (JSON.parse(r.stdout) as { upper: DryUpper[] }).upper[0].items;
          return items.reduce<Record<string, number>>((m, i) => ({ ...m, [i.cause]: (m[i.cause] ?? 0) + i.bytes }), {});
        };
        const elsewhere = await causes(path.join(work, 'staging'));
        assert.deepEqual([elsewhere['new-file'], elsewhere['staged-file']], [3 * MiB, undefined]);
        const beside = await causes(path.join(path.dirname(s.upper), 'staging'));
        assert.deepEqual([beside['new-file'], beside['staged-file']], [3 * MiB, 3 * MiB]);
        const inRoot = await causes(path.join(s.merged, 'var/lib/overmerge/staging'));
        assert.deepEqual([inRoot['new-file'], inRoot['staged-file']], [undefined, 3 * MiB]);
      });
      await withTempDir('plain-root', async (root) => {
        const r = await om(root, ['install', debs.fresh, '--dry-run'], { spawn: true });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^would install fresh:all 1\.0$/m);
        assert.match(r.stdout, /^upper layer: not an overlay root \(no upper-layer estimate\)$/m);
        await assert.rejects(fsp.access(path.join(root, 'usr/share/fresh')));
      });
    }
  });
});
