import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { gate } from '../helpers/gate';
import { REPO_ROOT } from '../helpers/run-cli';
import { BASE_ENV, buildLoggingDeb, callLines, cannotRunScriptOracle, makeFail, prepareScriptRoot, readLog, runDpkg } from '../helpers/script-oracle';
import { makeTempDir, withTempDir } from '../helpers/temp';
import type { ScriptRunMode } from '../../src/dpkg/script-env';

/**
 * Triggers processed by overmerge's transactions, against real dpkg on twin roots: file triggers, explicit
 * triggers fired by `activate` lines and by dpkg-trigger in a maintainer script, await and noawait,
 * unpack then configure --pending, --no-triggers, removal. Each package's scripts log their calls; the
 * logs (which postinst calls, in which order, with which arguments), the states with their
 * Triggers-Pending and Triggers-Awaited fields, and dpkg's triggers/ folder must be equal.
 */

let work = '';
const debs: Record<string, string> = {};

before(async () => {
  work = await makeTempDir('triggers');
  const mk = async (key: string, spec: Parameters<typeof buildLoggingDeb>[1]): Promise<void> => {
    debs[key] = await buildLoggingDeb(work, spec);
  };
  await mk('watcher', { name: 'watcher', version: '1.0', control: { triggers: 'interest /usr/share/watched\ninterest named-trigger\n' } });
  await mk('lazy', { name: 'lazy', version: '1.0', control: { triggers: 'interest-noawait /usr/share/watched\n' } });
  await mk('feeder', { name: 'feeder', version: '1.0', files: { 'usr/share/watched/feeder.txt': 'fed\n' } });
  await mk('feeder2', { name: 'feeder', version: '2.0', files: { 'usr/share/watched/feeder2.txt': 'fed again\n' } });
  await mk('poker', { name: 'poker', version: '1.0', control: { triggers: 'activate named-trigger\n' } });
  await mk('caller', {
    name: 'caller',
    version: '1.0',
    extra: { postinst: 'if [ "$1" = configure ]; then dpkg-trigger --no-await named-trigger; fi' },
  });
});

after(async () => {
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

type Step = [dpkgArgs: string[], overmergeArgs: string[]];
const install = (...keys: string[]): Step => [['-i', ...keys], ['install', ...keys]];
const unpack = (...keys: string[]): Step => [['--unpack', ...keys], ['unpack', ...keys]];
const CONFIGURE_PENDING: Step = [['--configure', '--pending'], ['configure', '--pending']];

interface Scenario {
  name: string;
  setup?: Step[];
  steps: Step[];
  /** Only where the scripts can run dpkg-trigger (the host's, chrootless). */
  chrootless?: boolean;
  fail?: string[];
}

const SCENARIOS: Scenario[] = [
  { name: 'a file trigger fired by an install, processed after its configure', setup: [install('watcher')], steps: [install('feeder')] },
  { name: 'an upgrade fires it again (new and vanished paths)', setup: [install('watcher', 'feeder')], steps: [install('feeder2')] },
  { name: 'interest-noawait: the activating package does not wait', setup: [install('lazy')], steps: [install('feeder')] },
  { name: 'an explicit trigger fired by an activate line', setup: [install('watcher')], steps: [install('poker')] },
  { name: 'unpack leaves the trigger pending; configure --pending processes it', setup: [install('watcher')], steps: [unpack('feeder'), CONFIGURE_PENDING] },
  {
    name: '--no-triggers leaves it pending for a later configure --pending',
    setup: [install('watcher')],
    steps: [
      [['--no-triggers', '-i', 'feeder'], ['install', '--no-triggers', 'feeder']],
      CONFIGURE_PENDING,
    ],
  },
  {
    name: '--triggers-only --pending processes the pending triggers and nothing else',
    setup: [install('watcher')],
    steps: [[['--no-triggers', '-i', 'feeder'], ['install', '--no-triggers', 'feeder']], [['--triggers-only', '--pending'], ['configure', '--triggers-only', '--pending']]],
  },
  {
    name: '--triggers-only NAME processes that package’s pending triggers',
    setup: [install('watcher')],
    steps: [[['--no-triggers', '-i', 'feeder'], ['install', '--no-triggers', 'feeder']], [['--triggers-only', 'watcher'], ['configure', '--triggers-only', 'watcher']]],
  },
  { name: 'a removal fires the paths it removes', setup: [install('watcher', 'feeder')], steps: [[['-r', 'feeder'], ['remove', 'feeder']]] },
  { name: 'the interested package installed in the same run as the activator', steps: [install('feeder', 'watcher')] },
  { name: 'a failing triggered postinst leaves the package half-configured', setup: [install('watcher')], fail: ['watcher_1.0.postinst.triggered'], steps: [install('feeder')] },
  { name: 'dpkg-trigger called by a postinst', setup: [install('watcher')], steps: [install('caller')], chrootless: true },
];

function overmerge(root: string, mode: ScriptRunMode, args: string[]): { status: number; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'overmerge'), '--root', root, `--scripts=${mode}`, ...args], { env: BASE_ENV, encoding: 'utf8' });
  return { status: r.status ?? 1, stderr: r.stderr };
}

const deb = (args: string[]): string[] => args.map((a) => debs[a] ?? a);

/**
 * The call lines, with each archive's script folder named as dpkg names it: overmerge runs every archive's
 * preinst before any files go in, so with several archives each has its own folder (tmp.ci.N), where dpkg
 * uses tmp.ci for one archive at a time (README: deliberate differences).
 */
function calls(log: string[]): string[] {
  return callLines(log).map((l) => l.replace(/\/tmp\.ci\.\d+\//, '/tmp.ci/'));
}

/** Every package's state and trigger fields, as dpkg-query reads them from the root's database. */
function states(root: string): string {
  const r = spawnSync('dpkg-query', [`--admindir=${path.join(root, 'var/lib/dpkg')}`, '-W', '-f', '${Package} ${Version} ${Status} [${Triggers-Pending}] [${Triggers-Awaited}]\n'], {
    env: BASE_ENV,
    encoding: 'utf8',
  });
  return r.stdout;
}

/** dpkg's triggers/ folder: each data file's content (Lock and side files left out). */
async function triggersDir(root: string): Promise<Record<string, string>> {
  const dir = path.join(root, 'var/lib/dpkg/triggers');
  const out: Record<string, string> = {};
  for (const name of (await fsp.readdir(dir).catch(() => [] as string[])).sort()) {
    if (name === 'Lock' || name.endsWith('-new') || name.endsWith('.new')) continue;
    out[name] = await fsp.readFile(path.join(dir, name), 'latin1');
  }
  return out;
}

async function scenario(t: TestContext, mode: ScriptRunMode, s: Scenario): Promise<void> {
  const why = (await cannotRunScriptOracle(mode)) ?? (s.chrootless && mode !== 'chrootless' ? 'the scripts call dpkg-trigger, which only the host has (chrootless)' : undefined);
  if (why !== undefined && gate(t, { skip: why })) return;
  await withTempDir('triggers', async (dir) => {
    const [a, b] = [path.join(dir, 'dpkg'), path.join(dir, 'om')];
    await prepareScriptRoot(a, mode);
    await prepareScriptRoot(b, mode);
    for (const [d, o] of s.setup ?? []) {
      assert.equal((await runDpkg(a, mode, deb(d))).status, 0, `setup dpkg ${d.join(' ')}`);
      const r = overmerge(b, mode, deb(o));
      assert.equal(r.status, 0, `setup overmerge ${o.join(' ')}: ${r.stderr}`);
    }
    await makeFail(a, s.fail ?? []);
    await makeFail(b, s.fail ?? []);
    for (const [d, o] of s.steps) {
      const theirs = await runDpkg(a, mode, deb(d));
      const ours = overmerge(b, mode, deb(o));
      const what = `${s.name}: dpkg ${d.join(' ')} / overmerge ${o.join(' ')}`;
      assert.equal(ours.status !== 0, theirs.status !== 0, `${what}: dpkg exit ${theirs.status}, overmerge exit ${ours.status}:\n${ours.stderr}\n${theirs.output}`);
      assert.deepEqual(calls(await readLog(b)), calls(await readLog(a)), `${what}: the script calls`);
      assert.equal(states(b), states(a), `${what}: package states`);
      assert.deepEqual(await triggersDir(b), await triggersDir(a), `${what}: triggers/`);
    }
  });
}

for (const mode of ['chrootless', 'chroot'] as const) {
  describe(`triggers against dpkg (${mode})`, () => {
    for (const s of SCENARIOS) it(s.name, (t) => scenario(t, mode, s));
  });
}
