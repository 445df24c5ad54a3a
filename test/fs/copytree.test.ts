import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, type BigIntStats } from 'node:fs';
import * as path from 'node:path';
import * as net from 'node:net';
import { once } from 'node:events';
import * as xattr from 'fs-xattr';
import { copyTree } from '../../src/fs/copytree';
import { OvermergeError } from '../../src/errors';
import { buildRichTree, diffSnapshots, snapshotTree } from '../helpers/tree';
import { withTmpfs } from '../helpers/mounts';
import { withTempDir } from '../helpers/temp';
import { gate } from '../helpers/gate';
import { hostPathOf } from '../../src/fs/host-path';
import { addonPath } from '../../src/fs/own-addon';

/** The lstat fields a faithful copy keeps, per entry; the table is printed so a failure shows all of it. */
const FIELDS: Array<[string, (st: BigIntStats) => string]> = [
  ['type', (st) => (st.mode & 0o170000n).toString(8)],
  ['mode', (st) => (st.mode & 0o7777n).toString(8)],
  ['uid', (st) => String(st.uid)],
  ['gid', (st) => String(st.gid)],
  ['size', (st) => (st.isDirectory() ? '-' : String(st.size))],
  ['mtimeNs', (st) => String(st.mtimeNs)],
  ['rdev', (st) => String(st.rdev)],
];

async function compareFieldByField(src: string, dst: string): Promise<string[]> {
  const problems: string[] = [];
  const rows: string[] = [];
  const srcLinks = new Map<string, string[]>();
  const dstLinks = new Map<string, string[]>();
  async function walk(rel: string): Promise<void> {
    const s = await fsp.lstat(path.join(src, rel), { bigint: true });
    const d = await fsp.lstat(path.join(dst, rel), { bigint: true });
    const cells = FIELDS.map(([name, get]) => {
      const [a, b] = [get(s), get(d)];
      if (a !== b) problems.push(`${rel} ${name}: ${a} != ${b}`);
      return `${name}=${a}${a === b ? '' : `≠${b}`}`;
    });
    if (s.isSymbolicLink()) {
      const [a, b] = [await fsp.readlink(path.join(src, rel)), await fsp.readlink(path.join(dst, rel))];
      if (a !== b) problems.push(`${rel} target: ${a} != ${b}`);
      cells.push(`target=${a}`);
    } else {
      const [a, b] = [await xattr.listAttributes(path.join(src, rel)), await xattr.listAttributes(path.join(dst, rel))];
      for (const name of new Set([...a, ...b])) {
        const va = a.includes(name) ? (await xattr.getAttribute(path.join(src, rel), name)).toString('hex') : 'absent';
        const vb = b.includes(name) ? (await xattr.getAttribute(path.join(dst, rel), name)).toString('hex') : 'absent';
        if (va !== vb) problems.push(`${rel} xattr ${name}: ${va} != ${vb}`);
        cells.push(`${name}=${va.slice(0, 16)}`);
      }
    }
    if (!s.isDirectory() && s.nlink > 1n) {
      srcLinks.set(String(s.ino), [...(srcLinks.get(String(s.ino)) ?? []), rel]);
      dstLinks.set(String(d.ino), [...(dstLinks.get(String(d.ino)) ?? []), rel]);
    }
    rows.push(`${rel.padEnd(18)} ${cells.join(' ')}`);
    if (s.isDirectory()) for (const n of (await fsp.readdir(path.join(src, rel))).sort()) await walk(path.join(rel, n));
  }
  await walk('.');
  const groups = (m: Map<string, string[]>) => JSON.stringify([...m.values()].map((g) => g.sort()).sort());
  if (groups(srcLinks) !== groups(dstLinks)) problems.push(`hard-link groups ${groups(srcLinks)} != ${groups(dstLinks)}`);
  return [...rows, ...problems.map((p) => `PROBLEM ${p}`)];
}

/** Both ways of copying a leaf: the addon (src/fs/native/copy_entry.c), and Node's calls where it was not built. */
for (const [way, useAddon] of [['through the addon', true], ['through Node (no addon built)', false]] as const) {
  if (useAddon) {
    test('the copy_entry addon is built (else the tests "through the addon" would test the fallback)', () => {
      assert.doesNotThrow(() => require(addonPath('copy_entry')));
    });
  }

  test(`copyTree keeps every lstat field and xattr, field by field (same filesystem), ${way}`, async (t) => {
    await withTempDir('copytree', async (dir) => {
      const src = path.join(dir, 'src');
      await buildRichTree(src);
      const result = await copyTree(hostPathOf(src), hostPathOf(path.join(dir, 'dst')), { useAddon });
      const table = await compareFieldByField(src, path.join(dir, 'dst'));
      for (const row of table) t.diagnostic(row);
      assert.deepEqual(table.filter((l) => l.startsWith('PROBLEM')), []);
      assert.deepEqual(diffSnapshots(await snapshotTree(src, { rootMtime: true }), await snapshotTree(path.join(dir, 'dst'), { rootMtime: true })), []);
      assert.ok(result.entries >= 20, `copied ${result.entries} entries`);
    });
  });

  test(`copyTree across filesystems (disk to tmpfs) keeps every field too, ${way}`, async (t) => {
    if (gate(t, { mount: 'tmpfs' })) return;
    await withTempDir('copytree', async (dir) => {
      const src = path.join(dir, 'src');
      await buildRichTree(src);
      await withTmpfs(64 << 20, async (tmp) => {
        await copyTree(hostPathOf(src), hostPathOf(path.join(tmp, 'dst')), { useAddon });
        const table = await compareFieldByField(src, path.join(tmp, 'dst'));
        assert.deepEqual(table.filter((l) => l.startsWith('PROBLEM')), []);
      });
    });
  });

  test(`copyTree refuses an existing destination and never follows a planted symlink, ${way}`, async () => {
    await withTempDir('copytree', async (dir) => {
      await fsp.writeFile(path.join(dir, 'f'), 'new');
      await fsp.writeFile(path.join(dir, 'victim'), 'keep');
      await fsp.symlink(path.join(dir, 'victim'), path.join(dir, 'planted'));
      await assert.rejects(copyTree(hostPathOf(path.join(dir, 'f')), hostPathOf(path.join(dir, 'planted')), { useAddon }), (err: unknown) => {
        assert.ok(err instanceof OvermergeError);
        assert.equal(err.errno, 'EEXIST');
        return true;
      });
      assert.equal(await fsp.readFile(path.join(dir, 'victim'), 'utf8'), 'keep');
      await fsp.mkdir(path.join(dir, 'd'));
      await assert.rejects(copyTree(hostPathOf(path.join(dir, 'd')), hostPathOf(path.join(dir, 'planted')), { useAddon }), { code: 'E_FS' });
    });
  });
}

test("copyTree keeps a setcap binary's security.capability and a setuid bit (chown, chmod, xattr order)", async (t) => {
  if (gate(t, { root: 'to set security.capability' })) return;
  await withTempDir('copytree', async (dir) => {
    const src = path.join(dir, 'src');
    await buildRichTree(src, { bigBytes: 1 });
    await copyTree(hostPathOf(src), hostPathOf(path.join(dir, 'dst')));
    const a = await xattr.getAttribute(path.join(src, 'cap-bin'), 'security.capability');
    const b = await xattr.getAttribute(path.join(dir, 'dst', 'cap-bin'), 'security.capability');
    assert.deepEqual(b, a);
    const st = await fsp.stat(path.join(dir, 'dst', 'setuid-bin'));
    assert.equal(st.mode & 0o7777, 0o4755);
  });
});

test('copyTree keeps the holes of a sparse file and its bytes, both ways', async () => {
  await withTempDir('copytree', async (dir) => {
    const src = path.join(dir, 'sparse');
    const fh = await fsp.open(src, 'w');
    await fh.write(Buffer.alloc(4096, 7), 0, 4096, 4 << 20);
    await fh.truncate(16 << 20);
    await fh.close();
    for (const useAddon of [true, false]) {
      const dst = path.join(dir, `copy-${useAddon}`);
      await copyTree(hostPathOf(src), hostPathOf(dst), { useAddon });
      assert.ok((await fsp.readFile(dst)).equals(await fsp.readFile(src)), `bytes (${useAddon ? 'addon' : 'Node'})`);
      if (useAddon) {
        const [a, b] = [await fsp.stat(src), await fsp.stat(dst)];
        assert.ok(b.blocks <= a.blocks + 8, `the copy has ${b.blocks} blocks, the source ${a.blocks}`);
      }
    }
  });
});

test('a failure inside the addon is typed with its operation and paths: ENOSPC leaves no half-written file', async (t) => {
  if (gate(t, { mount: 'tmpfs' })) return;
  await withTempDir('copytree', async (dir) => {
    const src = path.join(dir, 'big');
    await fsp.writeFile(src, Buffer.alloc(2 << 20, 1));
    await withTmpfs(1 << 20, async (tmp) => {
      for (const useAddon of [true, false]) {
        const dst = path.join(tmp, `copy-${useAddon}`);
        await assert.rejects(copyTree(hostPathOf(src), hostPathOf(dst), { useAddon }), (err: unknown) => {
          assert.ok(err instanceof OvermergeError);
          assert.equal(err.code, 'E_NO_SPACE');
          assert.equal(err.errno, 'ENOSPC');
          assert.equal(err.op, 'copy');
          assert.equal(err.path, src);
          assert.equal(err.dest, dst);
          return true;
        });
        await assert.rejects(fsp.lstat(dst), { code: 'ENOENT' });
      }
    });
  });
});

test('a socket is refused by name, both ways', async () => {
  await withTempDir('copytree', async (dir) => {
    await fsp.mkdir(path.join(dir, 'tree'));
    const sock = path.join(dir, 'tree', 'sock');
    const server = net.createServer().listen(sock);
    await once(server, 'listening');
    try {
      for (const useAddon of [true, false]) {
        await assert.rejects(copyTree(hostPathOf(path.join(dir, 'tree')), hostPathOf(path.join(dir, `copy-${useAddon}`)), { useAddon }), (err: unknown) => {
          assert.ok(err instanceof OvermergeError);
          assert.equal(err.op, 'copy');
          assert.equal(err.path, sock);
          return true;
        });
      }
    } finally {
      server.close();
    }
  });
});
