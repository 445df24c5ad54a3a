import { ancestorsOf, compareDeepFirst, compareShallowFirst, isBeneath, joinRootPath, parentOf, type RootPath } from '../../fs/rootpath';
import type { FileRow } from '../../db/types';
import type { EntryMeta } from '../../model/entry';
import { packageKey, type EntryMetadata, type LowerEntry, type PackageRecord, type PackageSet, type ReconcileFacts, type UpperEntry } from './facts';
import { dpkgStatusAfter } from './dpkg-status';
import { judgeOrigin, type OriginVerdict } from './origin';
import { decideByVersion, fromImage, nonDirectoryOwners, ownershipOf, type Owning, type Ownership, type Verdict, type VersionDecision } from './packages';

/**
 * `overlay reconcile` decided: from the facts (facts.ts) to what happens to each upper-layer entry, each
 * package's database rows and each overlay attribute, and the journal steps that do it. Pure.
 *
 * The invariant every removal keeps: the merged view of the new lower and the reconciled upper is the new
 * image, plus what the upper layer holds that is still the live system's own — packages newer than the
 * image's or that the image lacks, locally modified conffiles, local files. So an upper entry goes when
 * - it equals what the new lower has beneath it (type, mode, owner, xattrs, content or target, file mtime):
 *   removing it changes nothing in the merged view, and frees its space;
 * - it is a file of a package whose rows now come from the image (its upgrade is in the image), and not a
 *   locally modified conffile;
 * - it is a whiteout over nothing, or over a file of a package whose rows come from the image (not a
 *   conffile: dpkg keeps a conffile the administrator deleted);
 * - it is a directory left empty by the above that equals the lower's, or that only such a package made.
 * Opaque marks over nothing lose the mark. For a kept package whose older version the image ships,
 * the image's files that the kept version does not have get whiteouts, as its upgrade would have removed
 * them. Nothing beneath a directory with a redirect is touched (its lower part is another path's).
 */

export interface ReconcileOptions {
  /** Remove `origin` records that name no inode of the new lower at their path (or cannot be read). */
  stripOrigin: boolean;
}

export type RemovalReason = 'redundant' | 'package-file' | 'dead-whiteout' | 'restored' | 'empty-directory';

export interface Removal {
  path: RootPath;
  reason: RemovalReason;
  kind: UpperEntry['kind'] | 'whiteout';
  /** Bytes freed in the upper layer (a hard-linked inode counts when its last name goes). */
  bytes: number;
  /** `name version` of the package whose file it was (package-file, restored). */
  package?: string;
  /** package-file: the upper copy was not the package's own bytes (a local change the image's version replaces). */
  localChange?: boolean;
  /** package-file: the image's version of the package no longer ships it. */
  obsolete?: boolean;
}

export interface Addition {
  path: RootPath;
  /** whiteout: hides a file of the image's older version of a kept package; directory: made to hold one. */
  what: 'whiteout' | 'directory';
  package?: string;
}

export interface AttributeChange {
  path: RootPath;
  attr: 'opaque' | 'origin';
  why: 'nothing-beneath' | OriginVerdict;
}

/** A non-null origin record that does not name the new lower's inode at its path. */
export interface OriginNote {
  path: RootPath;
  verdict: 'stale' | 'unknown';
  /** The inode it names, when readable. */
  inode?: number;
  /** The inode the new lower has at the path (none: nothing there). */
  lowerInode?: number;
  /** The handle carries no filesystem UUID (squashfs): the kernel cannot tell an old image's from a new one's. */
  nullUuid: boolean;
  /** Removed by this run (--strip-origin). */
  stripped: boolean;
}

export type NoteKind =
  | 'modified-conffile' // kept: the administrator changed it
  | 'deleted-conffile' // a whiteout kept: the administrator deleted a conffile the image ships
  | 'obsolete-conffile' // kept: a modified conffile the image's version of its package no longer ships
  | 'left-behind' // kept: a file of a package the new image dropped
  | 'redirect' // a directory redirect; nothing beneath it is touched
  | 'metacopy' // a metacopy file whose data the new lower has, as its package recorded it
  | 'taken-over'; // a kept package took over a file an image package ships: the image package's row goes

export interface Note {
  kind: NoteKind;
  path: RootPath;
  package?: string;
  detail?: string;
}

/** Data the reconciled layers no longer hold: it lived in the replaced lower. */
export interface LostItem {
  path: RootPath;
  kind: 'metacopy' | 'package-file';
  package?: string;
  why: string;
}

export interface PackageOutcome {
  name: string;
  architecture: string;
  /** Whose database the package is in. */
  db: 'overmerge' | 'dpkg';
  verdict: Verdict | 'dropped';
  upperVersion?: string;
  imageVersion?: string;
  /** Whose rows the reconciled database holds: the image's, the upper's, or none. */
  rows: 'image' | 'upper' | 'none';
  /** Upper-layer entries of the package this run removes. */
  removed: number;
}

/** A journal step as the engine runs it (engine/steps/): the kinds reconcile uses. */
export type ReconcileStep =
  | { kind: 'mkdir'; path: RootPath; meta: EntryMeta; aside: 'none' }
  | { kind: 'whiteout'; path: RootPath; mtime: number }
  | { kind: 'strip-xattr'; path: RootPath; name: string; value: string }
  | { kind: 'remove'; path: RootPath }
  | { kind: 'rmdir'; path: RootPath }
  | { kind: 'replace-file'; path: RootPath; content: string };

/** dpkg's status file in the upper layer after the reconcile. */
export interface DpkgPlan {
  /** write: rewritten (the image's stanzas, the kept packages' instead of theirs); remove: the image's is the same, so the upper's copy goes; unchanged. */
  status: 'write' | 'remove' | 'unchanged';
  /** Packages whose stanzas the upper's status keeps (`dpkg:name:arch`). */
  kept: string[];
  /** Packages of the upper's status that go (the old image's, dropped by the new one). */
  dropped: string[];
}

export interface DatabasePlan {
  /** Packages whose rows are taken from the image's database (replacing the upper's, if any). */
  fromImage: string[];
  /** Packages whose rows the upper's database keeps. */
  kept: string[];
  /** Packages whose rows go: the new image dropped them. */
  removed: string[];
  /** Paths dropped from image packages' rows: a kept package took them over. */
  disowned: Array<{ key: string; path: RootPath }>;
}

export interface ReconcilePlan {
  packages: PackageOutcome[];
  removals: Removal[];
  additions: Addition[];
  attributes: AttributeChange[];
  origins: OriginNote[];
  notes: Note[];
  lost: LostItem[];
  database?: DatabasePlan;
  dpkg?: DpkgPlan;
  /** In the order the engine runs them. */
  steps: ReconcileStep[];
  reclaimedBytes: number;
}

/** The xattr namespace of the layers' overlay attributes, and the options. */
export interface PlanContext extends ReconcileOptions {
  prefix: string;
}

export function planReconcile(facts: ReconcileFacts, ctx: PlanContext): ReconcilePlan {
  return new Planner(facts, ctx).plan();
}

/** What the merged view will show at a path where the upper layer has nothing of its own. */
type View = { by: 'upper'; entry: UpperEntry } | { by: 'lower'; entry: LowerEntry } | { by: 'nothing' } | { by: 'hidden' } | { by: 'redirected' };

class Planner {
  private readonly upper = new Map<RootPath, UpperEntry>();
  private readonly children = new Map<RootPath, UpperEntry[]>();
  private readonly decisions: VersionDecision[];
  private readonly verdicts = new Map<string, Verdict | 'dropped'>();
  private readonly versions = new Map<string, string>();
  private result!: Ownership;
  private upperOwners!: Ownership;
  private readonly out: ReconcilePlan = { packages: [], removals: [], additions: [], attributes: [], origins: [], notes: [], lost: [], steps: [], reclaimedBytes: 0 };
  private readonly removedPer = new Map<string, number>();
  private readonly namesGone = new Map<string, number>();
  private readonly disowned: Array<{ key: string; path: RootPath }> = [];

  constructor(
    private readonly facts: ReconcileFacts,
    private readonly ctx: PlanContext,
  ) {
    for (const e of facts.upper) {
      this.upper.set(e.path, e);
      if (e.path === '') continue;
      const parent = parentOf(e.path);
      const list = this.children.get(parent);
      if (list) list.push(e);
      else this.children.set(parent, [e]);
    }
    const all = allPackages(facts);
    this.decisions = decideByVersion(all.upper, all.image);
  }

  plan(): ReconcilePlan {
    this.decidePackages();
    const root = this.upper.get('' as RootPath);
    if (root) this.visitRoot(root);
    this.planKeptPackages();
    this.finishPackages();
    this.order();
    return this.out;
  }

  // ---- packages --------------------------------------------------------------------------------

  /** Version verdicts, then which upper-only packages were the old image's own (dropped by the new one). */
  private decidePackages(): void {
    this.upperOwners = ownershipOf(allPackages(this.facts).upper?.values() ?? []);
    for (const d of this.decisions) {
      this.verdicts.set(d.key, d.verdict);
      this.versions.set(d.key, `${d.name} ${(fromImage(d.verdict) ? d.image : d.upper)!.version}`);
    }
    for (const d of this.decisions) {
      if (d.verdict !== 'upper-only' || !d.upper) continue;
      const lost = this.lostFilesOf(d.upper);
      if (lost.length > 0 && this.evidence(d.upper) === 0) this.verdicts.set(d.key, 'dropped');
    }
    const resultSet: PackageRecord[] = [];
    for (const d of this.decisions) {
      const v = this.verdicts.get(d.key)!;
      if (v === 'dropped') continue;
      resultSet.push((fromImage(v as Verdict) ? d.image : d.upper)!);
    }
    this.result = ownershipOf(resultSet);
    // A kept package owning a file an image package owns too took it over on the live system (Replaces):
    // the image package's row for it goes, as installing the kept package over the image would drop it.
    for (const [p, owners] of this.result) {
      const files = owners.filter((o) => o.row.type !== 'directory');
      const kept = files.filter((o) => !this.isImageRow(o));
      if (kept.length === 0) continue;
      for (const o of files.filter((x) => this.isImageRow(x))) {
        this.disowned.push({ key: o.key, path: p });
        this.note('taken-over', p, kept[0].key, `the image's ${this.versions.get(o.key)} owns it too; its row goes`);
      }
    }
    if (this.disowned.length > 0) {
      const gone = new Set(this.disowned.map((d) => `${d.key}\0${d.path}`));
      const pruned = new Map<RootPath, Owning[]>();
      for (const [p, owners] of this.result) pruned.set(p, owners.filter((o) => !gone.has(`${o.key}\0${p}`)));
      this.result = pruned;
    }
  }

  /** How many of the package's files the upper layer holds as the package recorded them: proof it was installed through the overlay. */
  private evidence(p: PackageRecord): number {
    let n = 0;
    for (const row of p.files) {
      const e = this.upper.get(row.path as RootPath);
      if (e && !e.whiteout && row.type !== 'directory' && matchesRow(e, row)) n++;
    }
    return n;
  }

  /** Files of a kept package that the reconciled layers will not show as the package recorded them. */
  private lostFilesOf(p: PackageRecord): LostItem[] {
    const out: LostItem[] = [];
    const pkg = `${p.name} ${p.version}`;
    for (const row of p.files) {
      const at = row.path as RootPath;
      const v = this.viewBefore(at);
      if (v.by !== 'lower' && v.by !== 'nothing') continue; // the upper layer holds it (or hid it before): not the image's doing
      if (v.by === 'nothing') out.push({ path: at, kind: 'package-file', package: pkg, why: 'the new image does not have it; it was the replaced image\'s' });
      else if (!matchesRow(v.entry, row)) out.push({ path: at, kind: 'package-file', package: pkg, why: `the new image has another ${describeKind(v.entry)} here; the package's was the replaced image's` });
    }
    return out;
  }

  /** What the merged view shows at `p` with the upper layer as it is, over the new lower. */
  private viewBefore(p: RootPath): View {
    const own = this.upper.get(p);
    for (const a of [...ancestorsOf(p)].reverse()) {
      const e = this.upper.get(a);
      if (!e) continue;
      if (e.whiteout || e.kind !== 'directory') return { by: 'hidden' };
      if (e.redirect !== undefined) return { by: 'redirected' };
      if (e.opaque === 'y') return own ? { by: 'upper', entry: own } : { by: 'hidden' };
    }
    if (own) return own.whiteout ? { by: 'hidden' } : { by: 'upper', entry: own };
    const l = this.facts.lower.get(p);
    return l ? { by: 'lower', entry: l } : { by: 'nothing' };
  }

  private isImageRow(o: Owning): boolean {
    const v = this.verdicts.get(o.key);
    return v !== undefined && v !== 'dropped' && fromImage(v);
  }

  private isKept(key: string): boolean {
    const v = this.verdicts.get(key);
    return v === 'upper-newer' || v === 'upper-only';
  }

  // ---- the upper layer, entry by entry ------------------------------------------------------------

  private visitRoot(root: UpperEntry): void {
    const beneath = this.facts.lower.get('' as RootPath);
    for (const c of this.children.get('' as RootPath) ?? []) this.visit(c, { opaqueAbove: root.opaque === 'y', redirected: false, leftAlone: false });
    this.checkOrigin(root, beneath);
  }

  /** Decides `e` and everything beneath it; true when `e` goes. */
  private visit(e: UpperEntry, up: { opaqueAbove: boolean; redirected: boolean; leftAlone: boolean }): boolean {
    const leftAlone = up.leftAlone || this.facts.leaveAlone.some((a) => e.path === a || isBeneath(e.path, a));
    if (up.redirected) {
      for (const c of this.children.get(e.path) ?? []) this.visit(c, up);
      return false;
    }
    const beneath = up.opaqueAbove ? undefined : this.facts.lower.get(e.path);
    if (leftAlone) {
      for (const c of this.children.get(e.path) ?? []) this.visit(c, { ...up, leftAlone: true });
      if (!e.whiteout) this.checkOrigin(e, beneath);
      return false;
    }
    if (e.whiteout) return this.whiteout(e, beneath);
    if (e.kind === 'directory') return this.directory(e, beneath, up);
    return this.nonDirectory(e, beneath);
  }

  private whiteout(e: UpperEntry, beneath: LowerEntry | undefined): boolean {
    if (!beneath) return this.remove(e, 'dead-whiteout');
    const owners = this.result.get(e.path) ?? [];
    if (owners.length === 0 || owners.some((o) => !this.isImageRow(o))) return false;
    const conffile = owners.find((o) => o.row.conffile);
    if (conffile) {
      this.note('deleted-conffile', e.path, conffile.key);
      return false;
    }
    return this.remove(e, 'restored', { package: owners[0].key });
  }

  private directory(e: UpperEntry, beneath: LowerEntry | undefined, up: { opaqueAbove: boolean; redirected: boolean; leftAlone: boolean }): boolean {
    const redirected = e.redirect !== undefined;
    if (redirected) this.note('redirect', e.path, undefined, e.redirect);
    const below = { opaqueAbove: up.opaqueAbove || e.opaque === 'y', redirected, leftAlone: false };
    let allGone = true;
    for (const c of this.children.get(e.path) ?? []) if (!this.visit(c, below)) allGone = false;
    if (allGone && !redirected && e.opaque !== 'x' && this.directoryMayGo(e, beneath)) {
      if (beneath?.kind === 'directory' && e.opaque !== 'y' && sameEntry(e, beneath)) return this.remove(e, 'redundant');
      return this.remove(e, 'empty-directory', { package: (this.upperOwners.get(e.path) ?? this.result.get(e.path) ?? [])[0]?.key });
    }
    if (e.opaque === 'y' && beneath?.kind !== 'directory') {
      this.out.attributes.push({ path: e.path, attr: 'opaque', why: 'nothing-beneath' });
      this.out.steps.push({ kind: 'strip-xattr', path: e.path, name: `${this.ctx.prefix}opaque`, value: Buffer.from('y').toString('hex') });
    }
    if (!redirected) this.checkOrigin(e, beneath);
    return false;
  }

  /**
   * An empty upper directory goes when the merged view does not lose it, when only packages whose rows now
   * come from the image made it, or when nothing is beneath it and only packages the new image dropped own
   * it (a copy-up left by deleting one of their files).
   */
  private directoryMayGo(e: UpperEntry, beneath: LowerEntry | undefined): boolean {
    if (beneath?.kind === 'directory' && e.opaque !== 'y' && sameEntry(e, beneath)) return true;
    if (this.imageSide(e.path)) return true;
    const owners = this.upperOwners.get(e.path) ?? [];
    return !beneath && (this.result.get(e.path) ?? []).length === 0 && owners.length > 0 && owners.every((o) => this.verdicts.get(o.key) === 'dropped');
  }

  /**
   * Whether what is at `p` is, after the reconcile, the business of packages whose rows come from the
   * image: they own it, or nobody does and an upgrade of such a package (in the upper) did.
   */
  private imageSide(p: RootPath): boolean {
    const owners = this.result.get(p) ?? [];
    if (owners.length > 0) return owners.every((o) => this.isImageRow(o));
    return (this.upperOwners.get(p) ?? []).some((o) => this.verdicts.get(o.key) !== 'dropped' && fromImage(this.verdicts.get(o.key) as Verdict));
  }

  private nonDirectory(e: UpperEntry, beneath: LowerEntry | undefined): boolean {
    if (beneath && this.redundant(e, beneath)) return this.remove(e, 'redundant', { package: this.ownerKey(e.path) });
    const owners = nonDirectoryOwners(this.result, e.path);
    const upperRow = nonDirectoryOwners(this.upperOwners, e.path)[0];
    const kept = owners.filter((o) => !this.isImageRow(o));
    const image = owners.filter((o) => this.isImageRow(o));
    if (kept.length > 0) return this.keepFile(e);
    if (image.length > 0) {
      const row = image[0].row;
      const shipped = upperRow?.row ?? row;
      if (row.conffile && this.modifiedConffile(e, shipped)) {
        const imageHash = row.conffileHash ?? row.md5;
        this.note('modified-conffile', e.path, image[0].key, imageHash !== (shipped.conffileHash ?? shipped.md5) ? 'the image ships another version of it' : undefined);
        return this.keepFile(e);
      }
      return this.remove(e, 'package-file', { package: image[0].key, localChange: upperRow !== undefined && !matchesRow(e, upperRow.row) });
    }
    if ((this.result.get(e.path) ?? []).some((o) => this.isImageRow(o))) {
      // The image's package ships a directory here: the upper's file goes so that it shows.
      return this.remove(e, 'package-file', { package: (this.result.get(e.path) ?? [])[0].key });
    }
    if (upperRow && this.verdicts.get(upperRow.key) === 'dropped') {
      this.note('left-behind', e.path, upperRow.key);
      return this.keepFile(e);
    }
    if (upperRow && this.imageSide(e.path)) {
      if (upperRow.row.conffile && this.modifiedConffile(e, upperRow.row)) {
        this.note('obsolete-conffile', e.path, upperRow.key);
        return this.keepFile(e);
      }
      return this.remove(e, 'package-file', { package: upperRow.key, obsolete: true, localChange: !matchesRow(e, upperRow.row) });
    }
    return this.keepFile(e);
  }

  /**
   * A metacopy file holds no data: the merged view reads it from the lower file at its path, so it is
   * redundant when its metadata equals that file's (unless a redirect sends the data elsewhere).
   */
  private redundant(e: UpperEntry, beneath: LowerEntry): boolean {
    if (!e.metacopy) return sameEntry(e, beneath);
    return e.redirect === undefined && beneath.kind === 'file' && sameEntry({ ...e, sha256: beneath.sha256 ?? '' }, { ...beneath, sha256: beneath.sha256 ?? '' });
  }

  /** The package a path belongs to, for the report: the reconciled owner, else the upper's. */
  private ownerKey(p: RootPath): string | undefined {
    return (nonDirectoryOwners(this.result, p)[0] ?? nonDirectoryOwners(this.upperOwners, p)[0])?.key;
  }

  /** A file that stays: its origin is judged, and a metacopy file's data looked for in the new lower. */
  private keepFile(e: UpperEntry): false {
    this.checkOrigin(e, this.facts.lower.get(e.path));
    if (e.metacopy) this.checkMetacopy(e);
    return false;
  }

  private modifiedConffile(e: UpperEntry, shipped: FileRow): boolean {
    const hash = shipped.conffileHash ?? shipped.md5;
    return e.kind !== 'file' || e.md5 === undefined || hash === null || e.md5 !== hash;
  }

  private checkMetacopy(e: UpperEntry): void {
    const source = metacopySource(e);
    const data = source === undefined ? undefined : this.facts.lower.get(source);
    const row = nonDirectoryOwners(this.result, e.path)[0];
    if (data?.kind === 'file' && data.size === e.size && row?.row.sha256 && data.sha256 === row.row.sha256) {
      this.note('metacopy', e.path, row.key, `its data is the new lower's ${source === '' ? '/' : `/${source}`}, as the package recorded it`);
      return;
    }
    const where = source === undefined ? 'its redirect cannot be followed' : `the new lower ${data ? `has another ${describeKind(data)}` : 'has nothing'} at /${source}${data ? '' : ' (reading it will fail with EIO)'}`;
    this.out.lost.push({ path: e.path, kind: 'metacopy', package: row ? this.versions.get(row.key) : undefined, why: `a metacopy file: its data was the replaced lower's; ${where}` });
  }

  private checkOrigin(e: UpperEntry, beneath: LowerEntry | undefined): void {
    if (!e.origin || e.metacopy) return;
    const verdict = judgeOrigin(e.origin, beneath?.ino);
    if (verdict === 'null' || verdict === 'current') return;
    const stripped = this.ctx.stripOrigin;
    this.out.origins.push({
      path: e.path,
      verdict,
      inode: e.origin.inode,
      lowerInode: beneath?.ino,
      nullUuid: e.origin.handle.kind === 'handle' && e.origin.handle.nullUuid,
      stripped,
    });
    if (!stripped) return;
    this.out.attributes.push({ path: e.path, attr: 'origin', why: verdict });
    this.out.steps.push({ kind: 'strip-xattr', path: e.path, name: `${this.ctx.prefix}origin`, value: e.origin.raw });
  }

  private remove(e: UpperEntry, reason: RemovalReason, extra: { package?: string; localChange?: boolean; obsolete?: boolean } = {}): true {
    const gone = (this.namesGone.get(e.inode) ?? 0) + 1;
    this.namesGone.set(e.inode, gone);
    const bytes = e.kind === 'directory' || gone >= e.nlink ? e.bytes : 0;
    const removal: Removal = { path: e.path, reason, kind: e.whiteout ? 'whiteout' : e.kind, bytes };
    if (extra.package !== undefined) {
      removal.package = this.versions.get(extra.package);
      this.removedPer.set(extra.package, (this.removedPer.get(extra.package) ?? 0) + 1);
    }
    if (extra.localChange) removal.localChange = true;
    if (extra.obsolete) removal.obsolete = true;
    this.out.removals.push(removal);
    this.out.reclaimedBytes += bytes;
    this.out.steps.push(e.kind === 'directory' && !e.whiteout ? { kind: 'rmdir', path: e.path } : { kind: 'remove', path: e.path });
    return true;
  }

  private note(kind: NoteKind, path: RootPath, key?: string, detail?: string): void {
    const n: Note = { kind, path };
    if (key !== undefined) n.package = this.versions.get(key) ?? key;
    if (detail !== undefined) n.detail = detail;
    this.out.notes.push(n);
  }

  // ---- kept packages -------------------------------------------------------------------------------

  /**
   * For a kept package: what the layers no longer hold of it (lost), and whiteouts over the files of the
   * image's older version that the kept version does not have (its upgrade would have removed them).
   */
  private planKeptPackages(): void {
    const whiteouts = new Map<RootPath, string>();
    const candidates: Array<{ path: RootPath; key: string }> = [];
    for (const d of this.decisions) {
      if (!this.isKept(d.key) || !d.upper) continue;
      this.out.lost.push(...this.lostFilesOf(d.upper));
      if (!d.image) continue;
      const own = new Set(d.upper.files.map((f) => f.path));
      for (const row of d.image.files) {
        const at = row.path as RootPath;
        if (own.has(at) || (this.result.get(at) ?? []).length > 0 || row.conffile) continue;
        if (this.viewBefore(at).by !== 'lower') continue;
        if (row.type === 'directory') candidates.push({ path: at, key: d.key });
        else whiteouts.set(at, d.key);
      }
    }
    // A directory all of whose lower entries get whiteouts gets one itself instead, deepest first.
    for (const c of candidates.sort((a, b) => compareDeepFirst(a.path, b.path))) {
      if (c.path === '' || this.upper.has(c.path)) continue;
      const names = this.facts.lowerChildren.get(c.path);
      if (names === undefined) continue;
      if (!names.every((n) => whiteouts.has(joinRootPath(c.path, n)))) continue;
      for (const n of names) whiteouts.delete(joinRootPath(c.path, n));
      whiteouts.set(c.path, c.key);
    }
    const made = new Set<RootPath>();
    for (const [at, key] of [...whiteouts].sort((a, b) => compareShallowFirst(a[0], b[0]))) {
      for (const a of [...ancestorsOf(at)].reverse()) {
        if (a === '' || this.upper.has(a) || made.has(a)) continue;
        const l = this.facts.lower.get(a);
        if (!l) continue;
        made.add(a);
        this.out.additions.push({ path: a, what: 'directory' });
        this.out.steps.push({ kind: 'mkdir', path: a, meta: metaOf(l), aside: 'none' });
      }
      this.out.additions.push({ path: at, what: 'whiteout', package: this.versions.get(key) });
      this.out.steps.push({ kind: 'whiteout', path: at, mtime: metaOf(this.facts.lower.get(at)!).mtime });
    }
  }

  private finishPackages(): void {
    const db: DatabasePlan = { fromImage: [], kept: [], removed: [], disowned: this.disowned.filter((x) => !isDpkg(x.key)) };
    const dpkgRows = new Map<string, 'image' | 'upper' | 'none'>();
    for (const d of this.decisions) {
      const v = this.verdicts.get(d.key)!;
      const rows = v === 'dropped' ? 'none' : fromImage(v as Verdict) ? 'image' : 'upper';
      this.out.packages.push({
        name: d.name,
        architecture: d.architecture,
        db: isDpkg(d.key) ? 'dpkg' : 'overmerge',
        verdict: v,
        upperVersion: d.upper?.version,
        imageVersion: d.image?.version,
        rows,
        removed: this.removedPer.get(d.key) ?? 0,
      });
      if (isDpkg(d.key)) {
        dpkgRows.set(d.key, rows);
        continue;
      }
      if (rows === 'image') db.fromImage.push(d.key);
      else if (rows === 'upper') db.kept.push(d.key);
      else db.removed.push(d.key);
    }
    if (this.facts.upperDb || this.facts.imageDb) this.out.database = db;
    if (this.facts.dpkg) this.planDpkgStatus(dpkgRows);
  }

  /** dpkg's status: rewritten as the image's plus the kept packages' stanzas (or its copy removed, when that is the image's). */
  private planDpkgStatus(rows: ReadonlyMap<string, 'image' | 'upper' | 'none'>): void {
    const d = this.facts.dpkg!;
    const after = dpkgStatusAfter(d, rows);
    const at = 'var/lib/dpkg/status' as RootPath;
    const status = after.text === d.upperStatusText ? 'unchanged' : after.text === d.imageStatusText ? 'remove' : 'write';
    this.out.dpkg = { status, kept: after.kept, dropped: after.dropped };
    const e = this.upper.get(at);
    if (status === 'remove' && e) this.remove(e, 'redundant');
    if (status === 'write') this.out.steps.push({ kind: 'replace-file', path: at, content: Buffer.from(after.text, 'latin1').toString('base64') });
  }

  /** Directories first, then whiteouts, attributes, removals (deepest first) and empty directories last. */
  private order(): void {
    const rank: Record<ReconcileStep['kind'], number> = { mkdir: 0, whiteout: 1, 'strip-xattr': 2, 'replace-file': 3, remove: 4, rmdir: 5 };
    this.out.steps.sort((a, b) => rank[a.kind] - rank[b.kind] || (a.kind === 'mkdir' ? compareShallowFirst(a.path, b.path) : compareDeepFirst(a.path, b.path)));
    const byPath = (a: { path: RootPath }, b: { path: RootPath }): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
    this.out.removals.sort(byPath);
    this.out.notes.sort(byPath);
    this.out.origins.sort(byPath);
    this.out.lost.sort(byPath);
  }
}

/** An upper and a lower entry are the same for the merged view (mtime aside for directories). */
export function sameEntry(a: EntryMetadata, b: EntryMetadata): boolean {
  if (a.kind !== b.kind || a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (!sameXattrs(a.xattrs, b.xattrs)) return false;
  if (a.kind === 'directory') return true;
  if (a.mtimeNs !== b.mtimeNs) return false;
  switch (a.kind) {
    case 'file':
      return a.size === b.size && a.sha256 !== undefined && a.sha256 === b.sha256;
    case 'symlink':
      return a.target !== undefined && a.target === b.target;
    case 'char':
    case 'block':
      return a.rdev === b.rdev;
    default:
      return true;
  }
}

function sameXattrs(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

/** Whether an entry is what a database row records (type and content; mode and owner are verify's business). */
export function matchesRow(e: EntryMetadata, row: FileRow): boolean {
  switch (row.type) {
    case 'file':
      return e.kind === 'file' && (row.sha256 ? e.sha256 === row.sha256 : row.md5 ? e.md5 === row.md5 : e.size === row.size);
    case 'hardlink':
      return e.kind === 'file';
    case 'symlink':
      return e.kind === 'symlink' && e.target === row.linkTarget;
    case 'directory':
      return e.kind === 'directory';
    default:
      return e.kind === row.type;
  }
}

/** Where a metacopy file's data is in the lower: its redirect (absolute, or a name in its folder), or its own path. */
export function metacopySource(e: Pick<UpperEntry, 'path' | 'redirect'>): RootPath | undefined {
  const r = e.redirect;
  if (r === undefined) return e.path;
  if (r.startsWith('/')) return r.length > 1 && !r.split('/').slice(1).some((c) => c === '' || c === '.' || c === '..') ? (r.slice(1) as RootPath) : undefined;
  if (r === '' || r.includes('/') || r === '.' || r === '..') return undefined;
  return joinRootPath(parentOf(e.path), r);
}

function describeKind(e: EntryMetadata): string {
  return e.kind === 'file' ? 'file' : e.kind;
}

function metaOf(l: LowerEntry): EntryMeta {
  return { mode: l.mode, uid: l.uid, gid: l.gid, mtime: Number(BigInt(l.mtimeNs) / 1_000_000_000n) };
}

function isDpkg(key: string): boolean {
  return key.startsWith('dpkg:');
}

/** overmerge's packages and dpkg's, as one set per layer (their keys differ). */
export function allPackages(f: Pick<ReconcileFacts, 'upperDb' | 'imageDb' | 'dpkg'>): { upper?: PackageSet; image?: PackageSet } {
  const join = (a: PackageSet | undefined, b: PackageSet | undefined): PackageSet | undefined => (a && b ? new Map([...a, ...b]) : (a ?? b));
  return { upper: join(f.upperDb, f.dpkg?.upper), image: join(f.imageDb, f.dpkg?.image) };
}

/** The paths whose lower entries the planner reads (gather asks the new lower for them). */
export function pathsToAsk(upper: readonly UpperEntry[], upperDb: ReconcileFacts['upperDb'], imageDb: ReconcileFacts['imageDb']): RootPath[] {
  const out = new Set<RootPath>();
  for (const e of upper) {
    out.add(e.path);
    if (e.metacopy) {
      const s = metacopySource(e);
      if (s !== undefined) out.add(s);
    }
  }
  for (const d of decideByVersion(upperDb, imageDb)) {
    if (fromImage(d.verdict) || !d.upper) continue;
    for (const f of d.upper.files) out.add(f.path as RootPath);
    if (!d.image) continue;
    const own = new Set(d.upper.files.map((f) => f.path));
    for (const f of d.image.files) {
      if (own.has(f.path)) continue;
      out.add(f.path as RootPath);
      for (const a of ancestorsOf(f.path as RootPath)) out.add(a);
    }
  }
  return [...out].sort(compareShallowFirst);
}

/** The new lower's directories whose names the planner needs: image directories a kept package's version no longer has. */
export function dirsToList(upperDb: ReconcileFacts['upperDb'], imageDb: ReconcileFacts['imageDb']): RootPath[] {
  const out = new Set<RootPath>();
  for (const d of decideByVersion(upperDb, imageDb)) {
    if (fromImage(d.verdict) || !d.upper || !d.image) continue;
    const own = new Set(d.upper.files.map((f) => f.path));
    for (const f of d.image.files) if (f.type === 'directory' && !own.has(f.path) && f.path !== '') out.add(f.path as RootPath);
  }
  return [...out];
}

/**
 * The regular files whose content the planner compares: an upper file over a lower file of the same size,
 * and every file a database names (conffiles, a package's own bytes, a kept package's files in the lower,
 * a metacopy file's data). Hashing everything would read all of a persistence layer's user data.
 */
export function filesToHash(
  upper: readonly UpperEntry[],
  lower: ReadonlyMap<RootPath, LowerEntry>,
  upperDb: ReconcileFacts['upperDb'],
  imageDb: ReconcileFacts['imageDb'],
): { upper: RootPath[]; lower: RootPath[] } {
  const owned = new Set<string>();
  for (const db of [upperDb, imageDb]) for (const p of db?.values() ?? []) for (const f of p.files) if (f.type !== 'directory') owned.add(f.path);
  const up: RootPath[] = [];
  const low = new Set<RootPath>();
  for (const e of upper) {
    if (e.whiteout || e.kind !== 'file') continue;
    const l = lower.get(e.path);
    const over = l?.kind === 'file' && l.size === e.size;
    if (!e.metacopy && (over || owned.has(e.path))) up.push(e.path);
    if (over) low.add(e.path);
    if (e.metacopy) {
      const s = metacopySource(e);
      if (s !== undefined && lower.get(s)?.kind === 'file') low.add(s);
    }
  }
  for (const d of decideByVersion(upperDb, imageDb)) {
    if (fromImage(d.verdict) || !d.upper) continue;
    for (const f of d.upper.files) if (f.type === 'file' && lower.get(f.path as RootPath)?.kind === 'file') low.add(f.path as RootPath);
  }
  return { upper: up, lower: [...low] };
}

export { packageKey };
