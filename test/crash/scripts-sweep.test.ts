import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { copyRoot, countPoints, forEachPoint, leftoverTemporaries, pendingTransactions, spawnOm, sweepWidth, type Side } from '../helpers/crash-harness';
import { gate } from '../helpers/gate';
import { om } from '../helpers/run-cli';
import { BASE_ENV, buildLoggingDeb, callLines, cannotRunScriptOracle, LOG, prepareScriptRoot, readLog } from '../helpers/script-oracle';
import { withTempDir } from '../helpers/temp';

const execFileP = promisify(execFile);

/**
 * The sweep both tests make: the crash points of `argv` counted on a copy of `template`, then at each point
 * a fresh copy, the command killed there, `check` given the root, the point's name and the script calls
 * logged before the kill (it recovers and says which side the root is on); then nothing may be left
 * behind and a second recover must find nothing. Each copy is removed after its point.
 */
async function sweep(
  work: string,
  template: string,
  argv: string[],
  check: (root: string, what: string, before: string[]) => Promise<Side>,
): Promise<{ points: number; sides: Side[] }> {
  const counting = path.join(work, 'counting');
  await copyRoot(template, counting);
  const points = await countPoints(counting, argv, path.join(work, 'count'));
  const sides = await forEachPoint(points, sweepWidth(), async (n) => {
    const root = path.join(work, `at-${n}`);
    await copyRoot(template, root);
    try {
      const what = `crash point ${n}/${points}`;
      const killed = await spawnOm(root, argv, { quiet: true, env: { OVERMERGE_DEBUG_CRASH_AT: String(n) } });
      assert.equal(killed.signal, 'SIGKILL', `${what}: expected SIGKILL, got status ${killed.status}: ${killed.stderr}`);
      const side = await check(root, what, callLines(await readLog(root)));
      assert.deepEqual(await leftoverTemporaries(root), [], `${what}: temporaries left in the root`);
      const again = await om(root, ['recover', '--json'], { quiet: true });
      assert.deepEqual(JSON.parse(again.stdout), [], `${what}: a second recover found work`);
      return side;
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  });
  return { points, sides };
}

/**
 * kill -9 at every crash point of an upgrade whose packages have maintainer scripts (`overmerge unpack`
 * of pkg 2 over an installed pkg 1, scripts chrootless), then `overmerge recover`:
 * - the package is as dpkg would have it, old (1, installed, its file) or new (2, unpacked, its file),
 *   in dpkg's database, in overmerge's and on disk, with nothing pending and nothing left behind;
 * - the calls recover makes are dpkg's error unwinding for the scripts that ran before the kill (Debian
 *   Policy 6.6, with dpkg's arguments; abortCalls below), and none when the upgrade is kept (the kill
 *   came after the commit). A script whose step was journaled
 *   when the kill came may have started without logging yet: recover cannot tell, and unwinds it too (the
 *   abort calls are idempotent by Policy), so the calls of the next stage are accepted as well.
 */
test('kill -9 at every crash point of an upgrade with maintainer scripts: recover makes dpkg’s abort calls and leaves the old or the new package', async (t) => {
  const why = await cannotRunScriptOracle('chrootless');
  if (gate(t, { skip: why })) return;
  await withTempDir('scripts-sweep', async (work) => {
    const v1 = await buildLoggingDeb(work, { name: 'pkg', version: '1' });
    const v2 = await buildLoggingDeb(work, { name: 'pkg', version: '2' });
    const template = path.join(work, 'template');
    await prepareScriptRoot(template, 'chrootless');
    const installed = await om(template, ['--scripts=chrootless', 'install', v1]);
    assert.equal(installed.status, 0, installed.stderr);
    await fsp.rm(path.join(template, LOG));

    const argv = ['--scripts=chrootless', 'unpack', v2];
    const { points, sides } = await sweep(work, template, argv, async (root, what, before) => {
      const pending = pendingTransactions(root);
      const recovered = await om(root, ['--scripts=chrootless', 'recover', '--json'], { quiet: true });
      assert.equal(recovered.status, 0, `${what}: recover failed: ${recovered.stderr}`);
      const outcomes = (JSON.parse(recovered.stdout) as Array<{ outcome: Side }>).map((r) => r.outcome);
      assert.equal(outcomes.length > 0, pending > 0, `${what}: recover found ${outcomes.length}, ${pending} pending`);
      const made = callLines(await readLog(root)).slice(before.length).map(call);
      const side = await sideOf(root, what);
      if (outcomes.length > 0) assert.deepEqual(outcomes, [side], what);
      const ran = before.map(call);
      const allowed = side === 'new' ? [[]] : [abortCalls(ran), abortCalls([...ran, nextCall(ran)])];
      assert.ok(
        allowed.some((a) => JSON.stringify(a) === JSON.stringify(made)),
        `${what}: recover made ${JSON.stringify(made)}, expected one of ${JSON.stringify(allowed)} (scripts before the kill: ${ran.join(', ') || 'none'})`,
      );
      return side;
    });
    assert.ok(sides.includes('old') && sides.includes('new'), `both sides reached: ${sides.join(',')}`);
    t.diagnostic(`${points} crash points: ${sides.filter((s) => s === 'old').length} recovered to old, ${sides.filter((s) => s === 'new').length} to new`);
  });
});

/** `pkg_2 preinst <upgrade> <1>` from a log's call line. */
function call(line: string): string {
  const [self, script] = line.split(' ');
  const argv = line.slice(line.indexOf('] ') + 2).replace(/ cwd=.*$/, '');
  const args = [...argv.matchAll(/<([^>]*)>/g)].map((m) => `<${m[1]}>`);
  return `${self} ${path.basename(script).replace(/^pkg\./, '')} ${args.join(' ')}`;
}

/** The calls of an upgrade 1 → 2 that come before its commit, in dpkg's order (Policy 6.6 steps 2, 3, 8). */
const PRERM = 'pkg_1 prerm <upgrade> <2>';
const PREINST = 'pkg_2 preinst <upgrade> <1> <2>';
const POSTRM = 'pkg_1 postrm <upgrade> <2>';

/** The script dpkg calls next in an upgrade 1 → 2 whose calls so far were `ran`. */
function nextCall(ran: readonly string[]): string {
  if (!ran.includes(PRERM)) return PRERM;
  return ran.includes(PREINST) ? POSTRM : PREINST;
}

/**
 * dpkg's unwinding of an upgrade 1 → 2 interrupted after the calls `ran`: the cleanups each call pushed,
 * run last first — the old preinst's abort-upgrade once the old postrm upgrade ran, the new postrm's once
 * the new preinst ran, the old postinst's once the old prerm ran.
 */
function abortCalls(ran: readonly string[]): string[] {
  const out: string[] = [];
  if (ran.includes(POSTRM)) out.push('pkg_1 preinst <abort-upgrade> <2>');
  if (ran.includes(PREINST)) out.push('pkg_2 postrm <abort-upgrade> <1> <2>');
  if (ran.includes(PRERM)) out.push('pkg_1 postinst <abort-upgrade> <2>');
  return out;
}

/** Which version the root holds, the same in dpkg's database, overmerge's and on disk, or a failure. */
async function sideOf(root: string, what: string): Promise<Side> {
  const { stdout } = await execFileP('dpkg-query', [`--root=${root}`, '-W', '-f', '${Package} ${Version} ${db:Status-Abbrev}\n'], { env: BASE_ENV });
  const file = await fsp.readFile(path.join(root, 'opt/pkg/file'), 'utf8');
  const list = await om(root, ['--json', 'list'], { quiet: true });
  const ours = (JSON.parse(list.stdout) as Array<{ name: string; version: string; status: string }>).map((p) => `${p.name} ${p.version} ${p.status}`);
  const audit = await execFileP('dpkg', [`--root=${root}`, '--audit'], { env: BASE_ENV });
  if (stdout === 'pkg 1 ii \n' && file === 'pkg 1\n' && ours.join() === 'pkg 1 installed' && audit.stdout === '') return 'old';
  if (stdout === 'pkg 2 iU \n' && file === 'pkg 2\n' && ours.join() === 'pkg 2 unpacked') return 'new';
  assert.fail(`${what}: neither old nor new: dpkg-query says ${JSON.stringify(stdout)}, the file holds ${JSON.stringify(file)}, overmerge lists ${JSON.stringify(ours)}, dpkg --audit says ${JSON.stringify(audit.stdout)}`);
}

/**
 * kill -9 at every crash point of a fresh `overmerge unpack` of three archives in one transaction — `pkg`
 * with maintainer scripts first (its preinst starts the transaction), then two without any — then `overmerge
 * recover`. The archives' steps before their files run as one executor run, the script-less archives'
 * state changes sharing journal intents, and those two get no control area (engine/install.ts,
 * script-flows.ts): whatever the crash point, all three are either gone (not installed, no files) or all
 * unpacked, the same in dpkg's database, overmerge's and on disk; the only call recover makes is pkg's
 * `postrm abort-install` (its preinst ran, or may have started); no control area nor temporary is left.
 */
test('kill -9 at every crash point of a fresh unpack of an archive with scripts and two without: all three gone or all unpacked', async (t) => {
  const why = await cannotRunScriptOracle('chrootless');
  if (gate(t, { skip: why })) return;
  await withTempDir('scripts-sweep-plain', async (work) => {
    const noScripts = ['preinst', 'postinst', 'prerm', 'postrm'] as const;
    const debs = [
      await buildLoggingDeb(work, { name: 'pkg', version: '1' }),
      await buildLoggingDeb(work, { name: 'plain-a', version: '1', omit: [...noScripts] }),
      await buildLoggingDeb(work, { name: 'plain-b', version: '1', omit: [...noScripts] }),
    ];
    const names = ['pkg', 'plain-a', 'plain-b'];
    const template = path.join(work, 'template');
    await prepareScriptRoot(template, 'chrootless');
    const argv = ['--scripts=chrootless', 'unpack', ...debs];
    const { points, sides } = await sweep(work, template, argv, async (root, what, before) => {
      const recovered = await om(root, ['--scripts=chrootless', 'recover', '--json'], { quiet: true });
      assert.equal(recovered.status, 0, `${what}: recover failed: ${recovered.stderr}`);
      const made = callLines(await readLog(root)).slice(before.length).map(call);
      const side = await sidesOf(root, names, what);
      assert.ok(
        made.length === 0 || (side === 'old' && made.length === 1 && made[0].startsWith('pkg_1 postrm <abort-install>')),
        `${what}: recover made ${JSON.stringify(made)} (${side})`,
      );
      const areas = (await fsp.readdir(path.join(root, 'var/lib/dpkg'))).filter((f) => f.startsWith('tmp.ci'));
      assert.deepEqual(areas, [], `${what}: control areas left`);
      return side;
    });
    assert.ok(sides.includes('old') && sides.includes('new'), `both sides reached: ${sides.join(',')}`);
    t.diagnostic(`${points} crash points: ${sides.filter((s) => s === 'old').length} recovered to old, ${sides.filter((s) => s === 'new').length} to new`);
  });
});

/** Whether all of `names` are gone ('old') or all unpacked ('new'), alike in both databases and on disk; a failure otherwise. */
async function sidesOf(root: string, names: readonly string[], what: string): Promise<Side> {
  const { stdout } = await execFileP('dpkg-query', [`--root=${root}`, '-W', '-f', '${Package} ${db:Status-Abbrev}\n'], { env: BASE_ENV });
  const states = new Map(stdout.split('\n').filter(Boolean).map((l) => [l.split(' ')[0], l.slice(l.indexOf(' ') + 1).trim()]));
  const files = await Promise.all(names.map((n) => fsp.access(path.join(root, `opt/${n}/file`)).then(() => true, () => false)));
  const list = await om(root, ['--json', 'list'], { quiet: true });
  const ours = (JSON.parse(list.stdout) as Array<{ name: string; status: string }>).map((p) => `${p.name} ${p.status}`).sort();
  const gone = names.every((n) => (states.get(n) ?? 'un').startsWith('u') || (states.get(n) ?? '').startsWith('pn'));
  if (gone && files.every((f) => !f) && ours.length === 0) return 'old';
  if (names.every((n) => states.get(n) === 'iU') && files.every((f) => f) && ours.join() === names.map((n) => `${n} unpacked`).join()) return 'new';
  assert.fail(`${what}: neither all gone nor all unpacked: dpkg-query says ${JSON.stringify(stdout)}, files ${JSON.stringify(files)}, overmerge lists ${JSON.stringify(ours)}`);
}
