import { CONTROL_TMP_DIR } from '../dpkg/admindir';
import type { DpkgDb } from '../dpkg/dpkg-db';
import { OvermergeError } from '../errors';
import { makePrivateDirectory, removeTree } from '../fs/entries';
import { hostJoin, resolveHostPath, type HostPath } from '../fs/host-path';
import { NewFile } from '../fs/new-file';
import { rootPathFromHost, type RootPath } from '../fs/rootpath';
import type { StagedPackage } from '../model/staged-package';
import type { Writer } from './context';
import type { AnyPlannedStep } from './phases/execute';
import type { InstallRequest, RemoveRequest } from './plan-model';
import { removalScripts, unpackScripts, type PackageScripts, type ScriptPlanContext } from './script-plan';
import type { ScriptSession, ScriptSettings } from './script-session';
import type { StagingStep } from './steps/staging';

/** The control members dpkg runs as maintainer scripts. */
const SCRIPTS = ['preinst', 'postinst', 'prerm', 'postrm'] as const;

/**
 * The new version's scripts that may run from its control area before the commit: the preinst (and
 * debconf's config, which only a preinst starts), the prerm and postrm as dpkg's fallbacks and abort calls.
 * Its postinst runs from info/, after the commit.
 */
const RUN_FROM_CONTROL_AREA = ['preinst', 'prerm', 'postrm'] as const;

/**
 * The maintainer-script flows of an install: each archive's control area written where a chrooted script
 * can be run (a folder of dpkg's admin folder, which must be inside the root) when it has a script that
 * may run from there, and dpkg's protocol for it against what dpkg's database says is installed.
 */
export async function installFlows(
  w: Writer,
  dpkg: DpkgDb,
  session: ScriptSession,
  installs: readonly InstallRequest[],
  run: (steps: readonly AnyPlannedStep[]) => Promise<void>,
  configure: boolean,
): Promise<PackageScripts[]> {
  const ctx = planContext(dpkg, session);
  const admin = w.loc.dpkgAdmin ?? resolveHostPath(dpkg.admin.dir);
  const flows: PackageScripts[] = [];
  // dpkg's own folder for the archive being unpacked, so that $0 is what it is under dpkg — and debconf's
  // frontend, run from a preinst, reads the package's name from ADMIN/tmp.ci/control. A transaction has at
  // most one archive with a preinst (install.ts cuts there): it gets tmp.ci; the others (whose new postrm
  // only an abort would call) get a folder of their own beside it.
  const first = Math.max(0, installs.findIndex((i) => i.staged.controlFiles.has('preinst')));
  const dirs = installs.map((_, i) => hostJoin(admin, i === first ? CONTROL_TMP_DIR : `${CONTROL_TMP_DIR}.${i}`));
  for (const dir of dirs) await removeTree(dir); // what an interrupted dpkg left, as dpkg clears it
  // An archive without a script that runs from there is not given one: nothing would read it (its info
  // files are written from the archive itself), and most archives of a bootstrap have none.
  const used = installs.map((i) => RUN_FROM_CONTROL_AREA.some((n) => i.staged.controlFiles.has(n)));
  // Journaled together (one synced intent, not one an archive), so that undo and finish remove them.
  await run(dirs.filter((_, i) => used[i]).map((dir): StagingStep => ({ kind: 'staging', dir })));
  for (let i = 0; i < installs.length; i++) {
    const staged = installs[i].staged;
    const newScripts = used[i] ? await stageScripts(w, staged, dirs[i]) : inRoot(w, dirs[i]);
    flows.push(unpackScripts({ staged, newScripts, installed: dpkg.get(staged.name, staged.architecture), configure }, ctx));
  }
  return flows;
}

/** The flows of a removal or purge: the prerm before the files go, the postrm after the commit. */
export function removalFlows(dpkg: DpkgDb, session: ScriptSession, removals: readonly RemoveRequest[]): PackageScripts[] {
  const ctx = planContext(dpkg, session);
  const flows: PackageScripts[] = [];
  for (const r of removals) {
    const now = dpkg.get(r.pkg.name, r.pkg.architecture);
    if (now === undefined || now.status.state === 'not-installed') continue;
    const ref = { name: now.name, arch: now.arch };
    const types = dpkg.infoFiles(ref);
    if (now.status.state === 'config-files') {
      // Only the purge is left to do: postrm purge, after the conffiles went.
      if (!r.purge) continue;
    }
    flows.push(removalScripts(now, r.purge, types.includes('postrm'), now.conffiles.length > 0, ctx));
  }
  return flows;
}

/**
 * Archives with maintainer scripts on a root without dpkg's database, where installed scripts would live:
 * with --no-scripts each one is named as not run; otherwise the transaction is refused before it starts.
 */
export function scriptsWithoutDpkg(staged: readonly StagedPackage[], settings: ScriptSettings | undefined): void {
  if (settings === undefined) return;
  for (const s of staged) {
    const present = SCRIPTS.filter((n) => s.controlFiles.has(n));
    if (present.length === 0) continue;
    if (settings.mode === 'disabled') {
      for (const n of present) settings.notice(`not running ${s.name}'s ${n}: maintainer scripts are disabled (--no-scripts)`);
      continue;
    }
    throw new OvermergeError('E_SCRIPT_REFUSED', `${s.archive}: ${s.name} has maintainer scripts (${present.join(', ')}), but the root has no dpkg database to run them with`, {
      op: 'run scripts',
      hint: 'create ROOT/var/lib/dpkg (or give --admindir), or pass --no-scripts to skip them',
    });
  }
}

/** What the script protocol needs to know of the database and the session, for the flows of one transaction. */
export function planContext(dpkg: DpkgDb, session: ScriptSession): ScriptPlanContext {
  const instances = dpkg.packages().filter((p) => p.status.state !== 'not-installed');
  return {
    nativeArch: dpkg.nativeArch,
    admindir: session.admindir,
    otherInstances: (name, arch) => instances.filter((p) => p.name === name && p.arch !== arch).length,
  };
}

/** Writes the archive's maintainer scripts (0755) into `dir`; returns where they are inside the root. */
async function stageScripts(w: Writer, staged: StagedPackage, dir: HostPath): Promise<RootPath> {
  const where = inRoot(w, dir);
  await makePrivateDirectory(dir, 'create staging folder');
  // The whole control area, as dpkg extracts it there: scripts read their siblings (debconf's frontend,
  // run from a preinst, takes the package's name from tmp.ci/control and loads tmp.ci/templates, then runs
  // tmp.ci/config).
  for (const [name, body] of staged.controlFiles) {
    const executable = (SCRIPTS as readonly string[]).includes(name) || name === 'config';
    const f = NewFile.create(hostJoin(dir, name), 'stage control member');
    try {
      f.write([body]);
      f.setMeta({ mode: executable ? 0o755 : 0o644, uid: 0, gid: 0, mtime: Date.now() / 1000 }, false);
    } finally {
      f.close();
    }
  }
  return where;
}

/** The control area's folder as the scripts in the root see it; refused where they cannot (outside the root). */
function inRoot(w: Writer, dir: HostPath): RootPath {
  try {
    return rootPathFromHost(w.loc.root, dir);
  } catch {
    throw new OvermergeError('E_SCRIPT_REFUSED', `maintainer scripts are unpacked in ${dir}, outside the root, where a script in the root cannot be run from`, {
      op: 'run scripts',
      hint: "give --admindir a folder inside the root (dpkg's database belongs to the root)",
    });
  }
}
