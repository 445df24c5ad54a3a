import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { hashState } from '../helpers/crash-harness';
import { gate, needs } from '../helpers/gate';
import { essentialOf, minbaseDebs } from '../helpers/minbase-debs';
import { whilePausedAt } from '../helpers/paused-child';
import { BIN } from '../helpers/run-cli';
import type { RealDebs } from '../helpers/real-debs';
import { tempDir } from '../helpers/temp';
import { diffSnapshots } from '../helpers/tree';
import { buildDeb } from '../../fixtures/hostile/deb';
import { endOfArchive, tarDir, tarFile } from '../../fixtures/hostile/tar-writer';

const execFileP = promisify(execFile);

/**
 * `overmerge bootstrap` with real Debian 12 archives, scripts run in a chroot of the new root (root
 * needed): the Essential set alone, chroot and chrootless, and the set `mmdebstrap --variant=minbase --include=apt`
 * installs. The roots are checked from inside, with the root's own dpkg, apt, shadow and su.
 */

/**
 * What maintainer scripts make differently from one run to the next, whatever SOURCE_DATE_EPOCH says
 * (README, "Bootstrap"): ldconfig's aux-cache (inode numbers and change times of the libraries) and
 * update-alternatives' log (the wall-clock time of each change). overmerge's own database (journal times)
 * is not part of the tree compared (hashState leaves it out).
 */
const RANDOM_PATHS: readonly RegExp[] = [/^var\/cache\/ldconfig\/aux-cache$/, /^var\/log\/alternatives\.log$/];

const EPOCH = '1700000000';

async function bootstrapInto(dir: string, archives: readonly string[], globals: string[] = []): Promise<{ status: number; out: string }> {
  try {
    const r = await execFileP(process.execPath, [BIN, ...globals, 'bootstrap', dir, ...archives], {
      env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH },
      maxBuffer: 1 << 26,
    });
    return { status: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { status: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** A command run in the root (chroot), its output; it must succeed. */
async function inRoot(root: string, argv: string[]): Promise<string> {
  const r = await execFileP('chroot', [root, ...argv], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C.UTF-8' }, maxBuffer: 1 << 24 });
  return r.stdout;
}

/** dpkg -l's lines, each package's state letters; every one must be `ii`. */
function notII(listing: string): string[] {
  return listing.split('\n').filter((l) => /^[a-z][a-z]/i.test(l) && !l.startsWith('ii ') && !l.startsWith('||/') && !l.startsWith('Desired'));
}

/** The differences between two roots that are not on the list of what scripts make random. */
function unexpectedDifferences(a: string, b: string): string[] {
  return diffSnapshots(hashState(a), hashState(b)).filter((line) => {
    const p = line.split(':')[0];
    return !RANDOM_PATHS.some((re) => re.test(p));
  });
}

async function checkWorkingRoot(root: string, packages: number): Promise<void> {
  const listing = await inRoot(root, ['sh', '-c', 'dpkg --audit && apt-get check >/dev/null && dpkg -l']);
  assert.deepEqual(notII(listing), [], 'every package ii');
  assert.equal(listing.split('\n').filter((l) => l.startsWith('ii ')).length, packages);
  assert.ok((await inRoot(root, ['ls', '/'])).split('\n').includes('usr'));
  for (const link of ['bin', 'sbin', 'lib']) assert.equal(await fsp.readlink(path.join(root, link)), `usr/${link}`, `merged /usr: /${link}`);
  assert.equal(existsSync(path.join(root, 'usr/sbin/policy-rc.d')), false, 'policy-rc.d removed after the scripts ran');
  // Configured packages have their conffiles in place: none left waiting as NAME.dpkg-new.
  const conffiles = await inRoot(root, ['sh', '-c', 'cat /var/lib/dpkg/info/*.conffiles']);
  const waiting = conffiles.split('\n').filter((c) => c.startsWith('/') && existsSync(path.join(root, `${c}.dpkg-new`)));
  assert.deepEqual(waiting, [], 'conffiles left as .dpkg-new');
  const staging = path.join(root, 'var/lib/overmerge/staging');
  assert.deepEqual(existsSync(staging) ? await fsp.readdir(staging) : [], [], 'nothing left staged or decoded ahead');
}

describe('overmerge bootstrap with real Debian 12 archives (scripts in a chroot)', { skip: needs({ root: 'chroot', tools: ['chroot', 'apt-get'] }) }, () => {
  const work = tempDir('bootstrap-real', { after });
  let debs: RealDebs;
  let essential: string[] = [];
  before(async () => {
    debs = await minbaseDebs();
    if (!('skip' in debs)) essential = await essentialOf(debs.files);
  });

  // The same set twice with one SOURCE_DATE_EPOCH, once with the scripts in a chroot and once chrootless
  // (DPKG_ROOT; Debian 12's Essential set supports it): the trees must be identical but for what scripts
  // make random, which shows both that a bootstrap is reproducible and that chrootless does the same work.
  it('the Essential set alone, chroot and chrootless with one SOURCE_DATE_EPOCH: working roots, identical but for what scripts make random', async (t) => {
    if (gate(t, debs)) return;
    const [a, b] = [path.join(work, 'ess-chroot'), path.join(work, 'ess-chrootless')];
    // At the same time: most of a bootstrap is one script after another, so two share the cores well.
    const runs = await Promise.all([bootstrapInto(a, essential), bootstrapInto(b, essential, ['--scripts=chrootless'])]);
    for (const r of runs) assert.equal(r.status, 0, r.out);
    assert.deepEqual(unexpectedDifferences(a, b), []);
    for (const root of [a, b]) {
      const listing = await inRoot(root, ['sh', '-c', 'dpkg --audit && dpkg -l']);
      assert.deepEqual(notII(listing), []);
      assert.equal(listing.split('\n').filter((l) => l.startsWith('ii ')).length, essential.length);
    }
    assert.match(await inRoot(a, ['ls', '-d', '/etc']), /^\/etc$/m);
    await fsp.rm(b, { recursive: true, force: true });
  });

  it('the minbase set (mmdebstrap --variant=minbase --include=apt): dpkg --audit, apt-get check, all ii; useradd, su, ls, apt-get --version', async (t) => {
    if (gate(t, debs)) return;
    const root = path.join(work, 'minbase');
    const r = await bootstrapInto(root, debs.files, ['--json']);
    assert.equal(r.status, 0, r.out);
    type Ahead = { queued: number; taken: number };
    const outcome = JSON.parse(r.out.split('\n').find((l) => l.startsWith('{"root":')) ?? 'null') as { packages: number; decodedAhead?: Ahead; stagedAhead?: Ahead };
    assert.equal(outcome.packages, debs.files.length);
    // The other packages' xz data members were decoded while the Essential set's scripts ran
    // (archive/decode-ahead.ts), and staged from there (engine/staged-ahead.ts); their transactions took
    // the staged folders. How many depends on the load (one not begun when its transaction comes is
    // staged by the transaction); the first is begun as the Essential set is configured, so at least that one.
    for (const ahead of [outcome.decodedAhead, outcome.stagedAhead]) {
      assert.ok(ahead !== undefined && ahead.queued > 0 && ahead.taken >= 1 && ahead.taken <= ahead.queued, JSON.stringify(outcome));
    }
    await checkWorkingRoot(root, debs.files.length);
    // Each script's /proc was its own (src/dpkg/private-proc.ts): nothing is left mounted in the root.
    const mounts = (await fsp.readFile('/proc/self/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '');
    assert.deepEqual(mounts.filter((m) => m.startsWith(`${root}/`)), []);
    assert.deepEqual(await fsp.readdir(path.join(root, 'proc')), []);
    await inRoot(root, ['useradd', '-m', 'u']);
    assert.match(await inRoot(root, ['su', 'u', '-c', 'id']), /^uid=1000\(u\) gid=1000\(u\)/);
    assert.match(await inRoot(root, ['apt-get', '--version']), /^apt 2\.6/);
  });

  // The other packages' data members are decoded and staged ahead into staging/ahead
  // (src/archive/decode-ahead.ts, src/engine/staged-ahead.ts), a cache no transaction owns until it takes
  // a folder: a bootstrap killed while it is there leaves it to recover, which removes it, and the next
  // bootstrap finishes from where dpkg says each package is.
  it('kill -9 while archives wait decoded and staged ahead: recover removes them, the next bootstrap finishes a working root', async (t) => {
    if (gate(t, debs)) return;
    const root = path.join(work, 'killed-ahead');
    const pauseFile = path.join(work, 'pause-ahead');
    const ahead = path.join(root, 'var/lib/overmerge/staging/ahead');
    // Paused as passwd's files are placed: adduser and apt come after it, decoded and staged ahead by then.
    const at = 'place:start:/usr/sbin/useradd';
    await whilePausedAt(['--quiet', 'bootstrap', root, ...debs.files], at, pauseFile, async (child) => {
      assert.ok(existsSync(ahead), 'the decoded members and staged folders wait in staging/ahead');
      t.diagnostic(`decoded or staged ahead, not yet taken, at the kill: ${(await fsp.readdir(ahead)).join(' ')}`);
      await child.kill();
    }, { env: { SOURCE_DATE_EPOCH: EPOCH }, waitMs: 180_000 });
    const rec = await execFileP(process.execPath, [BIN, '--root', root, 'recover'], { encoding: 'utf8' });
    assert.match(rec.stdout, /interrupted before its commit: undone/);
    assert.equal(existsSync(ahead), false, 'recover removed what was decoded and staged ahead');
    const r = await bootstrapInto(root, debs.files);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /continuing the bootstrap/);
    await checkWorkingRoot(root, debs.files.length);
    await fsp.rm(root, { recursive: true, force: true });
  });

  // The extraction stages two archives at once: the lane that meets the refused member stops the other,
  // and the rollback removes a staging area nothing writes into any more. A second bootstrap with the
  // good archive goes on from there.
  it('an Essential archive whose data staging refuses fails the extraction with one line, nothing staged left; the next bootstrap finishes', async (t) => {
    if (gate(t, debs)) return;
    const dir = path.join(work, 'refused');
    // The third archive of the set with its own control part and a data part that climbs out of the root.
    const victim = essential[2];
    const bad = path.join(work, path.basename(victim));
    const control = (await execFileP('dpkg-deb', ['--ctrl-tarfile', victim], { encoding: 'buffer', maxBuffer: 1 << 26 })).stdout;
    const data = Buffer.concat([tarDir('./'), tarFile('./../escaped', 'x'), endOfArchive()]);
    await fsp.writeFile(bad, buildDeb({ control: { tar: control }, data }));
    const r = await bootstrapInto(dir, essential.map((a) => (a === victim ? bad : a)));
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /escaped/);
    assert.doesNotMatch(r.out, /\n\s+at /, 'no stack trace');
    assert.equal(existsSync(path.join(work, 'escaped')), false);
    const staging = path.join(dir, 'var/lib/overmerge/staging');
    assert.deepEqual(existsSync(staging) ? await fsp.readdir(staging) : [], [], 'nothing left staged');
    assert.equal(existsSync(path.join(dir, 'usr/bin/bash')), false, 'no file of the set laid');
    const again = await bootstrapInto(dir, essential);
    assert.equal(again.status, 0, again.out);
    assert.equal(existsSync(path.join(dir, 'usr/bin/bash')), true);
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('refuses a folder that is not empty and holds no bootstrap, changing nothing', async (t) => {
    if (gate(t, debs)) return;
    const dir = path.join(work, 'busy');
    await fsp.mkdir(dir);
    await fsp.writeFile(path.join(dir, 'mine'), 'x');
    const r = await bootstrapInto(dir, essential);
    assert.equal(r.status, 1);
    assert.match(r.out, /is not empty, and holds no bootstrap in progress/);
    assert.deepEqual(await fsp.readdir(dir), ['mine']);
  });
});
