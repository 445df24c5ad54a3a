import assert from 'node:assert/strict';
import { test } from 'node:test';
import { needs } from '../helpers/gate';
import { layerBytes, layerState } from '../helpers/layer-state';
import { cannotSquashfs } from '../helpers/overlay-stack';
import { withReconcileWorld } from '../helpers/reconcile-world';
import { assertSameTree, dbState, rootState } from '../helpers/root-state';
import { om, runCli } from '../helpers/run-cli';

/**
 * `overmerge overlay reconcile` on a real image update (helpers/reconcile-world.ts): the dry run lists
 * exactly what the scenario calls for and changes nothing; `--apply` changes the upper layer so that
 * mounting the new image with it shows the tree of a fresh v2 root plus the surviving upgrades and local
 * changes, with the same database and the same `verify`, and frees the bytes it said it would.
 */

const ADMIN = 'var/lib/overmerge';

interface Json {
  packages: Array<{ name: string; verdict: string; rows: string; upperVersion?: string; imageVersion?: string }>;
  removals: Array<{ path: string; reason: string; bytes: number }>;
  additions: Array<{ path: string; what: string }>;
  attributes: Array<{ path: string; attr: string; why: string }>;
  origins: Array<{ path: string; verdict: string; stripped: boolean }>;
  notes: Array<{ kind: string; path: string }>;
  lost: unknown[];
  database: { fromImage: string[]; kept: string[]; removed: string[]; disowned: unknown[] };
  reclaimedBytes: number;
  applied: boolean;
}

async function reconcile(argv: string[]): Promise<Json> {
  const r = await runCli(['--json', 'overlay', 'reconcile', ...argv]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Json;
}

const byReason = (j: Json): Record<string, string[]> => {
  const out: Record<string, string[]> = {};
  for (const r of j.removals) (out[r.reason] ??= []).push(r.path);
  return out;
};

/** The copied-up folders whose origin names an inode of v1 (mksquashfs numbers inodes anew in v2). */
const STALE_ORIGINS = ['opt', 'usr', 'usr/bin', 'usr/share', 'usr/share/gamma', 'var', 'var/lib', 'var/lib/overmerge', 'var/lib/overmerge/db.sqlite', 'var/lib/overmerge/lock', 'var/lib/overmerge/staging'];

test('overlay reconcile: dry run, --apply, and the new image with the reconciled upper is a fresh v2 plus what survived', { skip: needs({ mount: ['overlay', 'tmpfs'] }) || cannotSquashfs() }, async (t) => {
  await withReconcileWorld(async (w) => {
    const layers = ['--upper', w.upper, '--lower', w.lower];
    const before = await layerState(w.upper);
    const bytesBefore = await layerBytes(w.upper, [ADMIN]);

    const dry = await reconcile(layers);
    assert.deepEqual(await layerState(w.upper), before, 'the dry run changed the upper layer');
    assert.equal(dry.applied, false);
    assert.deepEqual(
      dry.packages.map((p) => `${p.name} ${p.verdict} ${p.rows}`),
      ['alpha image-newer image', 'delta dropped none', 'extra upper-only upper', 'gamma upper-newer upper', 'greet image-same image', 'hello image-same image', 'newpkg image-only image'],
    );
    assert.deepEqual(byReason(dry), {
      redundant: ['usr/bin/hello', 'usr/bin/hi', 'usr/share/alpha', 'usr/share/bug', 'usr/share/bug/hello', 'usr/share/doc', 'usr/share/doc/greet', 'usr/share/doc/greet/copyright', 'usr/share/doc/hello'],
      'package-file': ['usr/bin/alpha', 'usr/share/alpha/only2'],
      'empty-directory': ['usr/share/delta'],
      'dead-whiteout': ['usr/share/delta/notes', 'usr/share/doc/hello/README.old', 'usr/share/gamma/one'],
      restored: ['usr/bin/goodbye'],
    });
    assert.deepEqual(dry.additions.map((a) => `${a.what} ${a.path}`), ['whiteout usr/share/gamma/extra2', 'whiteout usr/share/gamma/two']);
    assert.deepEqual(dry.attributes, [{ path: 'opt/site', attr: 'opaque', why: 'nothing-beneath' }]);
    assert.deepEqual(dry.notes.map((n) => `${n.kind} ${n.path}`), ['modified-conffile etc/hello.conf']);
    assert.deepEqual(dry.origins.map((o) => `${o.path} ${o.verdict} ${o.stripped}`), STALE_ORIGINS.map((p) => `${p} stale false`));
    assert.deepEqual(dry.lost, []);
    assert.deepEqual(dry.database, { fromImage: ['alpha:all', 'greet:all', 'hello:all', 'newpkg:all'], kept: ['extra:all', 'gamma:all'], removed: ['delta:all'], disowned: [] });
    const text = await runCli(['overlay', 'reconcile', ...layers]);
    t.diagnostic(`the dry run as a person sees it:\n${text.stdout}`);

    const applied = await reconcile([...layers, '--apply', '--strip-origin']);
    assert.equal(applied.applied, true);
    assert.deepEqual(applied.removals, dry.removals, '--apply did what the dry run said');
    assert.deepEqual(applied.origins.map((o) => `${o.path} ${o.stripped}`), STALE_ORIGINS.map((p) => `${p} true`));
    assert.equal(bytesBefore - (await layerBytes(w.upper, [ADMIN])), dry.reclaimedBytes, 'the upper layer shrank by what was reclaimed');
    assert.ok(dry.reclaimedBytes >= 5 * 4096, `reclaimed ${dry.reclaimedBytes}`);
    const again = await reconcile(layers);
    assert.deepEqual([again.removals, again.additions, again.attributes, again.origins], [[], [], [], []], 'a second reconcile finds nothing to do');

    await w.withMerged(async (merged) => {
      assertSameTree(await rootState(merged), await rootState(w.reference), 'v2 + the reconciled upper against a fresh v2 with the upgrades');
      const [mine, theirs] = [await dbState(merged), await dbState(w.reference)];
      assert.deepEqual(mine.list, theirs.list, 'the packages');
      assert.deepEqual(mine.files, theirs.files, "the packages' files");
      const [v1, v2] = [await om(merged, ['verify']), await om(w.reference, ['verify'])];
      assert.deepEqual([v1.status, v1.stdout], [v2.status, v2.stdout], 'verify says the same on both (the modified conffile)');
      assert.equal(v1.stdout, '??5?????? c /etc/hello.conf\n');
      const history = (await om(merged, ['--json', 'history'])).stdout;
      const reconcileTxn = (JSON.parse(history) as Array<{ kind: string; changes: Array<{ name: string; action: string }> }>)[0];
      assert.equal(reconcileTxn.kind, 'reconcile');
      assert.deepEqual(reconcileTxn.changes.map((c) => `${c.action} ${c.name}`), ['upgrade alpha', 'remove delta', 'install newpkg']);
    }, ['index=on']);
  });
});

test('overlay reconcile refuses layers in use and a missing folder, with one line', { skip: needs({ mount: ['overlay', 'tmpfs'] }) || cannotSquashfs() }, async () => {
  await withReconcileWorld(async (w) => {
    await w.withMerged(async (merged) => {
      const r = await runCli(['overlay', 'reconcile', '--upper', w.upper, '--lower', w.lower]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^overmerge: .*is a layer of the overlay mounted at .*\(unmount .* first/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      void merged;
    });
    const missing = await runCli(['overlay', 'reconcile', '--upper', `${w.upper}-nowhere`, '--lower', w.lower]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^overmerge: cannot open --upper folder/);
    const usage = await runCli(['overlay', 'reconcile', '--upper', w.upper]);
    assert.equal(usage.status, 2);
    const db = await runCli(['--db', `${w.upper}.sqlite`, 'overlay', 'reconcile', '--upper', w.upper, '--lower', w.lower]);
    assert.equal(db.status, 2, 'the databases are in the layers: --db does not apply');
  });
});
