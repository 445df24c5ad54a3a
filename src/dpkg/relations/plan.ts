import { Arches } from './arch';
import { type Bin, Db, loadInstalled, makeBin, type Pkg, type Possi } from './model';
import { refOf } from './names';
import { processQueue, type QueueEntry } from './queue';
import { Run } from './run';
import { versionSatisfies, virtualSatisfied } from './satisfy';
import type { ArchiveItem, PackageRef, RelationsInput, RelationsPlan } from './types';
import { processArchive } from './unpack';

/**
 * Plans a transaction as dpkg would run it, and says what dpkg would refuse. Pure: plain data in, plain
 * data out.
 *
 * The archives are unpacked in the order given, each checked as `dpkg --unpack` checks it (Pre-Depends,
 * Conflicts, Breaks; conflictors removed in favour, packages deconfigured, packages disappearing); then
 * one queue removes what is to be removed and configures what was installed, in dpkg's deferred order.
 *
 * Where this differs from one `dpkg -i a.deb b.deb` call, on purpose:
 * - A pre-dependency satisfied by a package of the same transaction is configured before the archive that
 *   needs it is unpacked (pulling its unpack forward, and configuring what it depends on in the
 *   transaction with it), as apt does (apt-pkg/packagemanager.cc SmartUnPack: a Pre-Depends target is
 *   unpacked and configured "immediately", in dpkg calls of its own; two packages pre-depending on each
 *   other cannot be ordered). dpkg itself unpacks every archive of `dpkg -i a.deb b.deb` before it
 *   configures any, so it refuses `b` ("a is unpacked, but has never been configured", or "a is not
 *   installed" the other way round), installs `a`, and exits 1. What counts as already satisfied is dpkg's
 *   rule, not apt's: a package unpacked over a configured version is enough when both versions are.
 * - Removals and configurations share one queue (dpkg runs `--remove` and `--install` separately), the
 *   removals queued first: a depender's new version has been unpacked by then, so an upgrade dropping a
 *   dependency lets the old dependee go. A package to be removed that a new package Conflicts with is
 *   removed in favour of it during its unpack, as dpkg does for a package selected for removal.
 * - dpkg stops checking an archive at its first problem and goes on with the next one; this checks
 *   everything and lists every problem, so the transaction can be refused as a whole before it starts.
 */
export function planRelations(input: RelationsInput): RelationsPlan {
  const db = new Db(new Arches(input.nativeArch, input.foreignArchs));
  loadInstalled(db, input.installed);
  const run = new Run(db, input);
  new Planner(run, input).run();
  const out = run.out;
  const states = [...db.allPkgs()]
    .filter((p) => p.status !== 'not-installed')
    .map((p) => ({ pkg: refOf(db.arches, p), status: p.status }))
    .sort((a, b) => (a.pkg.label < b.pkg.label ? -1 : a.pkg.label > b.pkg.label ? 1 : 0));
  return { steps: out.steps, problems: out.problems, warnings: out.warnings, cycleBreaks: out.cycleBreaks, states };
}

/** One transaction item as the planner tracks it. */
interface Entry {
  readonly index: number;
  readonly action: 'unpack' | 'install' | 'configure' | 'remove' | 'purge';
  readonly data?: ArchiveItem['package'];
  /** The instance it acts on, once known. */
  pkg?: Pkg;
  /** Its record for matching relations before it is unpacked. */
  bin?: Bin;
  state: 'pending' | 'unpacking' | 'unpacked' | 'refused' | 'configured';
}

class Planner {
  private readonly entries: Entry[];
  /** The configure queue as dpkg would build it: archives after their unpack, then what they deconfigured. */
  private readonly configureQueue: QueueEntry[] = [];

  constructor(
    private readonly r: Run,
    input: RelationsInput,
  ) {
    this.entries = input.items.map((item, index): Entry =>
      'package' in item
        ? { index, action: item.action, data: item.package, state: 'pending' }
        : { index, action: item.action, pkg: this.findInstalled(item.name, item.architecture), state: 'pending' },
    );
    for (const e of this.entries) {
      if (e.data) {
        // A record to match relations against before the archive's turn (never stored in the Db).
        const probe = this.r.db.findSet(e.data.name).pkgs[0];
        e.bin = makeBin(probe, e.data);
      }
    }
  }

  run(): void {
    this.markSelections();
    for (const e of this.entries) {
      if (e.data) this.unpack(e);
      else if (e.action === 'configure' && e.pkg) this.configureQueue.push({ pkg: e.pkg, action: 'configure' });
    }
    const removals: QueueEntry[] = [];
    for (const e of this.entries) {
      if ((e.action === 'remove' || e.action === 'purge') && e.pkg) removals.push({ pkg: e.pkg, action: e.action });
    }
    const rest = this.configureQueue.filter((q) => !this.configuredEarly.has(q.pkg));
    processQueue(this.r, [...removals.filter((q) => this.stillToRemove(q)), ...rest]);
  }

  private readonly configuredEarly = new Set<Pkg>();
  /** Packages that are gone already, removed in favour of a new one or disappeared. */
  private readonly goneEarly = new Set<Pkg>();

  /**
   * Packages to be removed are selected for removal first (dpkg's want deinstall/purge), so a new package
   * conflicting with one removes it in favour of itself instead of being refused.
   */
  private markSelections(): void {
    for (const e of this.entries) {
      if (e.pkg && (e.action === 'remove' || e.action === 'purge')) e.pkg.want = e.action === 'purge' ? 'purge' : 'deinstall';
    }
  }

  /** A removal already done (a conflictor's, a disappearance) is not asked again; a purge still purges. */
  private stillToRemove(q: QueueEntry): boolean {
    if (!this.goneEarly.has(q.pkg)) return true;
    return q.action === 'purge' && q.pkg.status === 'config-files';
  }

  private findInstalled(name: string, arch: string | undefined): Pkg {
    const set = this.r.db.findSet(name);
    if (arch !== undefined) return set.pkgs.find((p) => p.installed.arch === arch) ?? this.r.db.instanceFor(set, arch);
    return this.r.db.installedInstances(set)[0] ?? set.pkgs[0];
  }

  /** Unpacks one archive, after configuring what it pre-depends on in this transaction. */
  private unpack(e: Entry): void {
    if (e.state !== 'pending') return;
    e.state = 'unpacking';
    this.satisfyPreDepends(e);
    const done = processArchive(this.r, e.data!);
    if (!done) {
      e.state = 'refused';
      return;
    }
    e.pkg = done.pkg;
    e.state = 'unpacked';
    for (const p of [...done.removed, ...done.disappeared]) this.goneEarly.add(p);
    if (e.action === 'install') {
      this.configureQueue.push({ pkg: done.pkg, action: 'install' });
      for (const p of done.deconfigured) this.configureQueue.push({ pkg: p, action: 'install', implicit: true });
    }
  }

  /**
   * For each Pre-Depends group of `e` that nothing configured satisfies but a transaction package would,
   * unpack that package (if it comes later) and configure it, with what it needs, before `e`.
   */
  private satisfyPreDepends(e: Entry): void {
    for (const dep of e.bin!.deps) {
      if (dep.type !== 'pre-depends') continue;
      if (dep.possis.some((p) => this.configuredSatisfies(p, true))) continue;
      const provider = this.transactionCandidate(dep.possis, e);
      if (provider) this.configureEarly(provider, refOf(this.r.arches, this.r.db.findSet(e.data!.name).pkgs[0], e.bin));
    }
  }

  /**
   * Whether an installed, configured package satisfies `possi` (Provides included). For a pre-dependency
   * (`unpacking`), dpkg also accepts a package unpacked over a configured version when both versions do.
   */
  private configuredSatisfies(possi: Possi, unpacking = false): boolean {
    const configured = (p: Pkg) => p.status === 'installed' || p.status === 'triggers-pending';
    const reconfigurable = (p: Pkg) =>
      unpacking &&
      ['unpacked', 'half-configured', 'triggers-awaited'].includes(p.status) &&
      p.configVersion !== undefined &&
      versionSatisfies(p.configVersion, possi);
    for (const p of this.r.db.candidates(possi, 'installed')) {
      if ((configured(p) || reconfigurable(p)) && versionSatisfies(p.installed.version, possi)) return true;
    }
    for (const prov of this.r.db.dependedInstalled(possi.name)) {
      if (prov.dep.type === 'provides' && configured(prov.dep.owner) && virtualSatisfied(possi, prov)) return true;
    }
    return false;
  }

  /** The first transaction entry not yet configured whose package satisfies one of `possis`. */
  private transactionCandidate(possis: readonly Possi[], except: Entry): Entry | undefined {
    for (const possi of possis) {
      for (const t of this.entries) {
        if (t === except || t.state === 'refused' || t.state === 'configured') continue;
        if (t.action !== 'install' && t.action !== 'configure') continue;
        const bin = t.bin ?? t.pkg?.installed;
        const name = t.data?.name ?? t.pkg?.name;
        if (bin && name && this.recordSatisfies(name, bin, possi)) return t;
      }
    }
    return undefined;
  }

  private recordSatisfies(name: string, bin: Bin, possi: Possi): boolean {
    if (name === possi.name && this.r.db.archOk(bin, possi) && versionSatisfies(bin.version, possi)) return true;
    return bin.deps.some(
      (d) => d.type === 'provides' && d.possis[0].name === possi.name && virtualSatisfied(possi, d.possis[0]),
    );
  }

  /**
   * Configures `target` now, with the transaction packages it depends on (transitively) that nothing
   * configured satisfies; those not unpacked yet are unpacked first. The group is configured by dpkg's
   * queue, so cycles in it break as dpkg breaks them.
   */
  private configureEarly(target: Entry, forWhom: PackageRef): void {
    const group: Entry[] = [target];
    for (let i = 0; i < group.length; i++) {
      const bin = group[i].bin ?? group[i].pkg?.installed;
      for (const dep of bin?.deps ?? []) {
        if (dep.type !== 'depends' && dep.type !== 'pre-depends') continue;
        if (dep.possis.some((p) => this.configuredSatisfies(p))) continue;
        const next = this.transactionCandidate(dep.possis, group[i]);
        if (next && !group.includes(next)) group.push(next);
      }
    }
    group.sort((a, b) => a.index - b.index);
    for (const g of group) if (g.data) this.unpack(g);
    const queue: QueueEntry[] = [];
    for (const g of group) {
      if (g.pkg && (g.state === 'unpacked' || (g.action === 'configure' && g.state === 'pending'))) {
        queue.push({ pkg: g.pkg, action: g.data ? 'install' : 'configure' });
      }
    }
    const configured = processQueue(this.r, queue, forWhom);
    for (const g of group) {
      if (!g.pkg) continue;
      this.configuredEarly.add(g.pkg);
      if (configured.has(g.pkg)) g.state = 'configured';
    }
  }
}
