import type { TriggerDeclarations } from './declarations';
import type { UnincorpEntry } from './formats';
import { changeInterests, explicitInterestsIn, fileInterestsIn, nodeName } from './interests';
import { statusRank, type PackageStatus, type TriggerPackage, type TriggerState } from './model';
import { triggerKind } from './names';

/**
 * What happened to the trigger state, one record per effect, in the order dpkg produces them.
 * - `pending`: `package` got `trigger` pending (its status is now `status`);
 * - `ignored`: `package` is interested in `trigger` but not configured, so dpkg drops the activation;
 * - `awaits`: `package` now awaits the trigger processing of `awaited`;
 * - `status`: a state change (set by the caller, or the consequence of awaited processing being done).
 */
export type TriggerChange =
  | { kind: 'pending'; package: string; trigger: string; status: PackageStatus }
  | { kind: 'ignored'; package: string; trigger: string; status: PackageStatus }
  | { kind: 'awaits'; package: string; awaited: string; status: PackageStatus }
  | { kind: 'status'; package: string; from: PackageStatus; to: PackageStatus };

/** A package's facts that are not trigger state (see TriggerPackage). */
export type PackageInfo = Partial<Pick<TriggerPackage, 'version' | 'architecture' | 'depends' | 'provides' | 'declarations' | 'want'>>;

export interface WorldOptions {
  /** --no-triggers: activations are recorded, nothing is queued for processing in this run. */
  noTriggers?: boolean;
}

/**
 * The mutable working copy behind the pure entry points (`activate`, the planner): dpkg's in-memory trigger
 * bookkeeping (lib/dpkg/triglib.c, trignote.c, dbmodify.c modstatdb_note), one method per dpkg routine. It
 * owns the state it is given; callers hand it a copy.
 */
export class TriggerWorld {
  readonly changes: TriggerChange[] = [];
  /** Bumped whenever a package's facts (its name, what it provides) may have changed: see setInfo. */
  private factsRevision = 0;

  constructor(
    readonly state: TriggerState,
    private readonly options: WorldOptions = {},
  ) {}

  pkg(name: string): TriggerPackage | undefined {
    return Object.hasOwn(this.state.packages, name) ? this.state.packages[name] : undefined;
  }

  /** Records a package's facts, adding it (not-installed, no triggers) if it is new. */
  setInfo(name: string, info: PackageInfo): void {
    this.factsRevision++;
    const p = this.pkg(name) ?? (this.state.packages[name] = { name, status: 'not-installed', pending: [], awaited: [] });
    Object.assign(p, info);
  }

  /** Changes whenever setInfo may have changed what a package is named or provides. */
  get revision(): number {
    return this.factsRevision;
  }

  /** pkg_set_status followed by modstatdb_note. */
  setStatus(name: string, status: PackageStatus): void {
    const p = this.pkg(name);
    if (!p) return;
    this.moveTo(p, status);
    this.note(p);
  }

  /**
   * modstatdb_note's trigger rules: pending triggers exist only in the two trigger states, awaited ones
   * only above config-files, and a package left without pending triggers releases those awaiting it.
   */
  note(p: TriggerPackage): void {
    if (p.status !== 'triggers-pending' && p.status !== 'triggers-awaited') p.pending = [];
    if (statusRank(p.status) <= statusRank('config-files')) p.awaited = [];
    if (p.pending.length === 0) this.clearAwaiters(p.name);
  }

  /** trig_clear_awaiters: `name` has no pending triggers left, so nobody awaits it any more. */
  clearAwaiters(name: string): void {
    for (const aw of Object.values(this.state.packages)) {
      const at = aw.awaited.indexOf(name);
      if (at === -1) continue;
      aw.awaited.splice(at, 1);
      if (aw.awaited.length === 0 && aw.status === 'triggers-awaited') {
        this.moveTo(aw, aw.pending.length > 0 ? 'triggers-pending' : 'installed');
        this.note(aw);
      }
    }
  }

  /**
   * trig_record_activation: `trigger` becomes pending for `pendName` if that package is at least
   * triggers-awaited (configured); an unpacked or half-configured interested package gets nothing, not
   * even a name to remember. The awaiter, if any, then awaits it.
   */
  record(pendName: string, by: string | null, trigger: string): void {
    const pend = this.pkg(pendName);
    if (!pend || statusRank(pend.status) < statusRank('triggers-awaited')) {
      this.changes.push({ kind: 'ignored', package: pendName, trigger, status: pend?.status ?? 'not-installed' });
      return;
    }
    if (!pend.pending.includes(trigger)) {
      pend.pending.unshift(trigger);
      this.moveTo(pend, pend.awaited.length > 0 ? 'triggers-awaited' : 'triggers-pending');
      this.changes.push({ kind: 'pending', package: pendName, trigger, status: pend.status });
    }
    this.enqueueDeferred(pendName);
    const aw = by === null ? undefined : this.pkg(by);
    if (!aw || aw.awaited.includes(pendName)) return;
    // dpkg links the awaiter whatever its state, then its modstatdb_note drops the link again if the
    // awaiter is config-files or less: so a package being installed afresh, still not-installed when
    // its new `activate` lines fire, awaits nothing, while one half-installed by then does.
    aw.awaited.push(pendName);
    if (statusRank(aw.status) > statusRank('triggers-awaited')) this.moveTo(aw, 'triggers-awaited');
    if (statusRank(aw.status) > statusRank('config-files')) {
      this.changes.push({ kind: 'awaits', package: aw.name, awaited: pendName, status: aw.status });
    }
    this.note(aw);
  }

  enqueueDeferred(name: string): void {
    if (this.options.noTriggers) return;
    if (!this.state.deferred.includes(name)) this.state.deferred.push(name);
  }

  /** trig_activate_start + activate_awaiter + activate_done for any trigger name. */
  activateTrigger(trigger: string, by: string | null): void {
    switch (triggerKind(trigger)) {
      case 'explicit':
        for (const i of explicitInterestsIn(this.state.interests, trigger)) this.record(i.package, i.noawait ? null : by, trigger);
        return;
      case 'file':
        this.activatePath(trigger, by);
        return;
      case 'unknown':
        return; // dpkg accepts activations of unknown kinds and does nothing with them.
    }
  }

  /** trig_file_activate: the interests in exactly this path (an unpacked archive member). */
  activateMember(path: string, by: string | null): void {
    const node = nodeName(path);
    for (const i of fileInterestsIn(this.state.interests, node)) this.record(i.package, i.noawait ? null : by, node);
  }

  /** trig_path_activate: the path itself, then each parent directory, deepest first. */
  activatePath(path: string, by: string | null): void {
    this.activateMember(path, by);
    for (let p = path, slash = p.lastIndexOf('/'); slash >= 0; slash = p.lastIndexOf('/')) {
      p = p.slice(0, slash);
      if (p !== '') this.activateMember(p, by);
    }
  }

  /** trig_parse_ci with the status-change callback: each `activate` line of `decl`, awaited by `pkg`. */
  activateDeclared(pkg: string, decl: TriggerDeclarations | undefined): void {
    for (const a of decl?.activates ?? []) this.activateTrigger(a.trigger, a.noawait ? null : pkg);
  }

  /** trig_incorporate: Unincorp's activations, line by line, each awaiter in turn. */
  incorporate(entries: readonly UnincorpEntry[]): void {
    for (const e of entries) for (const by of e.awaiters) this.activateTrigger(e.trigger, by);
  }

  changeInterests(pkg: string, remove: TriggerDeclarations | undefined, add: TriggerDeclarations | undefined): void {
    this.state.interests = changeInterests(this.state.interests, pkg, remove, add);
  }

  private moveTo(p: TriggerPackage, to: PackageStatus): void {
    if (p.status === to) return;
    this.changes.push({ kind: 'status', package: p.name, from: p.status, to });
    p.status = to;
  }
}
