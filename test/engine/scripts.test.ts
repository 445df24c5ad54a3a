import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { gate } from '../helpers/gate';
import { REPO_ROOT } from '../helpers/run-cli';
import {
  BASE_ENV,
  buildLoggingDeb,
  callLines,
  cannotRunScriptOracle,
  hostConfigForces,
  makeFail,
  prepareScriptRoot,
  readDpkgDb,
  readLog,
  runDpkg,
} from '../helpers/script-oracle';
import { makeTempDir, withTempDir } from '../helpers/temp';
import type { ScriptRunMode } from '../../src/dpkg/script-env';

/**
 * Maintainer scripts run by overmerge's transactions, against real dpkg: the same commands on twin roots
 * (dpkg --root on one, overmerge on the other), with packages whose every script logs its name, $0,
 * arguments, current directory, umask and whole environment, and fails on demand. The logs must be equal
 * line for line — every success and failure path, the abort calls dpkg makes included — and so must the
 * packages' final states, the exit statuses (failed or not) and the files.
 *
 * One difference is allowed for, in the environment: DPKG_FORCE of real dpkg also holds what the host's
 * /etc/dpkg/dpkg.cfg.d says (Debian's images set unsafe-io), which overmerge does not read.
 */

let workDir = '';
let debs: Record<'v1' | 'v2', string>;
let hostForces: string[] = [];

before(async () => {
  workDir = await makeTempDir('scripts');
  debs = {
    v1: await buildLoggingDeb(workDir, { name: 'logme', version: '1.0' }),
    v2: await buildLoggingDeb(workDir, { name: 'logme', version: '2.0', files: { 'opt/logme/file': 'logme 2.0\n', 'opt/logme/new': 'new in 2.0\n' } }),
  };
  hostForces = await hostConfigForces();
});

after(async () => {
  if (workDir) await fsp.rm(workDir, { recursive: true, force: true });
});

type Step = [dpkgArgs: string[], overmergeArgs: string[]];

const INSTALL_V1: Step = [['-i', 'v1'], ['install', 'v1']];
const INSTALL_V2: Step = [['-i', 'v2'], ['install', 'v2']];
const REMOVE: Step = [['-r', 'logme'], ['remove', 'logme']];
const PURGE: Step = [['-P', 'logme'], ['purge', 'logme']];

interface Scenario {
  name: string;
  /** Run before the failure markers exist. */
  setup?: Step[];
  /** Markers PKG_VERSION.SCRIPT.ACTION that make those calls fail. */
  fail: string[];
  steps: Step[];
}

const SCENARIOS: Scenario[] = [
  { name: 'install, upgrade, remove, purge', fail: [], steps: [INSTALL_V1, INSTALL_V2, REMOVE, PURGE] },
  { name: 'preinst fails on install: postrm abort-install', fail: ['logme_1.0.preinst.install'], steps: [INSTALL_V1] },
  { name: 'preinst fails on upgrade: postrm abort-upgrade, postinst abort-upgrade', setup: [INSTALL_V1], fail: ['logme_2.0.preinst.upgrade'], steps: [INSTALL_V2] },
  { name: 'prerm fails on upgrade, the new prerm failed-upgrade succeeds', setup: [INSTALL_V1], fail: ['logme_1.0.prerm.upgrade'], steps: [INSTALL_V2] },
  {
    name: 'prerm fails on upgrade, failed-upgrade fails too: postinst abort-upgrade',
    setup: [INSTALL_V1],
    fail: ['logme_1.0.prerm.upgrade', 'logme_2.0.prerm.failed-upgrade'],
    steps: [INSTALL_V2],
  },
  {
    name: 'old postrm upgrade fails and so does the new failed-upgrade: the whole unwind, files put back',
    setup: [INSTALL_V1],
    fail: ['logme_1.0.postrm.upgrade', 'logme_2.0.postrm.failed-upgrade'],
    steps: [INSTALL_V2],
  },
  { name: 'old postrm upgrade fails, the new failed-upgrade succeeds', setup: [INSTALL_V1], fail: ['logme_1.0.postrm.upgrade'], steps: [INSTALL_V2] },
  { name: 'postinst fails: half-configured, nothing unwound', fail: ['logme_1.0.postinst.configure'], steps: [INSTALL_V1] },
  { name: 'prerm fails on remove: postinst abort-remove', setup: [INSTALL_V1], fail: ['logme_1.0.prerm.remove'], steps: [REMOVE] },
  { name: 'postrm fails on remove: half-installed', setup: [INSTALL_V1], fail: ['logme_1.0.postrm.remove'], steps: [REMOVE] },
  { name: 'postrm purge fails: config-files', setup: [INSTALL_V1, REMOVE], fail: ['logme_1.0.postrm.purge'], steps: [PURGE] },
];

function overmerge(root: string, mode: ScriptRunMode, args: string[]): { status: number; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'overmerge'), '--root', root, `--scripts=${mode}`, ...args], { env: BASE_ENV, encoding: 'utf8' });
  return { status: r.status ?? 1, stderr: r.stderr };
}

const deb = (args: string[]): string[] => args.map((a) => (a === 'v1' || a === 'v2' ? debs[a] : a));

/** The log with the host's dpkg configuration taken out of dpkg's DPKG_FORCE. */
function normalised(log: string[]): string[] {
  return log.map((l) => {
    const m = /^(\s+export DPKG_FORCE=')([^']*)'$/.exec(l);
    return m ? `${m[1]}${m[2].split(',').filter((f) => !hostForces.includes(f)).join(',')}'` : l;
  });
}

async function states(root: string): Promise<string[]> {
  return [...(await readDpkgDb(root)).values()].map((e) => `${e.key} ${e.version} ${e.status}${e.reinstreq ? ' reinstreq' : ''}`).sort();
}

async function files(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const dir = path.join(root, 'opt/logme');
  for (const f of (await fsp.readdir(dir).catch(() => [] as string[])).sort()) out[f] = await fsp.readFile(path.join(dir, f), 'utf8');
  return out;
}

async function scenario(t: TestContext, mode: ScriptRunMode, s: Scenario): Promise<void> {
  const why = await cannotRunScriptOracle(mode);
  if (why !== undefined && gate(t, { skip: why })) return;
  await withTempDir('scripts', async (dir) => {
    const [a, b] = [path.join(dir, 'dpkg'), path.join(dir, 'om')];
    await prepareScriptRoot(a, mode);
    await prepareScriptRoot(b, mode);
    for (const [d, o] of s.setup ?? []) {
      assert.equal((await runDpkg(a, mode, deb(d))).status, 0);
      const r = overmerge(b, mode, deb(o));
      assert.equal(r.status, 0, `setup overmerge ${o.join(' ')}: ${r.stderr}`);
    }
    await makeFail(a, s.fail);
    await makeFail(b, s.fail);
    for (const [d, o] of s.steps) {
      const theirs = await runDpkg(a, mode, deb(d));
      const ours = overmerge(b, mode, deb(o));
      const what = `${s.name}: dpkg ${d.join(' ')} / overmerge ${o.join(' ')}`;
      assert.equal(ours.status !== 0, theirs.status !== 0, `${what}: dpkg exit ${theirs.status}, overmerge exit ${ours.status}:\n${ours.stderr}\n${theirs.output}`);
      if (ours.status !== 0) assert.equal(ours.stderr.trim().split('\n').filter((l) => !l.includes('failing on purpose')).length > 0, true);
      assert.deepEqual(callLines(await readLog(b)), callLines(await readLog(a)), `${what}: the calls`);
      assert.deepEqual(normalised(await readLog(b)), normalised(await readLog(a)), `${what}: the calls with their environment`);
      assert.deepEqual(await states(b), await states(a), `${what}: package states`);
      assert.deepEqual(await files(b), await files(a), `${what}: the package's files`);
    }
  });
}

for (const mode of ['chrootless', 'chroot'] as const) {
  describe(`maintainer scripts (${mode}), as dpkg runs them`, () => {
    for (const s of SCENARIOS) it(s.name, (t) => scenario(t, mode, s));
  });
}
