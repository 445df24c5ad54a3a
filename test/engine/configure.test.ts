import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { prepareDpkgAdmin } from '../helpers/dpkg-unpack';
import { buildFixtureDebs, type FixtureName } from '../helpers/fixtures';
import { makeTempDir, withTempDir } from '../helpers/temp';
import { assertSameTree, rootState } from '../helpers/root-state';
import { gate } from '../helpers/gate';
import { om, type CliResult } from '../helpers/run-cli';
import type { TreeSnapshot } from '../helpers/tree';

/**
 * `unpack` leaves conffiles as NAME.dpkg-new and `configure` applies dpkg's conffile rules, checked against
 * real dpkg: the same archives unpacked and configured by `dpkg --root` in a second root must give the same
 * tree (dpkg's and overmerge's own admin folders aside), for a fresh install, an upgrade over an unmodified
 * conffile, over a modified one (--force-confold and --force-confnew), and over a deleted one.
 */

const execFileP = promisify(execFile);
let workDir = '';
let debs: Record<FixtureName, string>;
/** dpkg --root is the oracle; it installs files owned by root. */
const ORACLE = { root: 'dpkg --root installs files owned by root', tools: ['dpkg'] };

before(async () => {
  workDir = await makeTempDir('configure');
  debs = await buildFixtureDebs(workDir);
});

after(async () => {
  if (workDir) await fsp.rm(workDir, { recursive: true, force: true });
});

async function ok(root: string, ...args: string[]): Promise<CliResult> {
  const r = await om(root, args);
  assert.equal(r.status, 0, `overmerge ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r;
}

/** dpkg on a root of its own; the fixtures have no maintainer scripts, so nothing runs on the host. */
async function dpkg(root: string, ...args: string[]): Promise<void> {
  await execFileP('dpkg', [`--root=${root}`, '--force-script-chrootless', `--log=${path.join(root, '..', 'dpkg.log')}`, ...args], {
    env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** The tree as packages left it: both tools' admin folders left out. */
async function tree(root: string): Promise<TreeSnapshot> {
  const s = await rootState(root);
  const ours = (p: string) => p === 'var/lib/dpkg' || p.startsWith('var/lib/dpkg/') || p === 'var/lib/overmerge';
  return { entries: s.entries.filter((e) => !ours(e.path)), linkGroups: s.linkGroups };
}

/** Two fresh roots side by side, one for overmerge, one for dpkg. */
async function pair<T>(fn: (om: string, dp: string) => Promise<T>): Promise<T> {
  return withTempDir('configure', async (dir) => {
    const [a, b] = [path.join(dir, 'om', 'root'), path.join(dir, 'dpkg', 'root')];
    for (const r of [a, b]) {
      await fsp.mkdir(path.join(r, 'var/lib'), { recursive: true, mode: 0o755 });
      await fsp.chmod(r, 0o755);
    }
    await prepareDpkgAdmin(b);
    return fn(a, b);
  });
}

async function state(root: string, name: string): Promise<string | undefined> {
  const list = JSON.parse((await ok(root, '--json', 'list')).stdout) as Array<{ name: string; status: string }>;
  return list.find((p) => p.name === name)?.status;
}

const CONF = 'etc/hello.conf';

describe('unpack, then configure, as dpkg does', () => {
  it('a fresh install: the conffile waits as .dpkg-new, then takes its place', async (t: TestContext) => {
    if (gate(t, ORACLE)) return;
    await pair(async (a, b) => {
      await ok(a, 'unpack', debs['hello-1.0']);
      await dpkg(b, '--unpack', debs['hello-1.0']);
      assert.equal(await state(a, 'hello'), 'unpacked');
      await fsp.access(path.join(a, `${CONF}.dpkg-new`));
      await assert.rejects(fsp.access(path.join(a, CONF)));
      assertSameTree(await tree(a), await tree(b), 'after unpack');
      await ok(a, 'configure', 'hello');
      await dpkg(b, '--configure', 'hello');
      assert.equal(await state(a, 'hello'), 'installed');
      assertSameTree(await tree(a), await tree(b), 'after configure');
      assert.equal((await ok(a, 'verify')).stdout, '');
    });
  });

  for (const c of [
    { name: 'an unmodified conffile is replaced', edit: undefined, force: [] as string[] },
    { name: 'a modified conffile is kept, the new one beside it as .dpkg-dist (--force-confold)', edit: 'append', force: ['--force-confold'] },
    { name: 'a modified conffile is replaced, kept as .dpkg-old (--force-confnew)', edit: 'append', force: ['--force-confnew'] },
    { name: 'a deleted conffile stays deleted', edit: 'delete', force: ['--force-confold'] },
  ]) {
    it(`an upgrade: ${c.name}`, async (t: TestContext) => {
      if (gate(t, ORACLE)) return;
      await pair(async (a, b) => {
        await ok(a, 'install', debs['hello-1.0']);
        await dpkg(b, '--install', debs['hello-1.0']);
        for (const r of [a, b]) {
          if (c.edit === 'append') {
            await fsp.appendFile(path.join(r, CONF), '# local change\n');
            await fsp.utimes(path.join(r, CONF), 1_750_000_000, 1_750_000_000); // one edit, made in both roots
          }
          if (c.edit === 'delete') await fsp.rm(path.join(r, CONF));
        }
        await ok(a, 'unpack', debs['hello-2.0']);
        await dpkg(b, '--unpack', debs['hello-2.0']);
        assertSameTree(await tree(a), await tree(b), 'after unpack');
        await ok(a, 'configure', ...c.force, '--pending');
        await dpkg(b, ...c.force, '--configure', '--pending');
        assert.equal(await state(a, 'hello'), 'installed');
        assertSameTree(await tree(a), await tree(b), 'after configure');
      });
    });
  }
});

describe('configure refuses what it cannot do, with one line and nothing changed', () => {
  it('a package that is not unpacked, a name not installed, and no name at all', async () => {
    await pair(async (a) => {
      await ok(a, 'install', debs['hello-1.0']);
      const before = await tree(a);
      const installed = await om(a, ['configure', 'hello']);
      assert.equal(installed.status, 1);
      assert.match(installed.stderr, /^overmerge: package hello is installed, not unpacked: it cannot be configured[^\n]*\n$/);
      const unknown = await om(a, ['configure', 'nosuch']);
      assert.equal(unknown.status, 1);
      assert.match(unknown.stderr, /^overmerge: package 'nosuch' is not installed\n$/);
      const nothing = await om(a, ['configure']);
      assert.equal(nothing.status, 2);
      assert.match(nothing.stderr, /^overmerge: name the packages to configure, or pass --pending\n$/);
      assertSameTree(await tree(a), before, 'after the refusals');
      const pending = await ok(a, 'configure', '--pending');
      assert.match(pending.stdout, /^transaction \d+: 0 filesystem steps\n$/);
    });
  });
});
