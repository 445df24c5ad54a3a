import type { Paragraph } from '../control/paragraph';
import { OvermergeError } from '../errors';
import { atomicWrite, ensureFileSync, fsyncDir, makeFoldersSync, removeIfPresent, type DeferredSyncs } from '../fs/atomic-file';
import { adminDir, adminPath, ARCH_FILE, ensureAdminDir, DIVERSIONS_FILE, infoPath, STATOVERRIDE_FILE, triggersPath, type AdminDir } from './admindir';
import { foreignArchs, nativeArchOf, parseArchList } from './arch';
import { byteString, fromText, toText, type ByteString } from './bytes';
import type { DbChange, FileChange, InfoChange, PackageChange, Reversal, TriggersChange } from './changes';
import { corrupt } from './corrupt';
import { formatDiversions, parseDiversions, type Diversion } from './diversions';
import { formatStanza, stanzaText, statusProblem } from './dump';
import { isInformative, readEntry } from './entry';
import { forgetStanza, forgotten, withStatus, type StatusOptions } from './entry-edits';
import { controlFilesAfter, fileListAfter, removalAfter, type InfoFileInput } from './info-plans';
import { identityOf, sameIdentity, type Identity } from './identity';
import { applyInfoState, listInfoFiles, readInfoBytes, readInfoFormat, snapshotInfo, writeInfoFormat, type InfoState } from './info-files';
import { INFO_FORMAT_MULTIARCH, infoFileName, infoPrefix, parseFileList, splitInfoName, type InfoOwner } from './info-names';
import type { PkgEntry, StatusTriple } from './model';
import { PackageStore, type CheckpointOutcome } from './package-store';
import { TableError } from './package-table';
import { paragraphToStanza, viewOf, type DpkgPackage } from './package-view';
import { SideFile } from './side-files';
import { readEntries, type Warning } from './status-file';
import { formatStatOverrides, parseStatOverrides, type StatOverride } from './statoverride';
import { readTracked, recheck, recheckDir, type Tracked } from './tracked';
import { readTriggersDir } from './triggers-dir';

/**
 * dpkg's admin directory as a synchronised view: everything dpkg, dpkg-query and apt read, read the way
 * they read it, and written the way dpkg writes it, so that each side sees what the other did.
 *
 *   const db = DpkgDb.open('/srv/root/var/lib/dpkg');
 *   db.get('hello')?.status;                       // { want: 'install', flag: 'ok', state: 'installed' }
 *   const change = db.planStatus({ name: 'hello' }, { want: 'install', flag: 'ok', state: 'unpacked' });
 *   journal(change); db.apply(change);             // one update entry, fsync'ed and renamed into place
 *   ...; db.checkpoint();                          // status rewritten, updates/ emptied: apt can run
 *
 * Every mutation is a plan (plain JSON data, see changes.ts) and an apply; `revert(change)` applies its
 * inverse. Plans read the disk (after a refresh) but change nothing. Reads (`get`, `packages`, ...) show
 * the database as of the last refresh or change made through this object: `refresh()` picks up what
 * others did. Synchronous throughout: each call is a few small reads or writes and one or two fsyncs,
 * and a journaled step is simpler to reason about when nothing else runs in its middle.
 *
 * Crash story (the engine's journal sits above this; dpkg's own behaviour is the reference):
 * - An update entry is durable once renamed into `updates/` (its bytes were fsync'ed first, the
 *   directory right after). A crash before the rename leaves at most `updates/tmp.i`, which every reader
 *   ignores: the change did not happen.
 * - A checkpoint writes status-new, fsyncs it, keeps status-old (hard link), renames, fsyncs the
 *   directory, and only then removes the entries. A crash between the rename and the removals makes the
 *   next reader apply the entries again to a status that already holds them: the same result.
 * - Info files come before the status change that refers to them, as in dpkg: when it installs a
 *   package it first records it as half-installed with the reinstreq flag, unpacks, writes the `.list`,
 *   renames the control files into info/, and only then records the new version as unpacked. A crash
 *   in between leaves the new info files under a status that says "half-installed, reinstreq, old
 *   version": dpkg then refuses to do anything with the package but reinstall or remove it (`dpkg
 *   --audit` reports it), and either way runs the maintainer scripts it finds in info/ — the new
 *   version's — and goes by the new `.list`. overmerge's
 *   journal does better — its recovery applies the InfoChange's `before` — but a dpkg run on the root
 *   before `overmerge recover` meets exactly dpkg's own half-installed state, which it knows how to handle.
 */
export interface PackageRef {
  readonly name: string;
  /** Omitted: the one instance of `name` (or the native / `all` one among several), as dpkg resolves a bare name. */
  readonly arch?: string;
}

export interface DpkgDbOptions {
  /** dpkg's native architecture (it matters for names and order); default from Node's process.arch. */
  readonly nativeArch?: string;
  /**
   * Opened under dpkg's lock, by the only writer there is: then `updates/` and `info/` change only through
   * this object (dpkg's maintainer-script helpers write diversions, statoverride and triggers/, never
   * those two), so a stat equal to the one taken after our own last write proves them unchanged, however
   * recent that write. Without it, a directory changed less than a second before is listed again.
   */
  readonly exclusive?: boolean;
}

export interface RefreshResult {
  /** status was rewritten behind our back and everything was read again. */
  readonly reloaded: boolean;
  readonly updatesRead: number;
  /** `name:arch` of every package instance whose stanza changed. */
  readonly packages: readonly string[];
  readonly diversions: boolean;
  readonly statoverrides: boolean;
  readonly architectures: boolean;
  /** Names of triggers/ files that changed, appeared or went. */
  readonly triggers: readonly string[];
  /** Entries were added to, renamed in or removed from info/. */
  readonly info: boolean;
}

export interface DiversionView {
  readonly from: string;
  readonly to: string;
  /** null: a local diversion. */
  readonly package: string | null;
}

export interface StatOverrideView {
  readonly user: string;
  readonly group: string;
  readonly mode: number;
  readonly path: string;
}

export class DpkgDb {
  private readonly store: PackageStore;
  private readonly diversionsFile: SideFile<Diversion[]>;
  private readonly statoverrideFile: SideFile<StatOverride[]>;
  private readonly archFile: SideFile<string[]>;
  private triggersDir: { id: Identity | null; files: Map<string, Buffer> };
  private infoDir: { id: Identity | null; index: Map<string, Set<string>> };
  private readonly lists = new Map<string, { tracked: Tracked; paths: ByteString[] }>();
  /** Each entry's paragraph, once made (package-view.ts): entries are replaced, never changed in place. */
  private readonly paragraphs = new WeakMap<PkgEntry, Paragraph>();
  /**
   * Each entry's view, once made: what it shows depends on the entry and the native architecture alone,
   * and the engine asks for every instance's at each transaction, configure turn and trigger snapshot.
   */
  private readonly views = new WeakMap<PkgEntry, DpkgPackage>();
  /**
   * Held under dpkg's lock only (`exclusive`: info/ then changes through this object alone): info/format as
   * last read or written, and the small info files last read (null: absent), dropped when written. Every
   * trigger snapshot reads each package's `triggers`, and nearly every call here the format: 1,322 reads
   * of info/format in a bootstrap.
   */
  private heldInfoFormat: number | undefined;
  private readonly heldInfoFiles = new Map<string, Buffer | null>();
  /** Under dpkg's lock: the tables were looked at since the last script ran (othersMayHaveWritten). */
  private tablesCurrent = false;

  private constructor(
    readonly admin: AdminDir,
    readonly nativeArch: string,
    private readonly exclusive: boolean,
  ) {
    this.store = new PackageStore(admin, nativeArch, exclusive);
    try {
      this.diversionsFile = new SideFile(adminPath(admin, DIVERSIONS_FILE), parseDiversions);
      this.statoverrideFile = new SideFile(adminPath(admin, STATOVERRIDE_FILE), parseStatOverrides);
      this.archFile = new SideFile(adminPath(admin, ARCH_FILE), parseArchList);
      this.triggersDir = { id: identityOf(triggersPath(admin)), files: readTriggersDir(admin) };
      this.infoDir = { id: identityOf(infoPath(admin)), index: listInfoFiles(admin) };
    } catch (err) {
      this.store.close();
      throw err;
    }
  }

  /**
   * Reads the admin directory: status, then the pending update entries applied in order, diversions,
   * statoverride, arch, triggers/. A missing directory or file is an empty one (as for dpkg). Anything dpkg
   * would refuse to read is refused with one line naming the file and line.
   */
  static open(dir: string, options: DpkgDbOptions = {}): DpkgDb {
    return new DpkgDb(adminDir(dir), options.nativeArch ?? nativeArchOf(), options.exclusive === true);
  }

  /** Lets go of the status file it holds open (see tracked.ts). */
  close(): void {
    this.store.close();
  }

  // ---- reading -------------------------------------------------------------------------------------

  /** Every instance status holds (or will hold at the next checkpoint), in dpkg's order. */
  packages(): DpkgPackage[] {
    return this.store.table
      .sorted()
      .filter(isInformative)
      .map((e) => this.view(e));
  }

  get(name: string, arch?: string): DpkgPackage | undefined {
    const e = this.find({ name, arch });
    return e && this.view(e);
  }

  /** The instances of `name` in any state but not-installed: a script's DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT. */
  instanceCount(name: string): number {
    return this.store.table.instances(name).filter((e) => e.status.state !== 'not-installed').length;
  }

  /** The paths of the package's `.list`, as dpkg -L prints them (without dpkg's diversion notes). */
  files(ref: PackageRef): string[] {
    const e = this.require(ref);
    if (e.status.state === 'not-installed') return [];
    const name = infoFileName(infoPrefix(e, this.infoFormat()), 'list');
    const file = infoPath(this.admin, name);
    const cached = this.lists.get(name);
    const { now, changed } = cached ? recheck(cached.tracked, file) : { now: readTracked(file), changed: true };
    let paths = cached?.paths ?? [];
    if (changed || !cached) {
      try {
        paths = now.bytes === null ? [] : parseFileList(byteString(now.bytes));
      } catch (err) {
        throw corrupt(file, undefined, `${(err as Error).message} for package '${e.name}'`);
      }
    }
    this.lists.set(name, { tracked: now, paths });
    return paths.map(toText);
  }

  /** The types of the package's info files (`list`, `md5sums`, `postinst`, ...). */
  infoFiles(ref: PackageRef): string[] {
    const e = this.require(ref);
    return [...(this.infoIndex().get(infoPrefix(e, this.infoFormat())) ?? [])].sort();
  }

  /**
   * infoFiles of many instances from one look at info/: a directory changed less than a second ago (by
   * this very transaction, typically) is "racy" and listed again at each look, which for every installed
   * package in turn (the trigger snapshot) meant a listing of info/ per package.
   */
  infoFilesLister(): (ref: PackageRef) => string[] {
    const index = this.infoIndex();
    const format = this.infoFormat();
    return (ref) => [...(index.get(infoPrefix(this.require(ref), format)) ?? [])].sort();
  }

  /** The bytes of one of the package's info files (not to be changed: they may be held for the next call). */
  readInfoFile(ref: PackageRef, type: string): Buffer | undefined {
    const e = this.require(ref);
    const name = infoFileName(infoPrefix(e, this.infoFormat()), type);
    const held = this.heldInfoFiles.get(name);
    if (held !== undefined) return held ?? undefined;
    const bytes = readInfoBytes(this.admin, name);
    if (this.exclusive && (bytes === null || bytes.length <= HELD_INFO_FILE_BYTES)) this.heldInfoFiles.set(name, bytes);
    return bytes ?? undefined;
  }

  get diversions(): DiversionView[] {
    return this.diversionsFile.value.map((d) => ({ from: toText(d.from), to: toText(d.to), package: d.package === null ? null : toText(d.package) }));
  }

  get statoverrides(): StatOverrideView[] {
    return this.statoverrideFile.value.map((o) => ({ user: toText(o.user), group: toText(o.group), mode: o.mode, path: toText(o.path) }));
  }

  /** `dpkg --print-foreign-architectures`. */
  get foreignArchitectures(): string[] {
    return foreignArchs(this.archFile.value, this.nativeArch);
  }

  /** The data files of triggers/ (File, Unincorp, interest files), verbatim. */
  get triggers(): ReadonlyMap<string, Buffer> {
    return this.triggersDir.files;
  }

  /** Update entries not yet incorporated into status (apt refuses to run while there are any). */
  get pendingUpdates(): number {
    return this.store.pendingUpdates;
  }

  /** What dpkg would have warned about while reading status and the update entries. */
  get warnings(): readonly Warning[] {
    return this.store.warnings;
  }

  /**
   * Picks up changes made behind our back (dpkg, apt, dpkg-divert, dpkg-statoverride, dpkg-trigger).
   * When nothing changed it costs one stat per file or directory watched, and parses nothing.
   */
  refresh(): RefreshResult {
    const tables = this.refreshTables();
    const info = this.refreshInfoIndex();
    return { ...tables, info: info.changed };
  }

  /**
   * refresh() but for info/: what planning a change, or looking for what a script did, reads first. The
   * listing of info/ is read only through infoIndex(), which lists it again itself when it may have
   * changed; listed eagerly here, it was listed again at nearly every state change of a bootstrap (info/
   * changed less than a second before is "racy": 0.15 s of the main thread's time, 600 names each).
   */
  refreshTables(): Omit<RefreshResult, 'info'> {
    if (this.tablesCurrent) return NOTHING_CHANGED;
    const packages = this.store.refresh();
    const diversions = this.diversionsFile.refresh();
    const statoverrides = this.statoverrideFile.refresh();
    const architectures = this.archFile.refresh();
    const triggers = this.refreshTriggers();
    this.tablesCurrent = this.exclusive;
    return { reloaded: packages.reloaded, updatesRead: packages.updatesRead, packages: packages.changed, diversions, statoverrides, architectures, triggers };
  }

  /**
   * Someone else may have written dpkg's tables (a maintainer script ran: dpkg-divert, dpkg-statoverride,
   * dpkg-trigger): the next refreshTables looks again. Under dpkg's lock (`exclusive`) nothing else writes
   * them — our own writes keep this object up to date as they go — so until this is called it does not
   * look: a triggers/ written by this transaction less than a second before was read again whole at each
   * state change planned (60 ms of a bootstrap's main thread in all).
   */
  othersMayHaveWritten(): void {
    this.tablesCurrent = false;
  }

  // ---- planning changes ----------------------------------------------------------------------------

  /** A new Status for an instance (see entry-edits.ts withStatus for dpkg's rules). */
  planStatus(ref: PackageRef, status: StatusTriple, options: StatusOptions = {}): PackageChange {
    this.refreshTables();
    return this.planEntry(withStatus(this.require(ref), status, options));
  }

  /**
   * A whole stanza from a paragraph (the package's control fields plus Status, Conffiles, Config-Version,
   * ...), written in dpkg's field order and form, unknown fields after. Read back as dpkg reads an update
   * entry, so it is held to the same rules.
   */
  planPackage(paragraph: Paragraph): PackageChange {
    this.refreshTables();
    // Without one, dpkg's reader takes `unknown ok not-installed` and forgets the rest: surely a mistake.
    if (!paragraph.has('Status')) {
      throw new OvermergeError('E_BAD_CONTROL', `cannot write package paragraph of ${paragraph.get('Package') ?? '(no name)'}: no Status field`, {
        op: 'write dpkg database',
      });
    }
    const stanza = paragraphToStanza(paragraph);
    let entry: PkgEntry;
    try {
      entry = readEntry(stanza, 'update').entry;
    } catch (err) {
      throw new OvermergeError('E_BAD_CONTROL', `cannot write package paragraph: ${(err as Error).message}`, { op: 'write dpkg database' });
    }
    return this.planEntry(entry);
  }

  /**
   * The end of a purge (or of a package that disappeared): `unknown ok not-installed` with nothing but
   * the architecture (and Section, Priority) left, which the next checkpoint drops from status.
   */
  planForget(ref: PackageRef): PackageChange {
    this.refreshTables();
    return this.planEntry(forgotten(this.require(ref)));
  }

  /**
   * The package's control files in info/ (everything but the `.list`): afterwards it has exactly `files`,
   * named as dpkg names them for `owner`. When the layout changes (a package becomes, or stops being,
   * `Multi-Arch: same`), the files under the old names go, the `.list` included, as in dpkg.
   */
  planInfoFiles(owner: InfoOwner, files: Readonly<Record<string, InfoFileInput>>): InfoChange {
    this.refreshTables();
    const format = this.ensureInfoFormat();
    const previous = this.previousOwner(owner);
    const after = controlFilesAfter(this.infoIndex(), infoPrefix(owner, format), previous && infoPrefix(previous, format), files);
    return { kind: 'info', before: snapshotInfo(this.admin, Object.keys(after)), after };
  }

  /** The package's `.list`: the paths it owns, as dpkg writes them (`/.`, `/usr`, `/usr/bin/hello`, ...). */
  planFileList(owner: InfoOwner, paths: readonly string[]): InfoChange {
    this.refreshTables();
    const after = fileListAfter(infoPrefix(owner, this.ensureInfoFormat()), paths);
    return { kind: 'info', before: snapshotInfo(this.admin, Object.keys(after)), after };
  }

  /** Removes the package's info files (all, or all but `keep`: dpkg keeps the postrm until the purge). */
  planRemoveInfoFiles(owner: InfoOwner, keep: readonly string[] = []): InfoChange {
    this.refreshTables();
    const after = removalAfter(this.infoIndex(), infoPrefix(owner, this.infoFormat()), keep);
    return { kind: 'info', before: snapshotInfo(this.admin, Object.keys(after)), after };
  }

  /** The whole diversions database, as dpkg-divert writes it (diversions-old kept). */
  planDiversions(diversions: readonly DiversionView[]): FileChange {
    this.refreshTables();
    const list = diversions.map((d) => ({ from: fromText(d.from), to: fromText(d.to), package: d.package === null ? null : fromText(d.package) }));
    const after = formatDiversions(list);
    parseDiversions(after, '(new diversions)');
    return { kind: 'file', file: 'diversions', before: bytesOrNull(this.diversionsFile.bytes), after };
  }

  /** The whole statoverride database, as dpkg-statoverride writes it (statoverride-old kept). */
  planStatOverrides(overrides: readonly StatOverrideView[]): FileChange {
    this.refreshTables();
    const list = overrides.map((o) => ({ user: fromText(o.user), group: fromText(o.group), mode: o.mode, path: fromText(o.path) }));
    const after = formatStatOverrides(list);
    parseStatOverrides(after, '(new statoverride)');
    return { kind: 'file', file: 'statoverride', before: bytesOrNull(this.statoverrideFile.bytes), after };
  }

  /**
   * Files of triggers/ replaced or deleted (null) as dpkg does after an unpack, a removal or incorporating
   * Unincorp. Names not given are left alone.
   */
  planTriggerFiles(after: Readonly<Record<string, string | null>>): TriggersChange {
    this.refreshTables();
    const before: Record<string, string | null> = {};
    for (const name of Object.keys(after)) before[name] = bytesOrNull(this.triggersDir.files.get(name) ?? null);
    return { kind: 'triggers', before, after: { ...after } };
  }

  // ---- applying ------------------------------------------------------------------------------------

  /**
   * Carries out a planned change. Idempotent. Durable on return, as dpkg makes each change; with `defer`,
   * readers see it at once but its fsyncs are handed to the caller, who syncs before its commit record
   * and whose journal reverts the change after a crash before that (DeferredSyncs).
   */
  apply(change: DbChange, defer?: DeferredSyncs): void {
    switch (change.kind) {
      case 'package':
        return this.applyStanza(change.after as ByteString, defer);
      case 'info':
        return this.applyInfo(change.after, defer);
      case 'file':
        return this.applyFile(change.file, change.after, defer);
      case 'triggers':
        return this.applyTriggers(change.after, defer);
    }
  }

  /**
   * Package changes no script runs between, as one update entry (PackageStore.writeMany): durable together,
   * on return. onStatus is not called: the caller is given, per change, the package whose state it moved
   * (undefined where the state stayed), to tell in its own order among its other events.
   */
  applyPackages(changes: readonly PackageChange[]): Array<DpkgPackage | undefined> {
    this.store.refresh();
    const stanzas = changes.map((c) => {
      const { entries } = readEntries(c.after as ByteString, '(stanza to write)', 'update');
      if (entries.length !== 1) throw new OvermergeError('E_INTERNAL', 'a package change must hold exactly one stanza');
      return { entry: entries[0].entry, text: c.after as ByteString, was: this.landing(entries[0].entry)?.status.state ?? 'not-installed' };
    });
    this.store.writeMany(stanzas);
    return stanzas.map((s) => (s.was !== s.entry.status.state ? this.get(s.entry.name, s.entry.arch) : undefined));
  }

  /** Carries out the inverse of `change`: the database as before it. Idempotent. `defer` as for apply. */
  revert(change: Reversal, defer?: DeferredSyncs): void {
    switch (change.kind) {
      case 'package':
        return this.applyStanza(change.before !== null ? (change.before as ByteString) : forgetStanza(change.name, change.arch, change.multiArch), defer);
      case 'info':
        return this.applyInfo(change.before, defer);
      case 'file':
        return this.applyFile(change.file, change.before, defer);
      case 'triggers':
        return this.applyTriggers(change.before, defer);
    }
  }

  /** planStatus + apply. */
  setStatus(ref: PackageRef, status: StatusTriple, options?: StatusOptions): PackageChange {
    return this.applied(this.planStatus(ref, status, options));
  }

  /** planPackage + apply. */
  writePackage(paragraph: Paragraph): PackageChange {
    return this.applied(this.planPackage(paragraph));
  }

  /** planInfoFiles + apply. */
  writeInfoFiles(owner: InfoOwner, files: Readonly<Record<string, InfoFileInput>>): InfoChange {
    return this.applied(this.planInfoFiles(owner, files));
  }

  /** planFileList + apply. */
  writeFileList(owner: InfoOwner, paths: readonly string[]): InfoChange {
    return this.applied(this.planFileList(owner, paths));
  }

  /** planRemoveInfoFiles + apply. */
  removeInfoFiles(owner: InfoOwner, keep?: readonly string[]): InfoChange {
    return this.applied(this.planRemoveInfoFiles(owner, keep));
  }

  /**
   * Incorporates every update entry into status, as dpkg does when it finishes: afterwards `updates/` is
   * empty and apt (which reads status alone, and refuses to run while entries are pending) sees it all.
   * Call it at the end of every command.
   */
  checkpoint(): CheckpointOutcome {
    this.refreshTables();
    return this.store.checkpoint();
  }

  // ---- internals -----------------------------------------------------------------------------------

  private applied<C extends DbChange>(change: C): C {
    this.apply(change);
    return change;
  }

  private planEntry(entry: PkgEntry): PackageChange {
    const problem = statusProblem(entry);
    if (problem) throw new OvermergeError('E_DPKG_DB', `cannot record ${entry.name}: ${problem}`, { op: 'write dpkg database' });
    const replaced = this.landing(entry);
    return {
      kind: 'package',
      name: entry.name,
      arch: entry.arch,
      multiArch: entry.multiArch,
      before: replaced ? stanzaText(replaced) : null,
      after: formatStanza(entry),
    };
  }

  private applyStanza(text: ByteString, defer?: DeferredSyncs): void {
    this.store.refresh();
    const { entries } = readEntries(text, '(stanza to write)', 'update');
    if (entries.length !== 1) throw new OvermergeError('E_INTERNAL', 'a package change must hold exactly one stanza');
    const entry = entries[0].entry;
    const before = this.landing(entry);
    this.store.write(entry, text, defer);
    if (this.onStatus && (before?.status.state ?? 'not-installed') !== entry.status.state) {
      const view = this.get(entry.name, entry.arch);
      if (view) this.onStatus(view);
    }
  }

  /**
   * Told of every package whose state a change through this object moves (as dpkg's modstatdb_note is
   * told): the engine turns it into --status-fd lines and progress. Set by the owner of the database.
   */
  onStatus?: (pkg: DpkgPackage) => void;

  private landing(entry: PkgEntry): PkgEntry | undefined {
    try {
      return this.store.table.landing(entry, 'update');
    } catch (err) {
      if (err instanceof TableError) throw new OvermergeError('E_CONFLICT', `cannot record ${entry.name}:${entry.arch}: ${err.problem}`, { op: 'write dpkg database' });
      throw err;
    }
  }

  private applyInfo(state: InfoState, defer?: DeferredSyncs): void {
    if (!this.exclusive) {
      applyInfoState(this.admin, state, defer);
      this.refreshInfoIndex();
      return;
    }
    // The listing as it was before our write (brought up to date first), changed as the write changes it.
    const index = this.infoIndex();
    for (const name of Object.keys(state)) this.heldInfoFiles.delete(name);
    applyInfoState(this.admin, state, defer);
    this.infoDir = { id: identityOf(infoPath(this.admin)), index: withInfoNames(index, state) };
  }

  private applyFile(file: FileChange['file'], bytes: string | null, defer?: DeferredSyncs): void {
    const path = adminPath(this.admin, file === 'diversions' ? DIVERSIONS_FILE : STATOVERRIDE_FILE);
    if (bytes === null) {
      if (removeIfPresent(path)) defer?.addDir(this.admin.dir);
    } else {
      ensureAdminDir(this.admin);
      atomicWrite(path, Buffer.from(bytes, 'latin1'), { backup: true }, defer);
    }
    (file === 'diversions' ? this.diversionsFile : this.statoverrideFile).refresh();
  }

  /**
   * Writes triggers/ files as dpkg does: each through its side name (`File-new`, `Unincorp.new`,
   * `NAME-new`), 0644, renamed into place; an absent one deleted. dpkg's `Lock` is made (0600) beside them.
   */
  private applyTriggers(files: Readonly<Record<string, string | null>>, defer?: DeferredSyncs): void {
    const dir = triggersPath(this.admin);
    makeFoldersSync(dir);
    ensureFileSync(triggersPath(this.admin, 'Lock'), 0o600);
    let removed = false;
    for (const [name, bytes] of Object.entries(files)) {
      const file = triggersPath(this.admin, name);
      if (bytes === null) removed = removeIfPresent(file) || removed;
      else atomicWrite(file, Buffer.from(bytes, 'latin1'), { mode: 0o644, side: triggersPath(this.admin, name === 'Unincorp' ? 'Unincorp.new' : `${name}-new`) }, defer);
    }
    if (removed && defer) defer.addDir(dir);
    else if (removed) fsyncDir(dir);
    this.refreshTriggers();
  }

  private refreshTriggers(): string[] {
    const { now, changed } = recheckDir(this.triggersDir.id, triggersPath(this.admin));
    if (!changed) return [];
    const files = readTriggersDir(this.admin);
    const before = this.triggersDir.files;
    this.triggersDir = { id: now, files };
    const names = new Set([...before.keys(), ...files.keys()]);
    const same = (n: string): boolean => before.has(n) && files.has(n) && before.get(n)!.equals(files.get(n)!);
    return [...names].filter((n) => !same(n)).sort();
  }

  private infoFormat(): number {
    if (this.heldInfoFormat !== undefined) return this.heldInfoFormat;
    const format = readInfoFormat(this.admin);
    if (this.exclusive) this.heldInfoFormat = format;
    return format;
  }

  /**
   * dpkg converts a legacy info/ (no `format`) the first time it writes; overmerge writes the format file
   * when nothing needs converting, and otherwise leaves the conversion to dpkg.
   */
  private ensureInfoFormat(): number {
    const format = this.infoFormat();
    if (format >= INFO_FORMAT_MULTIARCH) return format;
    const index = this.infoIndex();
    const unconverted = this.store.table.sorted().find((e) => e.multiArch === 'same' && e.status.state !== 'not-installed' && index.has(e.name));
    if (unconverted) {
      throw new OvermergeError('E_DPKG_DB', `${infoPath(this.admin)}: info database in the legacy format holds files of Multi-Arch: same package ${unconverted.name}`, {
        op: 'write dpkg database',
        hint: 'let dpkg convert it first: any dpkg command that writes, such as `dpkg --root ROOT --configure -a`',
      });
    }
    writeInfoFormat(this.admin, INFO_FORMAT_MULTIARCH);
    if (this.exclusive) this.heldInfoFormat = INFO_FORMAT_MULTIARCH;
    return INFO_FORMAT_MULTIARCH;
  }

  private infoIndex(): Map<string, Set<string>> {
    this.refreshInfoIndex();
    return this.infoDir.index;
  }

  /** Lists info/ again when it may have changed; whether the listing differs. */
  private refreshInfoIndex(): { changed: boolean } {
    const { now, changed } = recheckDir(this.infoDir.id, infoPath(this.admin));
    if (!changed || (this.exclusive && sameIdentity(this.infoDir.id, now))) return { changed: false };
    const index = listInfoFiles(this.admin);
    const differs = !sameIndex(this.infoDir.index, index);
    this.infoDir = { id: now, index };
    return { changed: differs };
  }

  /** The instance an update for `owner` would replace, whose info files are the package's old ones. */
  private previousOwner(owner: InfoOwner): PkgEntry | undefined {
    const probe = forgotten({ name: owner.name as ByteString, arch: owner.arch as ByteString, multiArch: owner.multiArch });
    return this.landing({ ...probe, status: { want: 'install', flag: 'ok', state: 'half-installed' } });
  }

  private view(e: PkgEntry): DpkgPackage {
    let v = this.views.get(e);
    if (v === undefined) {
      v = viewOf(e, this.store.table.needsArch(e), this.paragraphs);
      this.views.set(e, v);
    }
    return v;
  }

  private find(ref: PackageRef): PkgEntry | undefined {
    const table = this.store.table;
    if (ref.arch !== undefined) return table.get(ref.name, ref.arch);
    const all = table.instances(ref.name);
    const installed = all.filter((e) => e.status.state !== 'not-installed');
    if (installed.length === 1) return installed[0];
    if (all.length === 1) return all[0];
    const unqualified = all.filter((e) => !table.needsArch(e));
    return unqualified.length === 1 ? unqualified[0] : undefined;
  }

  private require(ref: PackageRef): PkgEntry {
    const e = this.find(ref);
    if (e) return e;
    const what = ref.arch === undefined ? ref.name : `${ref.name}:${ref.arch}`;
    const several = ref.arch === undefined && this.store.table.instances(ref.name).length > 1;
    throw new OvermergeError('E_NOT_INSTALLED', several ? `package ${what} is ambiguous: name its architecture` : `package ${what} is not in the dpkg database`, {
      op: 'read dpkg database',
    });
  }
}

/** `index` as info/ lists after `state` was applied to it: a new map (listers hold on to the old one). */
function withInfoNames(index: Map<string, Set<string>>, state: InfoState): Map<string, Set<string>> {
  const out = new Map(index);
  for (const [name, file] of Object.entries(state)) {
    const split = splitInfoName(name);
    if (!split) continue;
    const types = new Set(out.get(split.prefix));
    if (file === null) types.delete(split.type);
    else types.add(split.type);
    if (types.size === 0) out.delete(split.prefix);
    else out.set(split.prefix, types);
  }
  return out;
}

function sameIndex(a: Map<string, Set<string>>, b: Map<string, Set<string>>): boolean {
  if (a.size !== b.size) return false;
  for (const [prefix, types] of a) {
    const other = b.get(prefix);
    if (!other || other.size !== types.size || [...types].some((t) => !other.has(t))) return false;
  }
  return true;
}

function bytesOrNull(b: Buffer | null): string | null {
  return b === null ? null : byteString(b);
}

/** refreshTables' answer when it did not need to look. */
const NOTHING_CHANGED: Omit<RefreshResult, 'info'> = Object.freeze({
  reloaded: false,
  updatesRead: 0,
  packages: [],
  diversions: false,
  statoverrides: false,
  architectures: false,
  triggers: [],
});

export type { DbChange, FileChange, InfoChange, PackageChange, Reversal } from './changes';
export type { DpkgPackage } from './package-view';
export type { InfoOwner } from './info-names';
export type { StatusTriple } from './model';
export type { StatusOptions } from './entry-edits';
export type { InfoFileInput } from './info-plans';

/** Info files up to this size are held under dpkg's lock (a `triggers` file is a few lines): memory stays small. */
const HELD_INFO_FILE_BYTES = 4096;
