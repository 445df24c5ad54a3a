import { compareVersions } from '../../control/version';
import { checkBreaks, checkConflict, UnpackDecisions } from './conflicts';
import { depIsOk } from './depisok';
import { disappearOthers } from './disappear';
import { type Db, type Dep, makeBin, type Pkg, type PkgSet } from './model';
import { pkgLabel, refOf } from './names';
import type { Run } from './run';
import type { PackageData, PackageRef } from './types';

/** What unpacking one archive did, for the queue that configures afterwards. */
export interface Unpacked {
  readonly pkg: Pkg;
  /** Packages deconfigured for it, in the order dpkg queues them for reconfiguration. */
  readonly deconfigured: readonly Pkg[];
  /** Conflictors removed in favour of it. */
  readonly removed: readonly Pkg[];
  /** Packages that disappeared, replaced by it. */
  readonly disappeared: readonly Pkg[];
}

/** dpkg's name for an archive in its messages; the engine passes the real file name when it has one. */
export function archiveName(data: PackageData): string {
  return data.archive ?? `${data.name}_${data.version}_${data.architecture}.deb`;
}

/**
 * dpkg's process_archive (src/main/unpack.c), the relation part: find the instance the archive goes to,
 * check its Pre-Depends, Conflicts and Breaks (and installed packages' Conflicts against it), and if they
 * hold, plan its unpack with what goes with it — deconfigurations first, then the unpack (conflictors'
 * prerm in favour of it), packages that disappear, the conflictors' removal. dpkg stops at the first
 * failed check of an archive; this goes on through all of them so one verdict can list every problem.
 * Returns undefined when the archive is refused.
 */
export function processArchive(run: Run, data: PackageData): Unpacked | undefined {
  const archive = archiveName(data);
  if (!architectureOk(run, data, archive)) return undefined;
  const set = run.db.findSet(data.name);
  const pkg = findSlot(run, set, data, archive);
  if (!pkg) return undefined;

  run.db.setAvailable(pkg, makeBin(pkg, data));
  run.clearIsToBes();
  pkg.want = 'install';

  const d = new UnpackDecisions(pkg, archive);
  deconfigureOutOfSync(run, pkg, d);
  if (!checkDepCon(run, pkg, d)) {
    // Given up: nothing planned for this archive stands (dpkg unwinds it the same way).
    run.clearIsToBes();
    return undefined;
  }
  return applyUnpack(run, pkg, d);
}

function architectureOk(run: Run, data: PackageData, archive: string): boolean {
  const cls = run.arches.classify(data.architecture);
  if (cls === 'all' || cls === 'native' || cls === 'foreign') return true;
  const message = `package architecture (${data.architecture}) does not match system (${run.arches.native})`;
  if (run.inForce('architecture')) {
    run.warn(`overriding problem because --force enabled:\n${message}`);
    return true;
  }
  run.problem({ kind: 'architecture', pkg: archive, detail: '', error: message, forcedBy: ['--force-architecture'] });
  return false;
}

/**
 * dpkg's parse_find_pkg_slot for an archive: with one instance installed the archive replaces it (a
 * cross-grade when the architecture differs), unless both are Multi-Arch: same; with several installed
 * (Multi-Arch: same) only another Multi-Arch: same instance can join them.
 */
function findSlot(run: Run, set: PkgSet, data: PackageData, archive: string): Pkg | undefined {
  const db: Db = run.db;
  const installed = db.installedInstances(set);
  const ma = data.multiArch ?? 'no';
  if (installed.length > 1 && ma !== 'same') {
    const message =
      `package ${data.name}:${data.architecture} (${data.version}) with field 'Multi-Arch: ${ma}' is not ` +
      `co-installable with ${set.name} which has multiple installed instances`;
    run.problem({ kind: 'multi-arch', pkg: archive, detail: '', error: message });
    return undefined;
  }
  if (installed.length === 1) {
    const only = installed[0];
    return only.installed.multiArch === 'same' && ma === 'same' ? db.instanceFor(set, data.architecture) : only;
  }
  return db.instanceFor(set, data.architecture);
}

/** Other instances of a Multi-Arch: same package at another version are deconfigured before the unpack. */
function deconfigureOutOfSync(run: Run, pkg: Pkg, d: UnpackDecisions): void {
  const v = pkg.available!.version!;
  for (const other of pkg.set.pkgs) {
    if (other === pkg) continue;
    if (!['triggers-awaited', 'triggers-pending', 'installed'].includes(other.status)) continue;
    if (other.installed.version && compareVersions(v, other.installed.version) !== 0) {
      d.enqueueDeconfigure(other, 'multiarch-sync');
    }
  }
}

/** dpkg's pkg_check_depcon, going on past the first failure. */
function checkDepCon(run: Run, pkg: Pkg, d: UnpackDecisions): boolean {
  pkg.istobe = 'install-new';
  let ok = true;
  for (const dep of pkg.available!.deps) {
    switch (dep.type) {
      case 'conflicts':
        ok = checkConflict(run, dep, d) && ok;
        break;
      case 'breaks':
        ok = checkBreaks(run, dep, d) && ok;
        break;
      case 'provides':
        // Installed packages conflicting with a name it provides.
        for (const possi of run.db.dependedInstalled(dep.possis[0].name)) {
          if (possi.dep.type === 'conflicts') ok = checkConflict(run, possi.dep, d) && ok;
        }
        break;
      case 'pre-depends':
        ok = checkPreDepends(run, dep, d) && ok;
        break;
      default:
        break;
    }
  }
  // Installed packages conflicting with it.
  for (const possi of run.db.dependedInstalled(pkg.name)) {
    if (possi.dep.type === 'conflicts') ok = checkConflict(run, possi.dep, d) && ok;
  }
  return ok;
}

/**
 * A pre-dependency must be configured — or unpacked over a version that was configured, both versions
 * satisfying it — before the archive is unpacked.
 */
function checkPreDepends(run: Run, dep: Dep, d: UnpackDecisions): boolean {
  const check = depIsOk(run, dep, { allowUnconfigured: true });
  if (check.ok) return true;
  const name = pkgLabel(run.arches, d.pkg, d.pkg.available);
  const detail = `regarding ${d.archive} containing ${name}, pre-dependency problem:\n${check.why}`;
  if (run.forceDepends(dep.possis[0])) {
    run.warn(`${detail}ignoring pre-dependency problem!`);
    return true;
  }
  run.problem({
    kind: 'pre-depends',
    pkg: name,
    detail,
    error: `pre-dependency problem - not installing ${name}`,
    forcedBy: ['--force-depends'],
  });
  return false;
}

function applyUnpack(run: Run, pkg: Pkg, d: UnpackDecisions): Unpacked {
  const arches = run.arches;
  const newRef = refOf(arches, pkg, pkg.available);
  const steps = run.out.steps;

  for (const { pkg: other, reason, removing } of d.deconfigure) {
    steps.push({
      op: 'deconfigure',
      pkg: refOf(arches, other),
      reason,
      inFavourOf: newRef,
      ...(removing ? { removing: refOf(arches, removing) } : {}),
    });
    other.status = 'half-configured';
  }

  const conflictors: PackageRef[] = d.conflictors.map((c) => refOf(arches, c));
  const before = pkg.status;
  const over = before === 'not-installed' || before === 'config-files' ? undefined : pkg.installed.versionText;
  steps.push({ op: 'unpack', pkg: newRef, ...(over === undefined ? {} : { over }), conflictors });

  run.db.setInstalled(pkg, pkg.available!);
  pkg.status = 'unpacked';
  takeOverFiles(run, pkg);

  const disappeared = disappearOthers(run, pkg);
  for (const gone of disappeared) steps.push({ op: 'disappear', pkg: gone.ref, inFavourOf: newRef });

  for (const c of d.conflictors) {
    steps.push({ op: 'remove', pkg: refOf(arches, c), purge: false, inFavourOf: newRef });
    removePackage(run, c, false);
  }
  return {
    pkg,
    deconfigured: d.deconfigure.map((x) => x.pkg),
    removed: d.conflictors,
    disappeared: disappeared.map((x) => x.pkg),
  };
}

/**
 * After an unpack, the files the new package ships belong to it alone (dpkg's
 * pkg_remove_files_from_others); folders stay shared. A path is taken for a folder when the new package
 * ships something beneath it. Only a path another package lists can be taken from it: those are found
 * first, by one look-up per shipped path, and nothing per path is kept unless there are some (a huge
 * archive into a root where nobody else lists its paths makes no set of them).
 */
function takeOverFiles(run: Run, pkg: Pkg): void {
  const shipped = pkg.installed.files;
  const elsewhere = (o: Pkg): boolean => o !== pkg && o.set !== pkg.set;
  const contested = shipped.filter((f) => run.db.someOwnerOf(f, elsewhere));
  if (contested.length === 0) return;
  const folders = foldersOf(shipped);
  const taken = new Set(contested.filter((f) => !folders.has(f)));
  const losers = new Set<Pkg>();
  for (const f of taken) for (const o of run.db.ownersOf(f)) if (elsewhere(o)) losers.add(o);
  for (const other of losers) run.db.setInstalledFiles(other, other.installed.files.filter((f) => !taken.has(f)));
}

/** The folders above `paths` ('' the root folder, above any other path). */
function foldersOf(paths: readonly string[]): Set<string> {
  const folders = new Set<string>();
  for (const f of paths) {
    if (f !== '') folders.add('');
    for (let i = f.lastIndexOf('/'); i > 0; i = f.lastIndexOf('/', i - 1)) {
      const folder = f.slice(0, i);
      // Its own folders were added with it: the next member of a big folder stops at the first step.
      if (folders.has(folder)) break;
      folders.add(folder);
    }
  }
  return folders;
}

/** A package removed (or purged): what dpkg's removal leaves in its database. */
export function removePackage(run: Run, pkg: Pkg, purge: boolean): void {
  const keepsConfig = !purge && pkg.installed.hasConffiles;
  pkg.status = keepsConfig ? 'config-files' : 'not-installed';
  if (!keepsConfig) {
    pkg.configVersion = undefined;
    run.db.setInstalled(pkg, { ...pkg.installed, deps: [], files: [], versionText: '', version: undefined });
  }
  run.db.dropFiles(pkg);
  // istobe stays 'remove' until the next archive or queue clears it, as in dpkg.
}

