import { compareVersions } from '../../control/version';
import { findBreakCycle } from './cycles';
import { breaksesOk, type DepCheckResult, dependenciesOk } from './dependencies-ok';
import type { Pkg } from './model';
import { pkgLabel, pkgLabelAlways, refOf, versionText } from './names';
import { DependTry, type Run } from './run';
import type { CycleBreak, PackageRef, PackageStatus } from './types';
import { removePackage } from './unpack';

/** What the queue does with a package: configure it (as after `--install`, or `--configure`), or remove it. */
export type QueueAction = 'configure' | 'install' | 'remove' | 'purge';

export interface QueueEntry {
  readonly pkg: Pkg;
  readonly action: QueueAction;
  /** Queued because it was reconfigured after a deconfiguration, not named by the transaction. */
  readonly implicit?: boolean;
}

const STATUS_ORDER: readonly PackageStatus[] = [
  'not-installed',
  'config-files',
  'half-installed',
  'unpacked',
  'half-configured',
  'triggers-awaited',
  'triggers-pending',
  'installed',
];

export function statusRank(s: PackageStatus): number {
  return STATUS_ORDER.indexOf(s);
}

/**
 * dpkg's process_queue (src/main/packages.c) over packages to configure and to remove. Each is tried in
 * turn; one whose dependencies are not ready yet (a dependency still to be configured in this queue, a
 * depender still to be removed) goes back to the end. When a whole round makes no progress the loop
 * becomes more lenient (dpkg's dependtry): from try 2 on it breaks a dependency cycle before trying a
 * package (see cycles.ts), at try 5 --force-depends-version counts, at try 6 --force-depends. The counters
 * are dpkg's, so packages are configured in the order dpkg configures them and cycles break where dpkg
 * breaks them. dpkg runs one action per invocation; mixing removals and configurations in one queue is
 * this planner's extension (removals are queued first, see plan.ts).
 *
 * `forPreDependsOf` marks the configure steps of an early run (a later archive pre-depends on them).
 */
export function processQueue(run: Run, entries: readonly QueueEntry[], forPreDependsOf?: PackageRef): Set<Pkg> {
  const actions = new Map<Pkg, QueueAction>();
  const queue: Pkg[] = [];
  const named = new Set<Pkg>();
  for (const e of entries) {
    // dpkg says so when the command line names a package twice; a package queued again silently.
    if (!e.implicit && named.has(e.pkg)) run.warn(duplicateMessage(run, e));
    if (!e.implicit) named.add(e.pkg);
    if (actions.has(e.pkg)) continue;
    actions.set(e.pkg, e.action);
    queue.push(e.pkg);
  }
  run.clearIsToBes();
  for (const [pkg, action] of actions) pkg.istobe = action === 'remove' || action === 'purge' ? 'remove' : 'install-new';
  for (const pkg of queue) pkg.enqueued = true;
  run.dependtry = DependTry.normal;
  run.sincenothing = 0;

  const cycleBreaks = new Map<Pkg, CycleBreak>();
  const done = new Set<Pkg>();
  const ctx: QueueContext = { run, queue, cycleBreaks, forPreDependsOf, done };
  while (queue.length > 0) {
    const pkg = queue.shift()!;
    pkg.enqueued = false;
    advanceDependTry(run, queue.length);
    const action = actions.get(pkg)!;
    const ok =
      action === 'remove' || action === 'purge'
        ? deferredRemove(ctx, pkg, action === 'purge')
        : action === 'install' && pkg.status === 'not-installed'
          ? true // it disappeared after its unpack: nothing to configure
          : deferredConfigure(ctx, pkg);
    // A package that failed is given up on, from the point of view of the others too.
    if (!ok) pkg.istobe = 'normal';
  }
  return done;
}

interface QueueContext {
  readonly run: Run;
  readonly queue: Pkg[];
  readonly cycleBreaks: Map<Pkg, CycleBreak>;
  readonly forPreDependsOf?: PackageRef;
  readonly done: Set<Pkg>;
}

function duplicateMessage(run: Run, e: QueueEntry): string {
  const name = pkgLabel(run.arches, e.pkg);
  return e.action === 'install'
    ? `More than one copy of package ${name} has been unpacked\n in this run !  Only configuring it once.`
    : `Package ${name} listed more than once, only processing once.`;
}

/** dpkg's escalation rule, counters and all (queue.length is the length after the pop). */
function advanceDependTry(run: Run, length: number): void {
  if (run.sincenothing++ > length * 3 + 2) {
    escalate(run);
  } else if (run.sincenothing > length * 2 + 2) {
    // dpkg first tries trigger processing here; no triggers are planned by this module.
    escalate(run);
  }
}

function escalate(run: Run): void {
  run.dependtry++;
  run.sincenothing = 0;
  if (run.dependtry >= DependTry.last) {
    // dpkg calls this an internal error; the counters guarantee a decision long before.
    throw new Error(`relations: exceeded dependtry ${run.dependtry}`);
  }
}

function enqueue(ctx: QueueContext, pkg: Pkg): void {
  if (pkg.enqueued) return;
  pkg.enqueued = true;
  ctx.queue.push(pkg);
}

function stateProblem(run: Run, pkg: Pkg, message: string): false {
  run.problem({ kind: 'state', pkg: pkgLabel(run.arches, pkg), detail: '', error: message });
  return false;
}

/** dpkg's deferred_configure (src/main/configure.c), the decision part. */
function deferredConfigure(ctx: QueueContext, pkg: Pkg): boolean {
  const { run } = ctx;
  const name = pkgLabel(run.arches, pkg);
  if (pkg.status === 'not-installed') return stateProblem(run, pkg, `no package named '${name}' is installed, cannot configure`);
  if (pkg.status === 'installed') return stateProblem(run, pkg, `package ${name} is already installed and configured`);
  if (pkg.status !== 'unpacked' && pkg.status !== 'half-configured') {
    return stateProblem(run, pkg, `package ${name} is not ready for configuration\n cannot configure (current status '${pkg.status}')`);
  }
  if (!instancesInSync(run, pkg)) return false;

  if (run.dependtry >= DependTry.cycles) {
    const broken = findBreakCycle(run, pkg);
    if (broken) {
      run.sincenothing = 0;
      run.out.cycleBreaks.push(broken);
      const owner = run.db.findSet(broken.pkg.name).pkgs.find((p) => p.installed.arch === broken.pkg.architecture);
      if (owner) ctx.cycleBreaks.set(owner, broken);
    }
  }

  const msgs: string[] = [];
  let ok: DepCheckResult = dependenciesOk(run, pkg, undefined, msgs);
  if (ok === 'defer') {
    pkg.istobe = 'install-new';
    enqueue(ctx, pkg);
    return true;
  }
  const depsHalted = ok === 'halt';
  if (!breaksesOk(run, pkg, msgs)) ok = 'halt';
  if (ok === 'halt') {
    run.sincenothing = 0;
    run.problem({
      kind: depsHalted ? 'depends' : 'breaks',
      pkg: name,
      detail: `dependency problems prevent configuration of ${name}:\n${msgs.join('')}`,
      error: 'dependency problems - leaving unconfigured',
      forcedBy: depsHalted ? ['--force-depends'] : ['--force-breaks'],
    });
    return false;
  }
  if (msgs.length > 0) run.warn(`${name}: dependency problems, but configuring anyway as you requested:\n${msgs.join('')}`);
  run.sincenothing = 0;

  const cycleBreak = ctx.cycleBreaks.get(pkg);
  run.out.steps.push({
    op: 'configure',
    pkg: refOf(run.arches, pkg),
    ...(ctx.forPreDependsOf ? { forPreDependsOf: ctx.forPreDependsOf } : {}),
    ...(cycleBreak ? { cycleBreak } : {}),
  });
  pkg.status = 'installed';
  pkg.configVersion = pkg.installed.version;
  // dpkg leaves istobe as it is: a configured package still counts as being installed in this run, so
  // the cycle search goes on following its Provides (depcon.c skips providers that are 'normal').
  ctx.done.add(pkg);
  return true;
}

/** Instances of a Multi-Arch: same package are configured only at one version. */
function instancesInSync(run: Run, pkg: Pkg): boolean {
  for (const other of pkg.set.pkgs) {
    if (other === pkg || statusRank(other.status) <= statusRank('config-files')) continue;
    if (statusRank(other.status) < statusRank('unpacked')) {
      return stateProblem(
        run,
        pkg,
        `package ${pkgLabelAlways(pkg)} cannot be configured because ${pkgLabelAlways(other)} is not ready (current status '${other.status}')`,
      );
    }
    const a = pkg.installed.version;
    const b = other.installed.version;
    if (a && b && compareVersions(a, b) !== 0) {
      return stateProblem(
        run,
        pkg,
        `package ${pkgLabelAlways(pkg)} ${versionText(pkg.installed)} cannot be configured because ` +
          `${pkgLabelAlways(other)} is at a different version (${versionText(other.installed)})`,
      );
    }
  }
  return true;
}

/** dpkg's deferred_remove (src/main/remove.c), the decision part. */
function deferredRemove(ctx: QueueContext, pkg: Pkg, purge: boolean): boolean {
  const { run } = ctx;
  const name = pkgLabel(run.arches, pkg);
  if (pkg.status === 'not-installed') {
    run.sincenothing = 0;
    run.warn(`ignoring request to remove ${name} which isn't installed`);
    return true;
  }
  if (pkg.status === 'config-files' && !purge) {
    run.sincenothing = 0;
    run.warn(`ignoring request to remove ${name}, only the config\n files of which are on the system; use --purge to remove them too`);
    return true;
  }
  if (pkg.status !== 'config-files' && !removalAllowed(run, pkg)) return false;

  const msgs: string[] = [];
  let rok: DepCheckResult = checkForRemoval(ctx, pkg, pkg.name, msgs);
  for (const dep of pkg.installed.deps) {
    if (dep.type !== 'provides') continue;
    rok = worst(rok, checkForRemoval(ctx, pkg, dep.possis[0].name, msgs));
  }
  if (rok === 'defer') {
    pkg.istobe = 'remove';
    enqueue(ctx, pkg);
    return true;
  }
  if (rok === 'halt') {
    run.sincenothing = 0;
    run.problem({
      kind: 'depends',
      pkg: name,
      detail: `dependency problems prevent removal of ${name}:\n${msgs.join('')}`,
      error: 'dependency problems - not removing',
      forcedBy: ['--force-depends'],
    });
    return false;
  }
  if (msgs.length > 0) run.warn(`${name}: dependency problems, but removing anyway as you requested:\n${msgs.join('')}`);
  run.sincenothing = 0;
  run.out.steps.push({ op: 'remove', pkg: refOf(run.arches, pkg), purge });
  removePackage(run, pkg, purge);
  ctx.done.add(pkg);
  return true;
}

/** Essential and Protected packages are not removed unless forced (dpkg's forcibleerr). */
function removalAllowed(run: Run, pkg: Pkg): boolean {
  for (const [flag, word] of [
    ['essential', 'an essential'],
    ['protected', 'a protected'],
  ] as const) {
    if (!pkg.installed[flag]) continue;
    const message = `this is ${word} package; it should not be removed`;
    if (run.inForce(`remove-${flag}`)) {
      run.warn(`overriding problem because --force enabled:\n${message}`);
      continue;
    }
    run.problem({ kind: flag, pkg: pkgLabel(run.arches, pkg), detail: '', error: message, forcedBy: [`--force-remove-${flag}`] });
    return false;
  }
  return true;
}

function worst(a: DepCheckResult, b: DepCheckResult): DepCheckResult {
  const rank = { halt: 0, defer: 1, ok: 2 } as const;
  return rank[a] <= rank[b] ? a : b;
}

/**
 * dpkg's checkforremoval: every installed package depending on `name` (the package or a name it provides)
 * must do without `pkg`. A depender that is itself to be removed defers the removal instead.
 */
function checkForRemoval(ctx: QueueContext, pkg: Pkg, name: string, msgs: string[]): DepCheckResult {
  const { run } = ctx;
  let rok: DepCheckResult = 'ok';
  for (const possi of run.db.dependedInstalled(name)) {
    if (possi.dep.type !== 'depends' && possi.dep.type !== 'pre-depends') continue;
    const depender = possi.dep.owner;
    if (statusRank(depender.status) < statusRank('unpacked')) continue;
    if (run.ignoreDepends(depender)) continue;
    if (run.dependtry >= DependTry.cycles) {
      const broken = findBreakCycle(run, pkg);
      if (broken) {
        run.sincenothing = 0;
        run.out.cycleBreaks.push(broken);
      }
    }
    const local: string[] = [];
    let ok = dependenciesOk(run, depender, pkg, local);
    if (ok === 'halt' && depender.istobe === 'remove') ok = 'defer';
    // Reasons for a deferral are not worth telling.
    if (ok !== 'defer') msgs.push(...local);
    rok = worst(rok, ok);
  }
  return rok;
}
