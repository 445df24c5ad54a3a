import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { makeDpkgRoot } from '../dpkg/dpkg-root';
import { buildFixtureDebs, type FixtureName } from '../helpers/fixtures';
import { gate } from '../helpers/gate';
import { om, type CliResult } from '../helpers/run-cli';
import { makeTempDir, withTempDir } from '../helpers/temp';

/**
 * dpkg's database kept in step with overmerge's, with real dpkg as the oracle: the same commands run by
 * overmerge on one root and by `dpkg --root` on a twin must leave byte-identical status files and info/
 * folders; after each command dpkg -l, -L, -S, --verify, --audit, dpkg-query -W and apt-get check agree
 * with overmerge; and a root that dpkg and overmerge take turns on stays consistent both ways.
 */

const ORACLE = { root: 'dpkg --root writes root-owned files', tools: ['dpkg', 'dpkg-query', 'apt-get'] };
let workDir = '';
let debs: Record<FixtureName, string>;

before(async () => {
  workDir = await makeTempDir('dpkg-sync');
  debs = await buildFixtureDebs(workDir);
});

after(async () => {
  if (workDir) await fsp.rm(workDir, { recursive: true, force: true });
});

const ENV = { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive', COLUMNS: '200' };

function run(cmd: string, args: string[]): { status: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: ENV });
  return { status: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

function dpkg(root: string, ...args: string[]): { status: number; out: string } {
  return run('dpkg', [`--root=${root}`, '--force-script-chrootless', `--log=${path.join(root, '..', 'dpkg.log')}`, ...args]);
}

async function ok(root: string, ...args: string[]): Promise<CliResult> {
  const r = await om(root, args);
  assert.equal(r.status, 0, `overmerge ${args.join(' ')}: ${r.stderr}`);
  return r;
}

/** dpkg's view of its database: status and every info file, byte for byte. */
function dpkgDatabase(root: string): Record<string, string> {
  const admin = path.join(root, 'var/lib/dpkg');
  const out: Record<string, string> = { status: readFileSync(path.join(admin, 'status'), 'latin1') };
  for (const f of readdirSync(path.join(admin, 'info')).sort()) out[`info/${f}`] = readFileSync(path.join(admin, 'info', f), 'latin1');
  assert.deepEqual(readdirSync(path.join(admin, 'updates')), [], 'no update entries left after a command: apt reads status alone');
  return out;
}

/** What the real tools say about the root, in a form that must not depend on who changed it. */
function toolsSay(root: string): Record<string, string> {
  const listed = run('dpkg-query', [`--root=${root}`, '-W', '-f', '${Package} ${Version} ${db:Status-Abbrev}\n']);
  const audit = dpkg(root, '--audit');
  const verify = dpkg(root, '--verify');
  const check = run('apt-get', ['-o', `Dir::State::status=${path.join(root, 'var/lib/dpkg/status')}`, '-o', 'Dir::Cache=/nonexistent', '-o', 'Debug::NoLocking=1', 'check']);
  return { listed: listed.out, audit: `${audit.status} ${audit.out}`, verify: `${verify.status} ${verify.out}`, check: `${check.status}` };
}

/** overmerge's list as `name version state`, to compare with dpkg-query -W. */
async function ourList(root: string): Promise<string> {
  const rows = JSON.parse((await ok(root, '--json', 'list')).stdout) as Array<{ name: string; version: string; status: string }>;
  return rows.map((r) => `${r.name} ${r.version} ${r.status}`).join('\n');
}

function dpkgList(root: string): string {
  return run('dpkg-query', [`--root=${root}`, '-W', '-f', '${Package} ${Version} ${db:Status-Status}\n'])
    .out.split('\n')
    .filter((l) => l !== '')
    .sort()
    .join('\n');
}

/**
 * A package dpkg-deb builds, root-owned, in `dir` from `files` (paths in the tree, DEBIAN/ included; their
 * folders are made); `also` adds to the tree what file contents cannot say (links).
 */
async function debFrom(dir: string, name: string, files: Record<string, string>, also?: (tree: string) => Promise<void>): Promise<string> {
  const tree = path.join(dir, `${name}-tree`);
  for (const [rel, text] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(tree, rel)), { recursive: true });
    await fsp.writeFile(path.join(tree, rel), text);
  }
  await also?.(tree);
  const deb = path.join(dir, `${name}.deb`);
  const built = run('dpkg-deb', ['--root-owner-group', '-b', tree, deb]);
  assert.equal(built.status, 0, built.out);
  return deb;
}

async function twins<T>(fn: (ours: string, theirs: string) => Promise<T>): Promise<T> {
  return withTempDir('dpkg-sync', async (dir) => {
    const [a, b] = [path.join(dir, 'om', 'root'), path.join(dir, 'dpkg', 'root')];
    for (const r of [a, b]) {
      makeDpkgRoot(r);
      await fsp.chmod(r, 0o755);
    }
    return fn(a, b);
  });
}

describe("dpkg's database, kept in step", () => {
  it('install, upgrade, remove and purge leave the same status and info/ as dpkg does, and the tools agree', async (t: TestContext) => {
    if (gate(t, ORACLE)) return;
    await twins(async (a, b) => {
      const steps: Array<[string[], string[]]> = [
        [['install', debs['hello-1.0'], debs['greet-1.0']], ['--install', debs['hello-1.0'], debs['greet-1.0']]],
        [['install', debs['hello-2.0']], ['--install', debs['hello-2.0']]],
        [['remove', 'greet'], ['--remove', 'greet']],
        [['remove', 'hello'], ['--remove', 'hello']],
        [['install', debs['hello-2.0']], ['--install', debs['hello-2.0']]],
        [['purge', 'hello'], ['--purge', 'hello']],
      ];
      for (const [ours, theirs] of steps) {
        await ok(a, ...ours);
        const d = dpkg(b, ...theirs);
        assert.equal(d.status, 0, d.out);
        const what = `after overmerge ${ours.join(' ')} / dpkg ${theirs.join(' ')}`;
        assert.deepEqual(dpkgDatabase(a), dpkgDatabase(b), `${what}: dpkg's database`);
        assert.deepEqual(toolsSay(a), toolsSay(b), `${what}: what the tools say`);
        assert.equal(await ourList(a), dpkgList(a), `${what}: overmerge list and dpkg-query -W`);
      }
    });
  });

  it('an archive without md5sums gets the md5sums dpkg writes for it (conffiles and hard links included)', async (t: TestContext) => {
    if (gate(t, { ...ORACLE, tools: [...ORACLE.tools, 'dpkg-deb'] })) return;
    await twins(async (a, b) => {
      const files = {
        'DEBIAN/control': 'Package: nomd5\nVersion: 1\nArchitecture: all\nMaintainer: a <a@example.org>\nDescription: built without md5sums\n',
        'DEBIAN/conffiles': '/etc/nomd5.conf\n',
        'etc/nomd5.conf': 'setting\n',
        'usr/share/nomd5/b': 'b\n',
        'usr/share/nomd5/ä': 'a\n',
      };
      const deb = await debFrom(path.join(a, '..'), 'nomd5', files, async (tree) => {
        await fsp.link(path.join(tree, 'usr/share/nomd5/b'), path.join(tree, 'usr/share/nomd5/c'));
        await fsp.symlink('b', path.join(tree, 'usr/share/nomd5/d'));
      });
      await ok(a, 'install', deb);
      assert.equal(dpkg(b, '--install', deb).status, 0);
      assert.deepEqual(dpkgDatabase(a), dpkgDatabase(b), "dpkg's database, info/nomd5.md5sums included");
      assert.deepEqual(toolsSay(a), toolsSay(b), 'what the tools say (dpkg --verify, --audit)');
    });
  });

  it("an archive's md5sums is what both record, wrong lines included; a conffile's hash is its content's", async (t: TestContext) => {
    if (gate(t, { ...ORACLE, tools: [...ORACLE.tools, 'dpkg-deb'] })) return;
    await twins(async (a, b) => {
      const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
      const bad = 'f'.repeat(32);
      const files: Record<string, string> = {
        'DEBIAN/control': 'Package: sums\nVersion: 1\nArchitecture: all\nMaintainer: a <a@example.org>\nDescription: md5sums with wrong lines\n',
        'DEBIAN/conffiles': '/etc/sums.conf\n',
        // dh_md5sums leaves conffiles out; this one lists it, wrongly, and lists `twice` twice.
        'DEBIAN/md5sums': [
          `${bad}  etc/sums.conf`,
          `${md5('right\n')}  usr/share/sums/right`,
          `${bad}  usr/share/sums/wrong`,
          `${bad}  usr/share/sums/empty`,
          `${bad}  usr/share/sums/twice`,
          `${md5('twice\n')}  usr/share/sums/twice`,
          '',
        ].join('\n'),
        'etc/sums.conf': 'setting\n',
        'usr/share/sums/empty': '',
      };
      for (const f of ['right', 'wrong', 'unlisted', 'twice']) files[`usr/share/sums/${f}`] = `${f}\n`;
      const deb = await debFrom(path.join(a, '..'), 'sums', files);
      await ok(a, 'install', deb);
      assert.equal(dpkg(b, '--install', deb).status, 0);
      assert.deepEqual(dpkgDatabase(a), dpkgDatabase(b), "dpkg's database: the md5sums as shipped, the conffile's real hash in status");
      assert.match(dpkgDatabase(a).status, new RegExp(`Conffiles:\\n /etc/sums\\.conf ${md5('setting\n')}\\n`));
      const said = toolsSay(a);
      assert.deepEqual(said, toolsSay(b), 'what the tools say');
      for (const f of ['wrong', 'empty']) assert.match(said.verify, new RegExp(`^\\?\\?5\\?{6} {3}/usr/share/sums/${f}$`, 'm'), `dpkg --verify finds the wrong line of ${f}`);
      // overmerge's own verify compares the files with the same record.
      const ours = await om(a, ['verify']);
      assert.deepEqual(ours.stdout.trim().split('\n').sort(), ['??5??????   /usr/share/sums/empty', '??5??????   /usr/share/sums/wrong']);
    });
  });

  it('dpkg -L, -S and -s agree with overmerge files, owner and the archive', async (t: TestContext) => {
    if (gate(t, ORACLE)) return;
    await twins(async (a) => {
      await ok(a, 'install', debs['hello-1.0'], debs['greet-1.0']);
      const listed = run('dpkg', [`--root=${a}`, '-L', 'hello']).out.trim().split('\n');
      const ours = (await ok(a, 'files', 'hello')).stdout.trim().split('\n');
      assert.deepEqual([...listed].sort(), [...ours].sort());
      assert.equal(run('dpkg', [`--root=${a}`, '-S', '/usr/bin/hello']).out.trim(), 'hello: /usr/bin/hello');
      assert.match((await ok(a, 'owner', '/usr/bin/hello')).stdout, /^hello/);
      assert.match(run('dpkg', [`--root=${a}`, '-s', 'greet']).out, /^Package: greet\nStatus: install ok installed\n/);
    });
  });

  it('takes turns with dpkg: what dpkg does is seen by overmerge, and the reverse', async (t: TestContext) => {
    if (gate(t, ORACLE)) return;
    await twins(async (a) => {
      assert.equal(dpkg(a, '--install', debs['hello-1.0']).status, 0);
      await ok(a, 'recover'); // any writing command takes in what dpkg did; recover changes nothing else
      assert.equal(await ourList(a), 'hello 1.0-1 installed', 'installed by dpkg, seen by overmerge at its next command');
      await ok(a, 'install', debs['greet-1.0']); // the import happens before this transaction
      assert.equal(await ourList(a), dpkgList(a));
      assert.deepEqual((await ok(a, 'files', 'hello')).stdout.trim().split('\n').sort(), run('dpkg', [`--root=${a}`, '-L', 'hello']).out.trim().split('\n').sort());
      assert.equal((await ok(a, 'verify')).stdout, '', 'files dpkg installed verify clean');
      await ok(a, 'install', debs['hello-2.0']); // an upgrade by overmerge of what dpkg installed
      assert.equal(dpkg(a, '--remove', 'greet').status, 0);
      await ok(a, 'install', debs['hello-1.0']); // a downgrade by overmerge after dpkg removed greet
      assert.equal(await ourList(a), dpkgList(a));
      assert.equal(dpkg(a, '--purge', 'hello').status, 0);
      await ok(a, 'recover');
      assert.equal(await ourList(a), dpkgList(a), 'hello, purged by dpkg, is gone from overmerge too');
      // greet depends on hello: both in one call, hello is configured first (the configure queue's order).
      await ok(a, 'install', debs['greet-1.0'], debs['hello-1.0']);
      assert.equal(await ourList(a), dpkgList(a));
      assert.equal(toolsSay(a).audit, '0 ');
    });
  });
});
