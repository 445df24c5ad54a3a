import { compareVersions } from '../control/version';
import { OvermergeError } from '../errors';
import { compareDeepFirst, compareShallowFirst, displayPath, isBeneath, withSuffix, type RootPath } from '../fs/rootpath';
import { ABSENT, type DiskState } from '../model/disk';
import { stagedContent, type EntryMeta, type ManifestEntry } from '../model/entry';
import type { StagedPackage } from '../model/staged-package';
import { refOf, type ChangeAction, type InstalledFile, type InstalledPackage, type Owner, type PackageRef } from '../model/package';
import type { Manifest } from '../model/manifest';
import { KeptMtime, Rows } from './plan-rows';
import { UnlandedRows } from './unlanded-rows';
import type { InstallRequest, PathStep, Plan, PlanInput, PlanStep, RemoveRequest } from './plan-model';
import { conffileVerdict, decideConffile, keptNotice, replacedNotice, type ConffileOnDisk, type ConffileOutcome } from './conffile-rules';
import type { Aside } from './steps/aside';
import type { MkdirStep } from './steps/mkdir';

/**
 * Turns "what the archives ship" × "what the database and the root hold" into an ordered list of filesystem
 * steps and the rows the commit will write. Pure: every fact it needs is in `input`, so it is tested with
 * plain data and cannot leave anything half-done. It throws OvermergeError('E_CONFLICT') for a transaction
 * that must not start.
 *
 * Step order: directories (parents first), then everything else in archive order (so a hard link follows
 * its target), then removals of vanished paths (children first) — new files are in before old ones go.
 */
export function plan(input: PlanInput): Plan {
  return new Planner(input).run();
}

const keyOf = (p: PackageRef): string => `${p.name}:${p.architecture}`;

class Planner {
  private readonly dirSteps: MkdirStep[] = [];
  private readonly placeSteps: PlanStep[] = [];
  /** Fresh files in a row of the manifest being planned, not yet in placeSteps (see place and extendRun). */
  private pendingRun: { entries: Manifest; from: number; to: number } | undefined;
  private readonly removals = new Set<RootPath>();
  /**
   * Non-directory paths claimed by a package installed in this transaction (resolved path → package).
   * Kept only where another request of the transaction can meet them (see keepsClaims).
   */
  private readonly claimed = new Map<RootPath, StagedPackage>();
  private readonly keepsClaims: boolean;
  /** Directories that already have their step. */
  private readonly dirsPlanned = new Set<RootPath>();
  /** Directories wanted by a package installed in this transaction. */
  private readonly wantedDirs = new Set<RootPath>();
  /**
   * Hard-link targets the plan leaves as they are (identical to what the archive ships). Only link targets
   * are kept: a reinstall of a huge package leaves every member alone (a set of 116,010 paths, 4 MiB).
   */
  private readonly leftAlone = new Set<RootPath>();
  /** What the hard links of this transaction's archives point to (resolved). */
  private readonly linkTargets = new Set<RootPath>();
  /** Old paths that leave together with a directory that is moved aside whole. */
  private readonly goneWithParent: RootPath[] = [];
  /** Each install request's installed rows at paths none of its entries landed on (what vanishes). */
  private readonly unlandedBy = new Map<InstallRequest, UnlandedRows>();
  /** Packages this transaction rewrites or deletes: their rows are not "other owners". */
  private readonly inTxn = new Set<string>();
  private readonly result: Plan = { steps: [], records: [], deleted: [], disowned: [], changes: [], notices: [], bytes: 0 };

  constructor(private readonly input: PlanInput) {
    for (const r of input.installs) this.inTxn.add(keyOf(r.staged));
    for (const r of input.removals) this.inTxn.add(keyOf(r.pkg));
    // With one install and nothing else, no other request can conflict with its paths nor keep them, and
    // where its claims are asked about (the installed version's files) no claimed path is among its
    // installed rows left: no map entry a member beside it (4 MiB for 116,010 members, at planning's peak).
    this.keepsClaims = input.installs.length > 1 || input.removals.length > 0 || (input.extraRemovals?.length ?? 0) > 0;
  }

  run(): Plan {
    this.checkDuplicatePackages();
    for (const req of this.input.installs) this.claimPaths(req);
    for (const req of this.input.installs) this.planInstall(req);
    this.endRun();
    for (const rows of this.unlandedBy.values()) this.planVanished(rows.values(), false);
    for (const req of this.input.removals) this.planRemoval(req);
    for (const p of this.input.extraRemovals ?? []) if (!this.claimed.has(p)) this.removals.add(p);
    const removeSteps = this.orderedRemovals();
    this.result.steps = [
      ...this.dirSteps.sort((a, b) => compareShallowFirst(a.path, b.path)),
      ...this.placeSteps,
      ...removeSteps,
    ];
    return this.result;
  }

  private checkDuplicatePackages(): void {
    const seen = new Set<string>();
    for (const r of this.input.installs) {
      const k = keyOf(r.staged);
      if (seen.has(k)) {
        throw new OvermergeError('E_CONFLICT', `${r.staged.archive}: package ${r.staged.name} is given twice in one transaction`, {
          op: 'plan',
          path: r.staged.archive,
        });
      }
      seen.add(k);
    }
  }

  /** Records which package of this transaction ships each path, refusing two packages shipping one file. */
  private claimPaths(req: InstallRequest): void {
    for (const entry of req.staged.entries) {
      if (entry.type === 'hardlink' && entry.linkTo !== undefined) this.linkTargets.add(req.resolved.get(entry.linkTo) ?? entry.linkTo);
      // A filtered path is not placed, nor kept: what the installed version left there goes (planFiltered).
      if (entry.filtered) continue;
      const at = this.at(req, entry);
      if (entry.type === 'directory') {
        this.wantedDirs.add(at);
        continue;
      }
      const other = this.claimed.get(at);
      if (other && other !== req.staged) {
        const a = req.staged;
        const ref: PackageRef = { name: other.name, architecture: other.architecture, version: other.version };
        if (!this.input.replaces(a, ref) && !this.input.options.forceOverwrite) {
          throw conflict(a, displayPath(at), ref);
        }
      }
      if (this.keepsClaims) this.claimed.set(at, req.staged);
    }
  }

  private at(req: InstallRequest, entry: ManifestEntry): RootPath {
    return req.resolved.get(entry.path) ?? entry.path;
  }

  private disk(p: RootPath): DiskState {
    return this.input.disk.get(p) ?? ABSENT;
  }

  /** Owners of `p` outside this transaction's packages. */
  private othersOwning(p: RootPath): Owner[] {
    return (this.input.owners.get(p) ?? []).filter((o) => !this.inTxn.has(keyOf(o)));
  }

  private othersBeneath(p: RootPath): Owner[] {
    return (this.input.ownedBeneath.get(p) ?? []).filter((o) => !this.inTxn.has(keyOf(o)));
  }

  private planInstall(req: InstallRequest): void {
    const { staged, old } = req;
    // The installed rows, each marked as an entry lands on it: what is left vanishes.
    const unlanded = new UnlandedRows(old?.files ?? []);
    if (old) this.unlandedBy.set(req, unlanded);
    const files = new Rows(staged.entries);
    // Two members land at one path only through the root's directory symlinks (staging refuses a path
    // shipped twice): only then is a set of the paths landed on kept.
    const landed = req.resolved.size === 0 ? undefined : new Set<RootPath>();
    for (let i = 0; i < staged.entries.length; i++) {
      const entry = staged.entries.at(i);
      const at = this.at(req, entry);
      // Through the root's directory symlinks (merged /usr) two shipped paths can be one real path.
      if (landed?.has(at)) {
        const alias = staged.entries.find((e) => this.at(req, e) === at)!;
        if (alias.type === 'directory' && entry.type === 'directory') continue;
        throw aliasConflict(staged, alias.path, entry.path, at);
      }
      const oldIndex = unlanded.find(at);
      const oldRow = oldIndex < 0 ? undefined : unlanded.row(oldIndex);
      if (entry.filtered) {
        const row = this.planFiltered(req.staged, entry, at, oldRow);
        // A kept conffile has landed; anything else the installed version had there goes.
        if (oldRow !== undefined && row === oldRow) {
          landed?.add(at);
          unlanded.land(oldIndex);
        }
        files.push(row, entry, i);
        continue;
      }
      landed?.add(at);
      if (oldIndex >= 0) unlanded.land(oldIndex);
      const given = req.rows?.get(entry.path);
      const row = given ? { ...given, path: at } : rowFor(entry, at);
      if (entry.type === 'directory') this.planDirectory(staged, entry, at);
      else if (entry.conffile && entry.type === 'file') this.planConffile(staged, entry, at, oldRow, row);
      else {
        const planned = this.planNonDirectory(req, i, entry, at, oldRow, row);
        if (planned instanceof KeptMtime) files.pushWithMtime(planned.row, entry, i, planned.mtime);
        else files.push(planned, entry, i);
        continue;
      }
      files.push(row, entry, i);
    }
    // dpkg keeps conffiles a new version no longer ships ("obsolete"); so do we, still owned.
    for (const f of unlanded.values()) {
      if (f.conffile && !this.claimed.has(f.path)) files.pushKept(f);
    }
    this.result.records.push({ staged, ref: refOf(staged), status: req.status, files: files.done() });
    this.result.changes.push({
      name: staged.name,
      architecture: staged.architecture,
      action: changeAction(old, staged.version),
      oldVersion: old?.version,
      newVersion: staged.version,
    });
  }

  /**
   * A path dpkg's filters keep out of the root: nothing placed, but the package's path all the same, as
   * dpkg records it, its conflicts with installed packages judged before the filter, as dpkg judges them.
   * The row says what the archive ships, with no digest (dpkg never read it), a conffile's hash
   * `newconffile`. What the installed version placed there goes like a vanished file (dpkg's filtered
   * member is not "in the archive" when it removes the old version's files), but a conffile, which dpkg
   * never removes on upgrade: it stays, with its row.
   */
  private planFiltered(staged: StagedPackage, entry: ManifestEntry, at: RootPath, oldRow: InstalledFile | undefined): InstalledFile {
    if (entry.type !== 'directory') this.checkOwners(staged, entry, at);
    if (entry.conffile && oldRow?.conffile) return oldRow;
    return rowFor(entry, at);
  }

  private planDirectory(staged: StagedPackage, entry: ManifestEntry, at: RootPath): void {
    // Several packages of one transaction may ship a directory: it is made once, the first one's way.
    if (this.dirsPlanned.has(at)) return;
    this.dirsPlanned.add(at);
    const d = this.disk(at);
    // dpkg leaves an existing directory exactly as it is (mode and owner too: dpkg-statoverride's business),
    // and so do we; adjusting it would also copy it up on an overlay root.
    if (d.type === 'directory') return;
    // dpkg follows a symlink the root has where the package has a directory (merged /usr): keep it.
    if (d.type === 'symlink' && d.targetIsDir) return;
    if (d.type === 'absent') {
      this.dirSteps.push({ kind: 'mkdir', path: at, meta: metaOf(entry), aside: 'none' });
      return;
    }
    for (const o of this.othersOwning(at)) {
      if (!this.input.replaces(staged, o) && !this.input.options.forceOverwrite) throw conflict(staged, displayPath(at), o);
      this.result.disowned.push({ owner: o, path: at });
    }
    this.dirSteps.push({ kind: 'mkdir', path: at, meta: metaOf(entry), aside: 'move' });
  }

  /** The non-directory `entry`, `req.staged.entries.at(index)`, landing at `at`. */
  private planNonDirectory(
    req: InstallRequest,
    index: number,
    entry: ManifestEntry,
    at: RootPath,
    oldRow: InstalledFile | undefined,
    row: InstalledFile,
  ): InstalledFile | KeptMtime {
    const d = this.disk(at);
    this.checkOwners(req.staged, entry, at);
    // Taken as the root holds it (checkContent refuses the plan if it is missing).
    if (entry.claimsExisting && d.type === 'file') {
      this.leaveAlone(at);
      return row;
    }
    // A claimed symlink the root holds as the package ships it (target, owner, time): making it again would
    // change nothing but its inode, and cost a link, a rename and a backup let go of.
    if (entry.claimsExisting && entry.type === 'symlink' && sameSymlink(d, entry)) {
      this.leaveAlone(at);
      return row;
    }
    if (d.type === 'directory') {
      // dpkg never replaces a directory with a symlink: it keeps the directory.
      if (entry.type === 'symlink') {
        this.result.notices.push(`${req.staged.name}: keeping directory ${displayPath(at)} where the package ships a symlink`);
        return row;
      }
      this.checkDirectoryReplaceable(req, at, d);
      this.place(placeStep(req.resolved, entry, at, 'move'));
      this.result.bytes += entry.size;
      return row;
    }
    const keptTarget = this.keptLinkTarget(req, entry);
    if (entry.type === 'hardlink' && keptTarget !== undefined && d.type === 'file' && d.ino !== undefined && d.ino === keptTarget.ino) {
      // Already a name of the very inode its target keeps: nothing to link (and rename(2) of one hard link
      // over another of the same inode does nothing, leaving the new name behind).
      this.leaveAlone(at);
      return row;
    }
    if (oldRow && unchanged(oldRow, entry, d, keptTarget)) {
      // Identical content and metadata: leave the file alone (no copy-up on an overlay root). Its row keeps
      // the installed mtime, the file's own.
      this.leaveAlone(at);
      return new KeptMtime(row, oldRow.mtime);
    }
    // A file claimed as the root holds it is not fresh, though absent: its own step, which checkContent refuses.
    if (entry.type === 'file' && d.type === 'absent' && at === entry.path && !entry.claimsExisting) this.extendRun(req.staged.entries, index);
    else this.place(placeStep(req.resolved, entry, at, d.type === 'absent' ? 'none' : 'link'));
    if (entry.type === 'file') this.result.bytes += entry.size;
    return row;
  }

  /**
   * Plans `entries[index]`, a file placed fresh at its shipped path (what placeStep would make with aside
   * 'none'), as part of a run of such files in a row: a PlaceFilesRun once the run is long enough.
   */
  private extendRun(entries: Manifest, index: number): void {
    if (this.pendingRun !== undefined && this.pendingRun.entries === entries && this.pendingRun.to === index) {
      this.pendingRun.to++;
      return;
    }
    this.endRun();
    this.pendingRun = { entries, from: index, to: index + 1 };
  }

  /** The run so far into placeSteps: as one PlaceFilesRun if it is long enough, else a step a member. */
  private endRun(): void {
    const run = this.pendingRun;
    if (run === undefined) return;
    this.pendingRun = undefined;
    if (run.to - run.from >= PLACE_RUN_MIN) this.placeSteps.push({ kind: 'place-files', entries: run.entries, from: run.from, to: run.to });
    else {
      for (let i = run.from; i < run.to; i++) {
        const entry = run.entries.at(i);
        this.placeSteps.push({ kind: 'place-file', path: entry.path, entry, aside: 'none' });
      }
    }
  }

  /** Adds a step after the steps planned so far (a run of fresh files among them). */
  private place(step: PathStep): void {
    this.endRun();
    this.placeSteps.push(step);
  }

  private leaveAlone(at: RootPath): void {
    if (this.linkTargets.has(at)) this.leftAlone.add(at);
  }

  /** For a hard link: its target's disk state, when the plan leaves that target as it is. */
  private keptLinkTarget(req: InstallRequest, entry: ManifestEntry): DiskState | undefined {
    if (entry.type !== 'hardlink' || entry.linkTo === undefined) return undefined;
    const to = req.resolved.get(entry.linkTo) ?? entry.linkTo;
    return this.leftAlone.has(to) ? this.disk(to) : undefined;
  }

  private checkOwners(staged: StagedPackage, entry: ManifestEntry, at: RootPath): void {
    for (const o of this.othersOwning(at)) {
      if (o.type === 'directory') {
        throw new OvermergeError(
          'E_CONFLICT',
          `${staged.name}: trying to overwrite directory '${displayPath(at)}' in package ${o.name} ${o.version} with nondirectory`,
          { op: 'plan', path: displayPath(at) },
        );
      }
      if (this.input.replaces(staged, o)) {
        this.result.disowned.push({ owner: o, path: at });
      } else if (this.input.options.forceOverwrite) {
        this.result.disowned.push({ owner: o, path: at });
        this.result.notices.push(`${staged.name}: overwriting '${displayPath(at)}', which is also in package ${o.name} ${o.version}`);
      } else {
        throw conflict(staged, displayPath(at), o);
      }
    }
    void entry;
  }

  /** A directory may become a non-directory only when nothing beneath it belongs to anyone else. */
  private checkDirectoryReplaceable(req: InstallRequest, at: RootPath, d: DiskState): void {
    const others = [...this.othersOwning(at), ...this.othersBeneath(at)];
    if (others.length > 0) {
      const o = others[0];
      throw new OvermergeError(
        'E_CONFLICT',
        `${req.staged.name}: cannot replace directory '${displayPath(at)}' with a file: package ${o.name} ${o.version} owns files in it`,
        { op: 'plan', path: displayPath(at) },
      );
    }
    const ours = this.unlandedBy.get(req);
    for (const p of d.beneath ?? []) {
      if (!ours?.has(p)) {
        throw new OvermergeError(
          'E_CONFLICT',
          `${req.staged.name}: cannot replace directory '${displayPath(at)}' with a file: it holds '${displayPath(p)}', which the package does not own`,
          { op: 'plan', path: displayPath(p), hint: 'move the file away, then try again' },
        );
      }
      this.goneWithParent.push(p);
    }
  }

  /**
   * A config file. Unpacking puts the new version beside the file as `.dpkg-new`, for configure to decide
   * on (as dpkg's unpack does); installing decides at once, by dpkg's conffile rules (conffile-rules.ts).
   * Either way a root that already holds exactly the new version is left alone.
   */
  private planConffile(
    staged: StagedPackage,
    entry: ManifestEntry,
    at: RootPath,
    oldRow: InstalledFile | undefined,
    row: InstalledFile,
  ): void {
    const d = this.disk(at);
    this.checkOwners(staged, entry, at);
    if (d.type === 'directory') {
      throw new OvermergeError('E_CONFLICT', `${staged.name}: config file ${displayPath(at)} is a directory in the root`, {
        op: 'plan',
        path: displayPath(at),
      });
    }
    const recorded = oldRow?.conffile ? oldRow.conffileHash : undefined;
    // Until configured, the row keeps the hash the package distributed when it last was (dpkg's Conffiles).
    row.conffileHash = this.input.options.unpackOnly ? recorded : entry.md5;
    const current: ConffileOnDisk = d.type === 'absent' ? 'absent' : { md5: d.type === 'file' ? d.md5 : undefined };
    const pending = withSuffix(at, '.dpkg-new');
    // A `.dpkg-new` left by an earlier unpack is replaced (unpack) or goes (install decides now).
    const stale = this.disk(pending).type !== 'absent';
    if (current !== 'absent' && current.md5 === entry.md5) {
      if (oldRow) row.mtime = oldRow.mtime;
      if (stale) this.removals.add(pending);
      return; // the root already has exactly the new version
    }
    if (this.input.options.unpackOnly) {
      this.placeConffile(entry, pending, this.disk(pending));
      return;
    }
    if (stale) this.removals.add(pending);
    const verdict = conffileVerdict(current, recorded, entry.md5 ?? '', this.input.options.conffiles.forces);
    const incoming = { kind: 'staged' as const, host: stagedContent(entry) };
    const decision = decideConffile(staged.name, at, verdict, this.input.options.conffiles, incoming);
    if (decision.question) (this.result.questions ??= []).push(decision.question);
    if (decision.note) (this.result.conffileNotes ??= []).push({ path: at, note: decision.note });
    this.applyConffileOutcome(staged.name, entry, at, decision.outcome);
  }

  /** Places the new version of a conffile at `to` (the file itself, or a name beside it). */
  private placeConffile(entry: ManifestEntry, to: RootPath, d: DiskState): void {
    const noLinks = new Map<RootPath, RootPath>(); // a conffile is a regular file, never a hard link
    this.place(placeStep(noLinks, entry, to, d.type === 'absent' ? 'none' : d.type === 'directory' ? 'move' : 'link'));
    this.result.bytes += entry.size;
  }

  private removeIfPresent(p: RootPath): void {
    if (this.disk(p).type !== 'absent') this.removals.add(p);
  }

  private applyConffileOutcome(pkg: string, entry: ManifestEntry, at: RootPath, outcome: ConffileOutcome): void {
    const old = withSuffix(at, '.dpkg-old');
    const dist = withSuffix(at, '.dpkg-dist');
    const deleted = this.disk(at).type === 'absent';
    switch (outcome) {
      case 'drop':
        return;
      case 'install':
        this.placeConffile(entry, at, this.disk(at));
        return;
      case 'install-backup': {
        // As dpkg: an older .dpkg-dist goes, the administrator's version becomes the .dpkg-old.
        this.removeIfPresent(dist);
        if (deleted) this.removeIfPresent(old);
        else {
          const keep: ManifestEntry = { ...entry, path: old, type: 'hardlink', linkTo: at, conffile: false };
          this.place({ kind: 'place-special', path: old, entry: keep, aside: this.disk(old).type === 'absent' ? 'none' : 'link', linkTo: at });
        }
        this.placeConffile(entry, at, this.disk(at));
        this.result.notices.push(replacedNotice(pkg, at, deleted ? undefined : old));
        return;
      }
      case 'keep-backup': {
        // As dpkg: an older .dpkg-old goes, the new version waits beside as .dpkg-dist.
        this.removeIfPresent(old);
        this.placeConffile(entry, dist, this.disk(dist));
        this.result.notices.push(keptNotice(pkg, at, deleted, dist));
        return;
      }
    }
  }

  /** Installed rows no longer shipped: their paths go, unless another package of the transaction took them. */
  private planVanished(rows: Iterable<InstalledFile>, purge: boolean): void {
    for (const f of rows) {
      if (f.path === '' || this.claimed.has(f.path) || this.wantedDirs.has(f.path)) continue;
      if (f.conffile && !purge) continue;
      this.removals.add(f.path);
      if (purge && f.conffile) {
        for (const suffix of ['.dpkg-old', '.dpkg-dist', '.dpkg-new', '.dpkg-tmp']) {
          const extra = withSuffix(f.path, suffix);
          if (this.disk(extra).type !== 'absent') this.removals.add(extra);
        }
      }
    }
  }

  private planRemoval(req: RemoveRequest): void {
    const { pkg, purge } = req;
    const conffiles = pkg.files.filter((f) => f.conffile);
    // The directories holding kept conffiles stay, even empty (a conffile filtered or deleted), as dpkg
    // keeps them, and stay recorded, so that purge can remove them later.
    const holding = purge ? [] : pkg.files.filter((f) => f.type === 'directory' && f.path !== '' && conffiles.some((c) => isBeneath(c.path, f.path)));
    const kept = new Set(holding.map((f) => f.path));
    this.planVanished(pkg.files.filter((f) => !kept.has(f.path)), purge);
    if (!purge && conffiles.length > 0) {
      this.result.records.push({ ref: refOf(pkg), status: 'config-files', files: [...holding, ...conffiles] });
    } else {
      this.result.deleted.push(refOf(pkg));
    }
    this.result.changes.push({
      name: pkg.name,
      architecture: pkg.architecture,
      action: purge ? 'purge' : 'remove',
      oldVersion: pkg.version,
    });
  }

  /**
   * Removal steps, children first. A path another package still owns stays; a directory stays while
   * anything not being removed lies beneath it (another package's file, a local file).
   */
  private orderedRemovals(): PathStep[] {
    const gone = new Set(this.goneWithParent);
    const candidates = [...this.removals].filter((p) => !gone.has(p)).sort(compareDeepFirst);
    const removed = new Set<RootPath>();
    const steps: PathStep[] = [];
    for (const p of candidates) {
      const d = this.disk(p);
      if (d.type === 'absent') continue;
      if (this.othersOwning(p).length > 0) continue;
      if (d.type === 'directory') {
        const blocking = (d.children ?? []).find((q) => !removed.has(q));
        if (blocking !== undefined || this.othersBeneath(p).length > 0) {
          this.result.notices.push(`directory ${displayPath(p)} not empty so not removed`);
          continue;
        }
      }
      removed.add(p);
      steps.push(d.type === 'directory' ? { kind: 'rmdir', path: p } : { kind: 'remove', path: p });
    }
    return steps;
  }
}

function conflict(staged: StagedPackage, path: string, owner: PackageRef): OvermergeError {
  return new OvermergeError(
    'E_CONFLICT',
    `${staged.archive}: trying to overwrite '${path}', which is also in package ${owner.name} ${owner.version}`,
    { op: 'plan', path, hint: 'use --force-overwrite, or a package that declares Replaces' },
  );
}

function aliasConflict(staged: StagedPackage, first: RootPath, second: RootPath, at: RootPath): OvermergeError {
  return new OvermergeError(
    'E_CONFLICT',
    `${staged.archive}: ships both '${displayPath(first)}' and '${displayPath(second)}', which are the same path '${displayPath(at)}' in this root (a directory symlink joins them)`,
    { op: 'plan', path: displayPath(at), hint: 'the package is not installable on a root with this directory layout' },
  );
}

/**
 * Fresh files in a row from which the plan lists them as one PlaceFilesRun rather than a step each: a
 * folder of a huge archive, never the few files of most folders (whose steps tests and messages read).
 */
export const PLACE_RUN_MIN = 1024;

function placeStep(resolved: Map<RootPath, RootPath>, entry: ManifestEntry, at: RootPath, aside: Aside): PathStep {
  if (entry.type === 'file') return { kind: 'place-file', path: at, entry, aside };
  if (entry.type === 'hardlink' && entry.linkTo !== undefined) {
    const linkTo = resolved.get(entry.linkTo) ?? entry.linkTo;
    return { kind: 'place-special', path: at, entry, aside, linkTo };
  }
  return { kind: 'place-special', path: at, entry, aside };
}

/**
 * The row recorded for `entry`, landed at `at`. Paths are recorded where they landed (after following the
 * root's directory symlinks), so ownership and conflicts are judged on real locations, not on aliases.
 *
 * Where the row would repeat the entry field for field — it lands at its shipped path, and is neither a
 * hard link (whose row names its target's location) nor a conffile (whose row gains a hash) — the entry is
 * the row: a manifest entry has every field of a row, and a huge archive's plan then holds no second
 * object per member (136 bytes each, 15 MiB for 116,010 members). Such a row is never changed in place.
 */
function rowFor(entry: ManifestEntry, at: RootPath): InstalledFile {
  if (at === entry.path && entry.type !== 'hardlink' && !entry.conffile) return entry;
  return {
    path: at,
    type: entry.type,
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    size: entry.size,
    mtime: entry.mtime,
    sha256: entry.sha256,
    md5: entry.md5,
    target: entry.type === 'hardlink' ? entry.linkTo : entry.target,
    devmajor: entry.devmajor,
    devminor: entry.devminor,
    conffile: entry.conffile,
    conffileHash: entry.conffile ? entry.md5 : undefined,
  };
}

function metaOf(e: EntryMeta): EntryMeta {
  return { mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime };
}

function sameOwnership(d: DiskState, e: EntryMeta): boolean {
  return ((d.mode ?? 0) & 0o7777) === e.mode && d.uid === e.uid && d.gid === e.gid;
}

/** The root's entry is the symlink `entry` ships, with its owner and time (a symlink has no mode of its own). */
function sameSymlink(d: DiskState, entry: ManifestEntry): boolean {
  const seconds = d.mtimeNs === undefined ? NaN : Number(d.mtimeNs / 1000000000n);
  return d.type === 'symlink' && d.target === entry.target && d.uid === entry.uid && d.gid === entry.gid && seconds === Math.floor(entry.mtime);
}

/**
 * The installed file is the one the archive ships and the root still holds it as installed: same type,
 * content, permissions and owner in the database, and the root's copy matches the database.
 */
function unchanged(oldRow: InstalledFile, entry: ManifestEntry, d: DiskState, linkTarget: DiskState | undefined): boolean {
  if (oldRow.type !== entry.type || oldRow.mode !== entry.mode || oldRow.uid !== entry.uid || oldRow.gid !== entry.gid) {
    return false;
  }
  if (entry.type === 'file') {
    if (oldRow.sha256 === undefined || oldRow.sha256 !== entry.sha256 || d.type !== 'file') return false;
    const diskSeconds = d.mtimeNs === undefined ? NaN : Number(d.mtimeNs / 1000000000n);
    return d.size === oldRow.size && diskSeconds === Math.floor(oldRow.mtime) && sameOwnership(d, entry);
  }
  if (entry.type === 'symlink') {
    return d.type === 'symlink' && d.target === entry.target && oldRow.target === entry.target && d.uid === entry.uid && d.gid === entry.gid;
  }
  if (entry.type === 'hardlink') {
    // Still one inode with a target that stays: relinking would change nothing but the ctime, and on an
    // overlay root link(2) copies the target up.
    return (
      linkTarget !== undefined &&
      d.type === 'file' &&
      d.ino !== undefined &&
      d.ino === linkTarget.ino &&
      oldRow.target === entry.linkTo &&
      oldRow.sha256 === entry.sha256 &&
      sameOwnership(d, entry)
    );
  }
  return false; // fifos and devices are cheap to recreate and rare
}


function changeAction(old: InstalledPackage | undefined, version: string): ChangeAction {
  if (!old || old.status === 'config-files') return 'install';
  const c = compareVersions(version, old.version);
  return c > 0 ? 'upgrade' : c < 0 ? 'downgrade' : 'reinstall';
}
