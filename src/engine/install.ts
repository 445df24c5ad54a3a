import * as path from 'node:path';
import { OvermergeError } from '../errors';
import type { Writer } from './context';
import type { InstallRequest, PlanOptions } from './plan-model';
import type { Probe } from './probe';
import { labelOf } from '../model/events';
import { readArchives, type ReadArchive } from './phases/read';
import { stageArchives } from './phases/stage';
import { checkRelations } from './relations/check';
import { effectsOf, refKey, type RelationEffects } from './relations/effects';
import { archiveData, possiblyDisappearing } from './relations/input';
import { STRICT_RELATIONS, type RelationsOptions } from './relations/options';
import { orderFlows } from './relations/order';
import { relationRemovals, noteRelations, plainRefs } from './relations/plan-notes';
import { relationScripts, spliceBefore } from './relations/scripts';
import { unpackStages } from './relations/stages';
import { installFlows, planContext, scriptsWithoutDpkg } from './script-flows';
import type { PackageScripts } from './script-plan';
import { recoverAll } from './recover';
import { scriptSessionFor } from './script-session';
import { planChanges, runTransaction, type Planned, type TxnOptions, type TxnOutcome } from './transaction';

/**
 * `install`/`unpack`: all archives of one call form one transaction. With dpkg's database and maintainer
 * scripts, dpkg's protocol runs around the files: every archive's scripts before the files (prerm upgrade,
 * preinst) run first — the plan is made from the root as they leave it — then the files, then the old
 * versions' postrm upgrade, the commit, and after it each postinst configure (install).
 *
 * Package relations are judged first, on the archives' control data, before any transaction begins: a
 * problem refuses the whole call (relations/check.ts). The one exception to "one call, one transaction":
 * an archive that pre-depends on another of the call waits for a transaction that installs (configures)
 * that one first (relations/stages.ts).
 */
export async function installArchives(w: Writer, archives: string[], status: 'installed' | 'unpacked', opts: TxnOptions): Promise<TxnOutcome> {
  // The read phase comes before the transaction begins: a broken archive is refused before anything is recorded.
  const read = await readArchives(w.loc.root.host, archives);
  // Relations are judged on the database as it stands: an interrupted transaction is recovered first (with
  // --auto-recover; without it the transaction below refuses to start, as every writer does).
  const pending = [...w.db.txns.open(), ...w.db.txns.unfinished()].length > 0;
  if (pending && !opts.autoRecover) return runTransaction(w, opts, { kind: 'install', args: [], plan: unreachable });
  if (pending) await recoverAll(w, opts.steps, opts.crash, await scriptSessionFor(w, opts.scripts));
  const relations = opts.relations ?? STRICT_RELATIONS;
  const told = new Set<string>();
  const action = status === 'installed' ? 'install' : 'unpack';
  const whole = checkRelations(
    w,
    read.map((r) => ({ action, package: archiveData({ archive: r.path, control: r.control.fields, controlFiles: r.control.files }) })),
    relations,
    told,
  );
  const stages = unpackStages(whole, read, (r) => ({ name: r.control.fields.get('Package') ?? '', architecture: r.control.fields.get('Architecture') ?? '' }));
  const outcomes: TxnOutcome[] = [];
  for (let i = 0; i < stages.length; i++) {
    const outcome = await installStage(w, stages[i], status, opts, relations, told);
    outcomes.push(outcome);
    if (i < stages.length - 1 && outcome.failures.length > 0) {
      // A pre-dependency left unconfigured: what pre-depends on it must not be unpacked (dpkg would refuse it).
      const waiting = stages.slice(i + 1).flat().map((r) => r.path);
      outcome.failures.push(`not installing ${waiting.join(', ')}: the pre-dependencies installed before them were not configured`);
      break;
    }
  }
  return joined(outcomes);
}

/** The plan of a transaction that cannot start (another one is unfinished): never called. */
async function unreachable(): Promise<never> {
  throw new OvermergeError('E_INTERNAL', 'a transaction started while another was unfinished', { op: 'begin' });
}

/** One transaction of an install: its archives staged, judged again with their file lists, and installed. */
function installStage(w: Writer, read: readonly ReadArchive[], status: 'installed' | 'unpacked', opts: TxnOptions, relations: RelationsOptions, told: Set<string>): Promise<TxnOutcome> {
  const configure = status === 'installed';
  return runTransaction(w, opts, {
    kind: 'install',
    args: read.map((a) => path.resolve(a.path)),
    archives: read,
    queue: { action: configure ? 'install' : 'unpack' },
    preview: async (probe, options) => {
      const staged = await stageArchives(read, probe, undefined, status, opts);
      return (await planWithoutScripts(w, probe, staged, { ...options, unpackOnly: !configure }, relations, told)).planned.plan;
    },
    plan: async (probe, stagingDir, options, now) => {
      const staged = await stageArchives(read, probe, stagingDir, status, opts);
      const planOptions = { ...options, unpackOnly: !configure };
      if (w.dpkg === undefined || now.scripts === undefined) {
        const noScripts = (installs: readonly InstallRequest[]): void => scriptsWithoutDpkg(installs.map((i) => i.staged), opts.scripts);
        const { planned, configureOrder } = await planWithoutScripts(w, probe, staged, planOptions, relations, told, noScripts);
        return { ...planned, configureOrder };
      }
      // Now the archives' paths are known: the plan that decides conflictors, deconfigurations, disappearances.
      const plan = checkRelations(
        w,
        staged.map((i) => ({ action: configure ? 'install' : 'unpack', package: archiveData(i.staged) })),
        relations,
        told,
        possiblyDisappearing(w.db, staged),
      );
      const effects = effectsOf(plan);
      const installs = inUnpackOrder(staged, effects);
      const configureOrder = plainRefs(effects.configureOrder);
      const own = await installFlows(w, w.dpkg, now.scripts, installs, now.run, configure);
      // The other packages' scripts are planned from dpkg's database as it is before any of them runs.
      const ctx = planContext(w.dpkg, now.scripts);
      const unpackTails = new Map<string, PackageScripts[]>();
      for (let i = 0; i < installs.length; i++) {
        const a = effects.archives.find((e) => refKey(e.pkg) === refKey(installs[i].staged));
        if (a === undefined) continue;
        const extra = relationScripts(w.dpkg, ctx, { staged: installs[i].staged, effects: a });
        spliceBefore(own[i], extra.before);
        unpackTails.set(refKey(a.pkg), extra.unpackTails);
      }
      for (const [i, f] of own.entries()) {
        const staged = installs[i].staged;
        const was = w.dpkg.get(staged.name, staged.architecture);
        const installed = was !== undefined && was.status.state !== 'not-installed' && was.status.state !== 'config-files';
        opts.events?.({
          kind: 'processing',
          action: installed ? 'upgrade' : 'install',
          pkg: labelOf(was?.displayName ?? staged.name, staged.name, staged.architecture),
          installedVersion: installed ? (was.version ?? '<none>') : '<none>',
          availableVersion: staged.version,
        });
        await now.run(f.pre);
      }
      // The scripts may have changed the root: where the files land is probed again.
      probe.forget();
      for (const i of installs) i.resolved = await probe.resolveAll(i.staged);
      const planned = await planChanges(probe, w.db, { installs, removals: relationRemovals(probe, w.db, effects) }, planOptions);
      noteRelations(planned.plan, effects, plan.cycleBreaks, { forgetDisappeared: false });
      const byKey = new Map(installs.map((inst, i) => [refKey(inst.staged), own[i]]));
      return { ...planned, scripts: orderFlows(effects, byKey, unpackTails), configureOrder };
    },
  });
}

/**
 * The plan of staged (or measured) archives when no maintainer script runs before the files: relations
 * judged with the archives' paths (conflictors, deconfigurations, disappearances), then the files.
 */
async function planWithoutScripts(
  w: Writer,
  probe: Probe,
  staged: InstallRequest[],
  options: PlanOptions,
  relations: RelationsOptions,
  told: Set<string>,
  /** Said of the archives, in unpack order, once the relations allow them (their scripts, not run). */
  beforeFiles?: (installs: readonly InstallRequest[]) => void,
): Promise<{ planned: Planned; configureOrder: ReturnType<typeof plainRefs> }> {
  const action = options.unpackOnly ? 'unpack' : 'install';
  const plan = checkRelations(w, staged.map((i) => ({ action, package: archiveData(i.staged) })), relations, told, possiblyDisappearing(w.db, staged));
  const effects = effectsOf(plan);
  const installs = inUnpackOrder(staged, effects);
  beforeFiles?.(installs);
  const planned = await planChanges(probe, w.db, { installs, removals: relationRemovals(probe, w.db, effects) }, options);
  noteRelations(planned.plan, effects, plan.cycleBreaks, { forgetDisappeared: true });
  return { planned, configureOrder: plainRefs(effects.configureOrder) };
}

/** The install requests in the order the plan unpacks them (dpkg's command-line order, but for Pre-Depends). */
function inUnpackOrder(installs: InstallRequest[], effects: RelationEffects): InstallRequest[] {
  const rank = new Map(effects.archives.map((a, i) => [refKey(a.pkg), i]));
  const at = (r: InstallRequest): number => rank.get(refKey(r.staged)) ?? Number.MAX_SAFE_INTEGER;
  return installs.map((r, i) => ({ r, i })).sort((a, b) => at(a.r) - at(b.r) || a.i - b.i).map((x) => x.r);
}

/**
 * The outcome of an install made of several transactions (pre-dependencies first), as one: the last
 * transaction's id, every change, notice and failure, and a notice naming the transactions.
 */
function joined(outcomes: readonly TxnOutcome[]): TxnOutcome {
  if (outcomes.length === 1) return outcomes[0];
  const last = outcomes[outcomes.length - 1];
  const ids = outcomes.map((o) => o.txnId).join(', ');
  const told = last.dryRun
    ? `would install as ${outcomes.length} transactions: pre-dependencies configured before what pre-depends on them is unpacked (each measured against the root as it is now)`
    : `installed as ${outcomes.length} transactions (${ids}): pre-dependencies configured before what pre-depends on them was unpacked`;
  return {
    txnId: last.txnId,
    plan: {
      ...last.plan,
      steps: outcomes.flatMap((o) => o.plan.steps),
      records: outcomes.flatMap((o) => o.plan.records),
      deleted: outcomes.flatMap((o) => o.plan.deleted),
      disowned: outcomes.flatMap((o) => o.plan.disowned),
      changes: outcomes.flatMap((o) => o.plan.changes),
      notices: [...outcomes.flatMap((o) => o.plan.notices), told],
      bytes: outcomes.reduce((n, o) => n + o.plan.bytes, 0),
    },
    failures: outcomes.flatMap((o) => o.failures),
    ...(last.dryRun ? { dryRun: outcomes.flatMap((o) => o.dryRun ?? []) } : {}),
  };
}
