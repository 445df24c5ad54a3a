import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ScriptRunMode } from '../../src/dpkg/script-env';
import type { PackageState } from '../../src/dpkg/script-protocol';
import {
  LOG,
  buildLoggingDeb,
  callLines,
  cannotRunScriptOracle,
  copyRoot,
  dbState,
  hostConfigForces,
  makeFail,
  prepareScriptRoot,
  readDpkgDb,
  readLog,
  runDpkg,
  runOurs,
  type LoggingPackage,
  type OurOp,
} from '../helpers/script-oracle';

/**
 * Every scenario of the maintainer-script protocol, run twice from the same starting root: once by real
 * dpkg (the oracle), once by overmerge (planScripts → script-sequence → runScript) on a copy. Checked:
 * 1. dpkg's calls are the ones written in the scenario (the protocol as documented here is dpkg's);
 * 2. our log equals dpkg's line for line: $0, every argument, cwd, umask and the whole exported
 *    environment of every call (the root's path written <ROOT> in both, since the copies differ);
 * 3. the final state of every package involved (status and reinst-required) equals dpkg's database;
 * 4. dpkg failed exactly when our sequence did.
 * Both ways of running scripts: chrooted into the root (a /bin/sh and its libraries copied in) and
 * chrootless (`--force-script-chrootless`, DPKG_ROOT set).
 */

const PACKAGES: Record<string, LoggingPackage> = {
  t1: { name: 't', version: '1.0' },
  t2: { name: 't', version: '2.0' },
  t05: { name: 't', version: '0.5' },
  // Ships a file package o owns: dpkg fails while unpacking, after the preinst ran.
  t3: { name: 't', version: '3.0', files: { 'opt/t/file': 't 3.0\n', 'opt/shared/clash': 't\n' } },
  // No prerm and no postrm: nothing to fall back to.
  t4: { name: 't', version: '4.0', omit: ['prerm', 'postrm'] },
  o1: { name: 'o', version: '1.0', files: { 'opt/shared/clash': 'o\n' } },
  b1: { name: 'b', version: '1.0' },
  n1: { name: 'n', version: '1.0', arch: 'amd64', fields: { Breaks: 'b (<< 2)' } },
  c1: { name: 'c', version: '1.0' },
  d1: { name: 'd', version: '1.0', fields: { Depends: 'c' } },
  // Removes c; Provides keeps d's dependency satisfied, so d stays configured.
  m1: { name: 'm', version: '1.0', fields: { Conflicts: 'c', Replaces: 'c', Provides: 'c' } },
  // Removes c, and d (Depends: c) must be deconfigured for that.
  k1: { name: 'k', version: '1.0', fields: { Conflicts: 'c', Replaces: 'c' } },
  a1: { name: 'a', version: '1.0', files: { 'opt/a/f': 'a\n' } },
  // Multi-Arch: same for two architectures: the refcount, DPKG_MAINTSCRIPT_ARCH, info/ma:ARCH.SCRIPT.
  maAmd64: { name: 'ma', version: '1.0', arch: 'amd64', fields: { 'Multi-Arch': 'same' }, files: { 'opt/ma/amd64': 'ma\n' } },
  maI386: { name: 'ma', version: '1.0', arch: 'i386', fields: { 'Multi-Arch': 'same' }, files: { 'opt/ma/i386': 'ma\n' } },
  r1: { name: 'r', version: '1.0', fields: { Replaces: 'a' }, files: { 'opt/a/f': 'r\n' } },
};

interface SetupStep {
  dpkg: string[];
  /** Markers present during this step only. */
  fail?: string[];
  /** The step is expected to fail (it leaves the package half-configured, say). */
  fails?: boolean;
}

export interface Scenario {
  name: string;
  setup?: SetupStep[];
  /** Markers (PKG_VERSION.SCRIPT.ACTION) that make those calls fail during the compared operation. */
  fail?: string[];
  dpkg: string[];
  ours: OurOp[];
  /** dpkg's calls, `PKG_VERSION SCRIPT ARGS...` (the version is the script's own package's). */
  calls: string[];
  /** Final states to compare with dpkg's database; `expect` also writes down what they are. */
  expect: Record<string, string>;
  /** dpkg's exit status differs from "failed iff our sequence failed" (it also configures other packages). */
  dpkgFails?: boolean;
}

const I = (deb: string): SetupStep => ({ dpkg: ['-i', deb] });

export const SCENARIOS: Scenario[] = [
  {
    name: 'fresh install',
    dpkg: ['-i', 't1'],
    ours: [{ unpack: 't1' }, { configure: 't' }],
    calls: ['t_1.0 preinst install', "t_1.0 postinst configure ''"],
    expect: { t: 'installed' },
  },
  {
    name: 'fresh install, preinst fails',
    fail: ['t_1.0.preinst.install'],
    dpkg: ['-i', 't1'],
    ours: [{ unpack: 't1' }, { configure: 't' }],
    calls: ['t_1.0 preinst install', 't_1.0 postrm abort-install'],
    expect: { t: 'not-installed' },
  },
  {
    name: 'fresh install, preinst and postrm abort-install fail',
    fail: ['t_1.0.preinst.install', 't_1.0.postrm.abort-install'],
    dpkg: ['-i', 't1'],
    ours: [{ unpack: 't1' }, { configure: 't' }],
    calls: ['t_1.0 preinst install', 't_1.0 postrm abort-install'],
    expect: { t: 'half-installed reinstreq' },
  },
  {
    name: 'fresh install, unpacking the files fails after the preinst',
    setup: [I('o1')],
    dpkg: ['-i', 't3'],
    ours: [{ unpack: 't3', unpackFails: true }, { configure: 't' }],
    calls: ['t_3.0 preinst install', 't_3.0 postrm abort-install'],
    expect: { t: 'not-installed', o: 'installed' },
  },
  {
    name: 'fresh install, postinst configure fails',
    fail: ['t_1.0.postinst.configure'],
    dpkg: ['-i', 't1'],
    ours: [{ unpack: 't1' }, { configure: 't' }],
    calls: ['t_1.0 preinst install', "t_1.0 postinst configure ''"],
    expect: { t: 'half-configured' },
  },
  {
    name: 'install over config-files',
    setup: [I('t1'), { dpkg: ['-r', 't'] }],
    dpkg: ['-i', 't2'],
    ours: [{ unpack: 't2' }, { configure: 't' }],
    calls: ['t_2.0 preinst install 1.0 2.0', 't_2.0 postinst configure 1.0'],
    expect: { t: 'installed' },
  },
  {
    name: 'install over config-files, preinst fails',
    setup: [I('t1'), { dpkg: ['-r', 't'] }],
    fail: ['t_2.0.preinst.install'],
    dpkg: ['-i', 't2'],
    ours: [{ unpack: 't2' }, { configure: 't' }],
    calls: ['t_2.0 preinst install 1.0 2.0', 't_2.0 postrm abort-install 1.0 2.0'],
    expect: { t: 'config-files' },
  },
  {
    name: 'upgrade',
    setup: [I('t1')],
    dpkg: ['-i', 't2'],
    ours: [{ unpack: 't2' }, { configure: 't' }],
    calls: ['t_1.0 prerm upgrade 2.0', 't_2.0 preinst upgrade 1.0 2.0', 't_1.0 postrm upgrade 2.0', 't_2.0 postinst configure 1.0'],
    expect: { t: 'installed' },
  },
  {
    name: 'upgrade, old prerm fails, new prerm failed-upgrade succeeds',
    setup: [I('t1')],
    fail: ['t_1.0.prerm.upgrade'],
    dpkg: ['-i', 't2'],
    ours: [{ unpack: 't2' }, { configure: 't' }],
    calls: [
      't_1.0 prerm upgrade 2.0',
      't_2.0 prerm failed-upgrade 1.0 2.0',
      't_2.0 preinst upgrade 1.0 2.0',
      't_1.0 postrm upgrade 2.0',
      't_2.0 postinst configure 1.0',
    ],
    expect: { t: 'installed' },
  },
  {
    name: 'upgrade, old prerm and new prerm failed-upgrade fail',
    setup: [I('t1')],
    fail: ['t_1.0.prerm.upgrade', 't_2.0.prerm.failed-upgrade'],
    dpkg: ['-i', 't2'],
    ours: [{ unpack: 't2' }, { configure: 't' }],
    calls: ['t_1.0 prerm upgrade 2.0', 't_2.0 prerm failed-upgrade 1.0 2.0', 't_1.0 postinst abort-upgrade 2.0'],
    expect: { t: 'installed' },
  },
  {
    name: 'upgrade, both prerms fail and so does postinst abort-upgrade',
    setup: [I('t1')],
    fail: ['t_1.0.prerm.upgrade', 't_2.0.prerm.failed-upgrade', 't_1.0.postinst.abort-upgrade'],
    dpkg: ['-i', 't2'],
    ours: [{ unpack: 't2' }, { configure: 't' }],
    calls: ['t_1.0 prerm upgrade 2.0', 't_2.0 prerm failed-upgrade 1.0 2.0', 't_1.0 postinst abort-upgrade 2.0'],
    expect: { t: 'half-configured reinstreq' },
  },
  {
    name: 'upgrade, old prerm fails and the new version has no prerm',
    setup: [I('t1')],
    fail: ['t_1.0.prerm.upgrade'],
    dpkg: ['-i', 't4'],
    ours: [{ unpack: 't4' }, { configure: 't' }],
    calls: ['t_1.0 prerm upgrade 4.0', 't_1.0 postinst abort-upgrade 4.0'],
    expect: { t: 'installed' },
  },
  {
    name: 'upgrade, new preinst fails',
    setup: [I('t1')],
    fail: ['t_2.0.preinst.upgrade'],
    dpkg: ['-i', 't2'],
    ours: [{ unpack: 't2' }, { configure: 't' }],
    calls: ['t_1.0 prerm upgrade 2.0', 't_2.0 preinst upgrade 1.0 2.0', 't_2.0 postrm abort-upgrade 1.0 2.0', 't_1.0 postinst abort-upgrade 2.0'],
    expect: { t: 'installed' },
  },
  {
    name: 'upgrade, new preinst and new postrm abort-upgrade fail (the rest of the unwind is skipped)',
    setup: [I('t1')],
    fail: ['t_2.0.preinst.upgrade', 't_2.0.postrm.abort-upgrade'],
    dpkg: ['-i', 't2'],
    ours: [{ unpack: 't2' }, { configure: 't' }],
    calls: ['t_1.0 prerm upgrade 2.0', 't_2.0 preinst upgrade 1.0 2.0', 't_2.0 postrm abort-upgrade 1.0 2.0'],
    expect: { t: 'half-installed reinstreq' },
  },
  {
    name: 'upgrade, unpacking the files fails after the preinst',
    setup: [I('o1'), I('t1')],
    dpkg: ['-i', 't3'],
    ours: [{ unpack: 't3', unpackFails: true }, { configure: 't' }],
    calls: ['t_1.0 prerm upgrade 3.0', 't_3.0 preinst upgrade 1.0 3.0', 't_3.0 postrm abort-upgrade 1.0 3.0', 't_1.0 postinst abort-upgrade 3.0'],
    expect: { t: 'installed', o: 'installed' },
  },
  {
    name: 'upgrade, old postrm fails, new postrm failed-upgrade succeeds',
    setup: [I('t1')],
    fail: ['t_1.0.postrm.upgrade'],
    dpkg: ['-i', 't2'],
    ours: [{ unpack: 't2' }, { configure: 't' }],
    calls: [
      't_1.0 prerm upgrade 2.0',
      't_2.0 preinst upgrade 1.0 2.0',
      't_1.0 postrm upgrade 2.0',
      't_2.0 postrm failed-upgrade 1.0 2.0',
      't_2.0 postinst configure 1.0',
    ],
    expect: { t: 'installed' },
  },
  {
    name: 'upgrade, old postrm and new postrm failed-upgrade fail',
    setup: [I('t1')],
    fail: ['t_1.0.postrm.upgrade', 't_2.0.postrm.failed-upgrade'],
    dpkg: ['-i', 't2'],
    ours: [{ unpack: 't2' }, { configure: 't' }],
    calls: [
      't_1.0 prerm upgrade 2.0',
      't_2.0 preinst upgrade 1.0 2.0',
      't_1.0 postrm upgrade 2.0',
      't_2.0 postrm failed-upgrade 1.0 2.0',
      't_1.0 preinst abort-upgrade 2.0',
      't_2.0 postrm abort-upgrade 1.0 2.0',
      't_1.0 postinst abort-upgrade 2.0',
    ],
    expect: { t: 'installed' },
  },
  {
    name: 'upgrade, postinst configure fails',
    setup: [I('t1')],
    fail: ['t_2.0.postinst.configure'],
    dpkg: ['-i', 't2'],
    ours: [{ unpack: 't2' }, { configure: 't' }],
    calls: ['t_1.0 prerm upgrade 2.0', 't_2.0 preinst upgrade 1.0 2.0', 't_1.0 postrm upgrade 2.0', 't_2.0 postinst configure 1.0'],
    expect: { t: 'half-configured' },
  },
  {
    name: 'upgrade of an unpacked (never configured) package',
    setup: [{ dpkg: ['--unpack', 't1'] }],
    dpkg: ['-i', 't2'],
    ours: [{ unpack: 't2' }, { configure: 't' }],
    calls: ['t_2.0 preinst upgrade 1.0 2.0', 't_1.0 postrm upgrade 2.0', "t_2.0 postinst configure ''"],
    expect: { t: 'installed' },
  },
  {
    name: 'upgrade of a half-configured package (its postinst failed)',
    setup: [{ dpkg: ['-i', 't1'], fail: ['t_1.0.postinst.configure'], fails: true }],
    dpkg: ['-i', 't2'],
    ours: [{ unpack: 't2' }, { configure: 't' }],
    calls: ['t_1.0 prerm upgrade 2.0', 't_2.0 preinst upgrade 1.0 2.0', 't_1.0 postrm upgrade 2.0', "t_2.0 postinst configure ''"],
    expect: { t: 'installed' },
  },
  {
    name: 'reinstall of the same version',
    setup: [I('t1')],
    dpkg: ['-i', 't1'],
    ours: [{ unpack: 't1' }, { configure: 't' }],
    calls: ['t_1.0 prerm upgrade 1.0', 't_1.0 preinst upgrade 1.0 1.0', 't_1.0 postrm upgrade 1.0', 't_1.0 postinst configure 1.0'],
    expect: { t: 'installed' },
  },
  {
    name: 'downgrade',
    setup: [I('t1')],
    dpkg: ['-i', 't05'],
    ours: [{ unpack: 't05' }, { configure: 't' }],
    calls: ['t_1.0 prerm upgrade 0.5', 't_0.5 preinst upgrade 1.0 0.5', 't_1.0 postrm upgrade 0.5', 't_0.5 postinst configure 1.0'],
    expect: { t: 'installed' },
  },
  {
    name: 'remove',
    setup: [I('t1')],
    dpkg: ['-r', 't'],
    ours: [{ remove: 't' }],
    calls: ['t_1.0 prerm remove', 't_1.0 postrm remove'],
    expect: { t: 'config-files' },
  },
  {
    name: 'remove, prerm fails',
    setup: [I('t1')],
    fail: ['t_1.0.prerm.remove'],
    dpkg: ['-r', 't'],
    ours: [{ remove: 't' }],
    calls: ['t_1.0 prerm remove', 't_1.0 postinst abort-remove'],
    expect: { t: 'installed' },
  },
  {
    name: 'remove, postrm remove fails (files are gone: nothing unwinds)',
    setup: [I('t1')],
    fail: ['t_1.0.postrm.remove'],
    dpkg: ['-r', 't'],
    ours: [{ remove: 't' }],
    calls: ['t_1.0 prerm remove', 't_1.0 postrm remove'],
    expect: { t: 'half-installed' },
  },
  {
    name: 'purge an installed package',
    setup: [I('t1')],
    dpkg: ['-P', 't'],
    ours: [{ purge: 't' }],
    calls: ['t_1.0 prerm remove', 't_1.0 postrm remove', 't_1.0 postrm purge'],
    expect: { t: 'not-installed' },
  },
  {
    name: 'purge from config-files',
    setup: [I('t1'), { dpkg: ['-r', 't'] }],
    dpkg: ['-P', 't'],
    ours: [{ purge: 't' }],
    calls: ['t_1.0 postrm purge'],
    expect: { t: 'not-installed' },
  },
  {
    name: 'purge, postrm purge fails',
    setup: [I('t1')],
    fail: ['t_1.0.postrm.purge'],
    dpkg: ['-P', 't'],
    ours: [{ purge: 't' }],
    calls: ['t_1.0 prerm remove', 't_1.0 postrm remove', 't_1.0 postrm purge'],
    expect: { t: 'config-files' },
  },
  {
    name: 'deconfigure for Breaks (--auto-deconfigure)',
    setup: [I('b1')],
    dpkg: ['-i', '--auto-deconfigure', 'n1'],
    ours: [{ unpack: 'n1', deconfigure: [{ name: 'b' }] }, { configure: 'n' }],
    calls: ['b_1.0 prerm deconfigure in-favour n 1.0', 'n_1.0 preinst install', "n_1.0 postinst configure ''"],
    // b stays broken by n, so dpkg cannot configure it again and says so (exit 1); no script is involved.
    expect: { b: 'half-configured', n: 'installed' },
    dpkgFails: true,
  },
  {
    name: 'deconfigure for Breaks, the new preinst fails',
    setup: [I('b1')],
    fail: ['n_1.0.preinst.install'],
    dpkg: ['-i', '--auto-deconfigure', 'n1'],
    ours: [{ unpack: 'n1', deconfigure: [{ name: 'b' }] }, { configure: 'n' }],
    calls: ['b_1.0 prerm deconfigure in-favour n 1.0', 'n_1.0 preinst install', 'n_1.0 postrm abort-install', 'b_1.0 postinst abort-deconfigure in-favour n 1.0'],
    expect: { b: 'installed', n: 'not-installed' },
  },
  {
    name: 'conflictor removed in favour (Conflicts + Replaces)',
    setup: [I('c1'), I('d1')],
    dpkg: ['-i', 'm1'],
    ours: [{ unpack: 'm1', conflictors: ['c'] }, { configure: 'm' }],
    calls: ['c_1.0 prerm remove in-favour m 1.0', 'm_1.0 preinst install', 'c_1.0 postrm remove', "m_1.0 postinst configure ''"],
    expect: { c: 'config-files', d: 'installed', m: 'installed' },
  },
  {
    name: 'conflictor removed in favour, its dependant deconfigured (removing)',
    setup: [I('c1'), I('d1')],
    dpkg: ['-i', '--auto-deconfigure', 'k1'],
    ours: [{ unpack: 'k1', deconfigure: [{ name: 'd', removing: 'c' }], conflictors: ['c'] }, { configure: 'k' }],
    calls: [
      'd_1.0 prerm deconfigure in-favour k 1.0 removing c 1.0',
      'c_1.0 prerm remove in-favour k 1.0',
      'k_1.0 preinst install',
      'c_1.0 postrm remove',
      "k_1.0 postinst configure ''",
    ],
    // d's dependency on c is gone: dpkg cannot configure it again and says so (exit 1), no script involved.
    expect: { c: 'config-files', d: 'half-configured', k: 'installed' },
    dpkgFails: true,
  },
  {
    name: 'conflictor removed in favour, the new preinst fails',
    setup: [I('c1'), I('d1')],
    fail: ['k_1.0.preinst.install'],
    dpkg: ['-i', '--auto-deconfigure', 'k1'],
    ours: [{ unpack: 'k1', deconfigure: [{ name: 'd', removing: 'c' }], conflictors: ['c'] }, { configure: 'k' }],
    calls: [
      'd_1.0 prerm deconfigure in-favour k 1.0 removing c 1.0',
      'c_1.0 prerm remove in-favour k 1.0',
      'k_1.0 preinst install',
      'k_1.0 postrm abort-install',
      'c_1.0 postinst abort-remove in-favour k 1.0',
      'd_1.0 postinst abort-deconfigure in-favour k 1.0 removing c 1.0',
    ],
    expect: { c: 'installed', d: 'installed', k: 'not-installed' },
  },
  {
    name: 'disappear: every file of a taken over (Replaces)',
    setup: [I('a1')],
    dpkg: ['-i', 'r1'],
    ours: [{ unpack: 'r1', disappear: ['a'] }, { configure: 'r' }],
    calls: ['r_1.0 preinst install', 'a_1.0 postrm disappear r 1.0', "r_1.0 postinst configure ''"],
    expect: { a: 'not-installed', r: 'installed' },
  },
  {
    name: 'disappear, postrm disappear fails (after the checkpoint: nothing unwinds)',
    setup: [I('a1')],
    fail: ['a_1.0.postrm.disappear'],
    dpkg: ['-i', 'r1'],
    ours: [{ unpack: 'r1', disappear: ['a'] }, { configure: 'r' }],
    calls: ['r_1.0 preinst install', 'a_1.0 postrm disappear r 1.0'],
    expect: { a: 'installed', r: 'half-installed reinstreq' },
  },
];

SCENARIOS.push(
  {
    name: 'Multi-Arch: same, second architecture installed (refcount 2)',
    setup: [{ dpkg: ['--add-architecture', 'i386'] }, I('maAmd64')],
    dpkg: ['-i', 'maI386'],
    ours: [{ unpack: 'maI386' }, { configure: 'ma:i386' }],
    calls: ['ma_1.0 preinst install', "ma_1.0 postinst configure ''"],
    expect: { 'ma:i386': 'installed', 'ma:amd64': 'installed' },
  },
  {
    name: 'Multi-Arch: same, one of two architectures removed',
    setup: [{ dpkg: ['--add-architecture', 'i386'] }, I('maAmd64'), I('maI386')],
    dpkg: ['-r', 'ma:i386'],
    ours: [{ remove: 'ma:i386' }],
    calls: ['ma_1.0 prerm remove', 'ma_1.0 postrm remove'],
    expect: { 'ma:i386': 'config-files', 'ma:amd64': 'installed' },
  },
);

const MODES: ScriptRunMode[] = ['chrootless', 'chroot'];

let workDir = '';
const debs: Record<string, string> = {};
let forces: string[] = [];
let nativeArch = '';
let umask = 0;

before(async () => {
  // Both dpkg and our runner must give scripts umask 022 whatever they were started with.
  umask = process.umask(0o027);
  workDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'overmerge-scripts-'));
  for (const [key, pkg] of Object.entries(PACKAGES)) debs[key] = await buildLoggingDeb(workDir, { ...pkg, tag: key });
  forces = await hostConfigForces();
  nativeArch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
});

after(async () => {
  process.umask(umask);
  if (workDir) await fsp.rm(workDir, { recursive: true, force: true });
});

/** `t_1.0 prerm upgrade 2.0` from a log's call line. */
export function compact(line: string): string {
  const m = line.match(/^(\S+) (\S+) \[\d+\]((?: <[^>]*>)*) cwd=/);
  if (!m) return `unparsed: ${line}`;
  const script = m[2].replace(/^.*[./]/, '');
  const args = [...m[3].matchAll(/<([^>]*)>/g)].map((a) => (a[1] === '' ? "''" : a[1]));
  return [m[1], script, ...args].join(' ');
}

function shown(s: PackageState): string {
  return s.reinstreq ? `${s.status} reinstreq` : s.status;
}

const argsFor = (args: string[]) => args.map((a) => debs[a] ?? a);

for (const mode of MODES) {
  describe(`maintainer scripts against dpkg (${mode})`, async () => {
    const skip = await cannotRunScriptOracle(mode);
    for (const sc of SCENARIOS) {
      test(sc.name, { skip }, async () => {
        const base = await fsp.mkdtemp(path.join(workDir, 'run-'));
        const theirs = path.join(base, 'dpkg');
        const ours = path.join(base, 'ours');
        await prepareScriptRoot(theirs, mode);
        for (const step of sc.setup ?? []) {
          await makeFail(theirs, step.fail ?? []);
          const r = await runDpkg(theirs, mode, argsFor(step.dpkg));
          assert.equal(r.status !== 0, step.fails === true, `setup dpkg ${step.dpkg.join(' ')}:\n${r.output}`);
          await fsp.rm(path.join(theirs, 'fail'), { recursive: true, force: true });
        }
        await makeFail(theirs, sc.fail ?? []);
        await fsp.rm(path.join(theirs, LOG), { force: true });
        const before = await readDpkgDb(theirs);
        await copyRoot(theirs, ours);

        const d = await runDpkg(theirs, mode, argsFor(sc.dpkg));
        const dpkgLog = await readLog(theirs);
        const o = await runOurs(ours, mode, sc.ours, debs, { forces, nativeArch, outputFile: path.join(base, 'ours.out') });
        const ourLog = await readLog(ours);
        const context = `dpkg said:\n${d.output}\nour steps:\n${o.steps.join('\n')}`;

        assert.deepEqual(callLines(dpkgLog).map(compact), sc.calls, `dpkg's calls are not the documented ones\n${context}`);
        assert.deepEqual(ourLog, dpkgLog, `our calls differ from dpkg's\n${context}`);
        const after = await readDpkgDb(theirs);
        for (const name of Object.keys(sc.expect)) {
          const theirState = shown(dbState(after, name));
          const ourState = shown(o.states.get(name) ?? dbState(before, name));
          assert.equal(theirState, sc.expect[name], `dpkg left ${name} ${theirState}\n${context}`);
          assert.equal(ourState, theirState, `we left ${name} ${ourState}, dpkg ${theirState}\n${context}`);
        }
        assert.equal(d.status !== 0, sc.dpkgFails === true || !o.ok, `dpkg exit ${d.status}, our sequences ${o.ok ? 'went through' : 'failed'}\n${context}`);
        await fsp.rm(base, { recursive: true, force: true });
      });
    }
  });
}
