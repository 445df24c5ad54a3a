import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { leftoverTemporaries, pendingTransactions, type ChildResult } from '../helpers/crash-harness';
import { gate, needs } from '../helpers/gate';
import { essentialOf, minbaseDebs } from '../helpers/minbase-debs';
import type { RealDebs } from '../helpers/real-debs';
import { BIN, om } from '../helpers/run-cli';
import { tempDir } from '../helpers/temp';

const execFileP = promisify(execFile);

/**
 * A bootstrap of the Essential set (real Debian 12 archives, scripts in a chroot) killed with SIGKILL at
 * ten random crash points, one after the other on the same folder: after each kill `overmerge recover`
 * leaves the folder consistent — no transaction open, no temporary left, overmerge's and dpkg's
 * databases agreeing, every file of every package dpkg has unpacked in place, each package in a state
 * dpkg reports (where scripts ran, as far as they got) — and the next `bootstrap` goes on from there;
 * once, `configure -a` does the configuring. The last run finishes it into a working root.
 *
 * One uninterrupted run counts the crash points first; the kills are spread over that count (a resumed
 * run passes points at about the pace of the first). The Essential set keeps the runtime modest.
 */

const KILLS = 10;

function child(argv: string[], env: Record<string, string>): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const full: NodeJS.ProcessEnv = { ...process.env, ...env, SOURCE_DATE_EPOCH: '1700000000' };
    for (const k of Object.keys(full)) if (k.startsWith('OVERMERGE_DEBUG_') && !(k in env)) delete full[k];
    const c = spawn(process.execPath, [BIN, ...argv], { env: full, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    c.stdout.on('data', (b: Buffer) => out.push(b));
    c.stderr.on('data', (b: Buffer) => err.push(b));
    c.on('error', reject);
    c.on('close', (status, signal) => resolve({ status, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

/** A small deterministic generator, so that a failing run can be repeated with its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

interface DpkgRow {
  name: string;
  version: string;
  state: string;
}

async function dpkgRows(root: string): Promise<DpkgRow[]> {
  const r = await execFileP('dpkg-query', [`--admindir=${root}/var/lib/dpkg`, '-W', '-f', '${Package} ${Version} ${db:Status-Status}\n']).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name, version, state] = l.split(' ');
      return { name, version, state };
    })
    .filter((p) => p.state !== 'not-installed');
}

/** What must hold after any kill and `recover`. */
async function checkConsistent(root: string, when: string): Promise<DpkgRow[]> {
  assert.equal(pendingTransactions(root), 0, `${when}: no transaction left open`);
  assert.deepEqual(await leftoverTemporaries(root), [], `${when}: no temporaries left`);
  const rows = await dpkgRows(root);
  const list = await om(root, ['list', '--json'], { quiet: true });
  assert.equal(list.status, 0, list.stderr);
  const ours = (JSON.parse(list.stdout) as Array<{ name: string; version: string }>).map((p) => `${p.name} ${p.version}`).sort();
  assert.deepEqual(ours, rows.map((p) => `${p.name} ${p.version}`).sort(), `${when}: overmerge's and dpkg's databases agree`);
  const states = new Set(['half-installed', 'unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending', 'installed']);
  for (const p of rows) {
    assert.ok(states.has(p.state), `${when}: ${p.name} in state ${p.state}`);
    if (p.state === 'half-installed') continue;
    const listed = await fsp.readFile(path.join(root, 'var/lib/dpkg/info', `${p.name}.list`), 'utf8').catch(() => fsp.readFile(path.join(root, 'var/lib/dpkg/info', `${p.name}:amd64.list`), 'utf8'));
    for (const f of listed.split('\n').filter(Boolean)) {
      await fsp.lstat(path.join(root, f)).catch(() => assert.fail(`${when}: ${p.name} (${p.state}) lacks ${f}`));
    }
  }
  return rows;
}

describe('overmerge bootstrap killed at random points (real Debian 12 archives)', { skip: needs({ root: 'chroot', tools: ['chroot', 'dpkg-query'] }) }, () => {
  const work = tempDir('bootstrap-crash', { after });
  let debs: RealDebs;
  let essential: string[] = [];
  before(async () => {
    debs = await minbaseDebs();
    if (!('skip' in debs)) essential = await essentialOf(debs.files);
  });

  it(`${KILLS} kills, each recovered to a consistent state, the next bootstrap (or configure -a) going on; the last finishes it`, async (t) => {
    if (gate(t, debs)) return;
    const countFile = path.join(work, 'points');
    const counted = await child(['bootstrap', path.join(work, 'count'), ...essential], { OVERMERGE_DEBUG_COUNT_POINTS: countFile });
    assert.equal(counted.status, 0, counted.stderr);
    await fsp.rm(path.join(work, 'count'), { recursive: true, force: true });
    const total = Number(await fsp.readFile(countFile, 'utf8'));
    const seed = Number(process.env.OVERMERGE_TEST_SEED ?? Date.now() % 2 ** 31);
    t.diagnostic(`${total} crash points in one bootstrap; seed ${seed} (OVERMERGE_TEST_SEED)`);
    const next = random(seed);
    const points = Array.from({ length: KILLS }, () => 1 + Math.floor(next() * (total - 1))).sort((a, b) => a - b);

    const root = path.join(work, 'root');
    let kills = 0;
    let usedConfigure = false;
    let at = 0;
    for (const point of points) {
      const r = await child(['bootstrap', root, ...essential], { OVERMERGE_DEBUG_CRASH_AT: String(Math.max(1, point - at)) });
      at = point;
      if (r.signal === null) {
        assert.equal(r.status, 0, `a run that was not killed must finish the bootstrap: ${r.stderr}`);
        break;
      }
      assert.equal(r.signal, 'SIGKILL');
      kills++;
      const rec = await om(root, ['recover'], { quiet: true, spawn: true });
      assert.equal(rec.status, 0, rec.stderr);
      const rows = await checkConsistent(root, `after kill ${kills} (point ${point})`);
      // Once every package is unpacked, dpkg's own way on: configure -a, then the bootstrap tidies up.
      if (!usedConfigure && rows.length === essential.length && rows.some((p) => p.state !== 'installed') && rows.every((p) => p.state !== 'half-installed')) {
        usedConfigure = true;
        const c = await om(root, ['configure', '-a'], { quiet: true, spawn: true });
        assert.equal(c.status, 0, c.stderr);
        await checkConsistent(root, `after configure -a`);
      }
    }
    t.diagnostic(`${kills} kills${usedConfigure ? ', configure -a used once' : ''}`);
    assert.ok(kills >= KILLS / 2, `most runs were killed (${kills})`);
    const last = await child(['bootstrap', root, ...essential], {});
    assert.equal(last.status, 0, last.stderr);
    const rows = await checkConsistent(root, 'at the end');
    assert.equal(rows.length, essential.length);
    assert.deepEqual(rows.filter((p) => p.state !== 'installed'), []);
    const audit = await execFileP('chroot', [root, 'dpkg', '--audit'], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    assert.equal(audit.stdout, '');
  });
});
