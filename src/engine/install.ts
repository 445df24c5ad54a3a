import * as path from 'node:path';
import { OvermergeError } from '../errors';
import type { Writer } from './context';
import type { InstallRequest, PlanOptions } from './plan-model';
import type { Probe } from './probe';
import { labelOf } from '../model/events';
import type { AnyPlannedStep } from './phases/execute';
import { readArchives, type ReadArchive } from './phases/read';
import { restageChanged, stageArchives, stagePlaced } from './phases/stage';
import { checkRelations } from './relations/check';
import { effectsOf, refKey, type RelationEffects } from './relations/effects';
import { archiveData, possiblyDisappearing } from './relations/input';
import { STRICT_RELATIONS, type RelationsOptions } from './relations/options';
import { orderFlows } from './relations/order';
import { relationRemovals, noteRelations, plainRefs } from './relations/plan-notes';
import { relationScripts, spliceBefore } from './relations/scripts';
import { configureOrder, cutAtScripts, unpackStages } from './relations/stages';
import type { PackageRef, TransactionItem } from '../dpkg/relations';
import { installFlows, planContext, scriptsWithoutDpkg } from './script-flows';
import type { PackageScripts } from './script-plan';
import { scriptSessionFor } from './script-session';
import { planChanges, runTransaction, type Planned, type TxnOptions, type TxnOutcome } from './transaction';
import type { PlanAsker } from './conffile-questions';

/**
 * `install`/`unpack`: all archives of one call form one transaction. With dpkg's database and maintainer
 * scripts, dpkg's protocol runs around the files: every archive's scripts before the files (prerm upgrade,
 * preinst) run first — the plan is made from the root as they leave it — then the files, then the old
 * versions' postrm upgrade, the commit, and after it each postinst configure (install).
 *
 * Package relations are judged first, on the archives' control data, before any transaction begins: a
 * problem refuses the whole call (relations/check.ts). Two exceptions to "one call, one transaction"
 * (relations/stages.ts): an archive that pre-depends on another of the call waits for a transaction that
 * installs (configures) that one first; and when scripts run, an archive whose scripts run before its
 * files (a preinst, an installed prerm) starts a transaction, so that they see the archives before it
 * unpacked, as under dpkg. Only a stage's last transaction configures, the whole stage.
 */
export async function installArchives(w: Writer, archives: string[], status: 'installed' | 'unpacked', opts: TxnOptions): Promise<TxnOutcome> {
  // The read phase comes before the transaction begins: a broken archive is refused before anything is recorded.
  const read = await readArchives(w.loc.root.host, archives, opts.controls);
  // Relations are judged on the database as it stands: an interrupted transaction is recovered first (with
  // --auto-recover; without it the transaction below refuses to start, as every writer does).
  const pending = [...w.db.txns.open(), ...w.db.txns.unfinished()].length > 0;
  if (pending && !opts.autoRecover) return runTransaction(w, opts, { kind: 'install', args: [], plan: unreachable });
  if (pending) {
    const { recoverAll } = await import('./recover'); // only when there is something to recover
    await recoverAll(w, opts.steps, opts.crash, await scriptSessionFor(w, opts.scripts));
  }
  const relations = opts.relations ?? STRICT_RELATIONS;
  const told = new Set<string>();
  const action = status === 'installed' ? 'install' : 'unpack';
  const whole = checkRelations(
    w,
    read.map((r) => ({ action, package: archiveData({ archive: r.path, control: r.control.fields, controlFiles: r.control.files }) })),
    relations,
    told,
  );
  const refOf = (r: ReadArchive) => ({ name: r.control.fields.get('Package') ?? '', architecture: r.control.fields.get('Architecture') ?? '' });
  const stages = unpackStages(whole, read, refOf, opts.preDependsFirst !== false);
  const scripted = w.dpkg !== undefined && opts.scripts !== undefined && opts.scripts.mode !== 'disabled';
  const dpkg = w.dpkg;
  const scriptsFirst = (r: ReadArchive): boolean => {
    if (r.control.files.has('preinst')) return true;
    // An upgrade: the installed version's prerm upgrade runs before the files too.
    const ref = refOf(r);
    return dpkg?.get(ref.name, ref.architecture) !== undefined && dpkg.readInfoFile(ref, 'prerm') !== undefined;
  };
  const outcomes: TxnOutcome[] = [];
  const order = configureOrder(whole);
  for (let i = 0; i < stages.length; i++) {
    const parts = scripted ? cutAtScripts(stages[i], scriptsFirst) : [stages[i]];
    const inStage = new Set(stages[i].map((r) => `${refOf(r).name}:${refOf(r).architecture}`));
    for (let j = 0; j < parts.length; j++) {
      const last = j === parts.length - 1;
      // Every transaction of an install places its conffiles as an install does; only the stage's last
      // configures, and it configures the whole stage (dpkg -i: every archive unpacked, then each
      // configured in dependency order).
      const configureNow = last && status === 'installed';
      const configures = configureNow ? order.filter((p) => inStage.has(`${p.name}:${p.architecture}`)) : undefined;
      const outcome = await installStage(w, parts[j], status, opts, relations, told, configures, configureNow);
      outcomes.push(outcome);
      if (outcome.failures.length > 0 && (j < parts.length - 1 || i < stages.length - 1)) {
        // dpkg would go on with the next archive; overmerge stops, so that nothing is unpacked over a failure
        // that the relations judged up front did not foresee.
        const waiting = [...parts.slice(j + 1).flat(), ...stages.slice(i + 1).flat()].map((r) => r.path);
        const why = last ? 'the pre-dependencies installed before them were not configured' : 'an archive unpacked before them failed';
        outcome.failures.push(`not installing ${waiting.join(', ')}: ${why}`);
        return joined(outcomes);
      }
    }
  }
  return joined(outcomes);
}

/** The plan of a transaction that cannot start (another one is unfinished): never called. */
async function unreachable(): Promise<never> {
  throw new OvermergeError('E_INTERNAL', 'a transaction started while another was unfinished', { op: 'begin' });
}

/** One transaction of an install: its archives staged, judged again with their file lists, and installed. */
function installStage(
  w: Writer,
  read: readonly ReadArchive[],
  status: 'installed' | 'unpacked',
  opts: TxnOptions,
  relations: RelationsOptions,
  told: Set<string>,
  /** What the configure queue configures, when more than this transaction's archives (cutAtScripts). */
  configures: ReadonlyArray<Pick<PackageRef, 'name' | 'architecture'>> | undefined,
  /**
   * Whether the configure queue configures after the commit (and the relations are judged as for that):
   * for an install, its last transaction. The others place their files as an install does (conffiles
   * included) and stay unpacked until then, as after the unpack phase of `dpkg -i`.
   */
  configureNow: boolean,
): Promise<TxnOutcome> {
  const configure = status === 'installed';
  return runTransaction(w, opts, {
    kind: 'install',
    args: read.map((a) => path.resolve(a.path)),
    archives: read,
    queue: { action: configureNow ? 'install' : 'unpack' },
    preview: async (probe, options) => {
      const staged = await stageArchives(read, probe, undefined, status, opts);
      const judged = judge(w, staged, configureNow, relations, told, configures);
      return (await planFiles(w, probe, judged, { ...options, unpackOnly: !configure }, true)).plan;
    },
    plan: async (probe, stagingDir, options, now) => {
      // Members identical to the installed files are left unwritten; what the plan places of them after
      // all is staged once it is made (stagePlaced).
      const scripted = w.dpkg !== undefined && now.scripts !== undefined;
      // With scripts, restageChanged below checks the claims of laid files once the preinsts have run.
      const stageOpts = { ...opts, reuseInstalled: true, claimsCheckedLater: scripted };
      const staged = await stageArchives(read, probe, stagingDir, status, stageOpts);
      const judged = judge(w, staged, configureNow, relations, told, configures);
      const { effects, installs, configureOrder } = judged;
      const planOptions = { ...options, unpackOnly: !configure };
      if (w.dpkg === undefined || now.scripts === undefined) {
        scriptsWithoutDpkg(
          installs.map((i) => i.staged),
          opts.scripts,
        );
        const planned = await planFiles(w, probe, judged, planOptions, true, now.ask);
        await stagePlaced(planned.plan, installs, stagingDir, stageOpts);
        return { ...planned, configureOrder };
      }
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
      // Every archive's steps before its files in one run, so that those of archives without such scripts
      // (most of a bootstrap: a state change each) share a journal intent; each archive's `processing:` is
      // told right before its first step runs, as dpkg tells it before it starts on the archive.
      const announce = new Map<AnyPlannedStep, () => void>();
      let untold: Array<() => void> = [];
      for (const [i, f] of own.entries()) {
        const staged = installs[i].staged;
        const was = w.dpkg.get(staged.name, staged.architecture);
        const installed = was !== undefined && was.status.state !== 'not-installed' && was.status.state !== 'config-files';
        untold.push(() =>
          opts.events?.({
            kind: 'processing',
            action: installed ? 'upgrade' : 'install',
            pkg: labelOf(was?.displayName ?? staged.name, staged.name, staged.architecture),
            installedVersion: installed ? (was.version ?? '<none>') : '<none>',
            availableVersion: staged.version,
          }),
        );
        if (f.pre.length === 0) continue;
        const tell = untold;
        announce.set(f.pre[0], () => tell.forEach((t) => t()));
        untold = [];
      }
      await now.run(
        own.flatMap((f) => f.pre),
        (step) => announce.get(step)?.(),
      );
      untold.forEach((t) => t());
      // The scripts may have changed the root: where the files land is probed again.
      probe.forget();
      for (const i of installs) i.resolved = await probe.resolveAll(i.staged);
      await restageChanged(installs, read, probe, stagingDir, stageOpts);
      const planned = await planFiles(w, probe, judged, planOptions, false, now.ask);
      await stagePlaced(planned.plan, installs, stagingDir, stageOpts);
      const byKey = new Map(installs.map((inst, i) => [refKey(inst.staged), own[i]]));
      return { ...planned, scripts: orderFlows(effects, byKey, unpackTails), configureOrder };
    },
  });
}

/** A transaction's archives judged by the relations, with their paths known. */
interface Judged {
  plan: ReturnType<typeof checkRelations>;
  effects: RelationEffects;
  /** The install requests in unpack order. */
  installs: InstallRequest[];
  configureOrder: ReadonlyArray<Pick<PackageRef, 'name' | 'architecture'>>;
}

/**
 * The relations judged again now that the archives' paths are known: the plan that decides conflictors,
 * deconfigurations, disappearances. The archives of the stage's earlier transactions, unpacked by now, are
 * configured with these: judged so, as dpkg judges them at the end of `dpkg -i` (not as packages left
 * unconfigured).
 */
function judge(
  w: Writer,
  staged: InstallRequest[],
  configure: boolean,
  relations: RelationsOptions,
  told: Set<string>,
  configures: ReadonlyArray<Pick<PackageRef, 'name' | 'architecture'>> | undefined,
): Judged {
  const mine = new Set(staged.map((i) => `${i.staged.name}:${i.staged.architecture}`));
  const earlier: TransactionItem[] = (configures ?? [])
    .filter((r) => !mine.has(`${r.name}:${r.architecture}`))
    .map((r) => ({ action: 'configure', name: r.name, architecture: r.architecture }));
  const plan = checkRelations(
    w,
    // In the call's order: the earlier transactions' archives came first on the command line.
    [...earlier, ...staged.map((i): TransactionItem => ({ action: configure ? 'install' : 'unpack', package: archiveData(i.staged) }))],
    relations,
    told,
    possiblyDisappearing(w.db, staged),
  );
  const effects = effectsOf(plan);
  return { plan, effects, installs: inUnpackOrder(staged, effects), configureOrder: configures ?? plainRefs(effects.configureOrder) };
}

/**
 * The files' plan of judged archives, with the relations' removals and notes. `forgetDisappeared`: no
 * maintainer script runs, so the plan itself forgets the packages whose files all disappear.
 */
async function planFiles(w: Writer, probe: Probe, j: Judged, options: PlanOptions, forgetDisappeared: boolean, ask?: PlanAsker): Promise<Planned> {
  const planned = await planChanges(probe, w.db, { installs: j.installs, removals: relationRemovals(probe, w.db, j.effects) }, options, ask);
  noteRelations(planned.plan, j.effects, j.plan.cycleBreaks, { forgetDisappeared });
  return planned;
}

/** The install requests in the order the plan unpacks them (dpkg's command-line order, but for Pre-Depends). */
function inUnpackOrder(installs: InstallRequest[], effects: RelationEffects): InstallRequest[] {
  const rank = new Map(effects.archives.map((a, i) => [refKey(a.pkg), i]));
  const at = (r: InstallRequest): number => rank.get(refKey(r.staged)) ?? Number.MAX_SAFE_INTEGER;
  return installs.map((r, i) => ({ r, i })).sort((a, b) => at(a.r) - at(b.r) || a.i - b.i).map((x) => x.r);
}

/**
 * The outcome of an install made of several transactions (pre-dependencies first, cuts at scripts), as one: the last
 * transaction's id, every change, notice and failure, and a notice naming the transactions.
 */
function joined(outcomes: readonly TxnOutcome[]): TxnOutcome {
  if (outcomes.length === 1) return outcomes[0];
  const last = outcomes[outcomes.length - 1];
  const ids = outcomes.map((o) => o.txnId).join(', ');
  const how = 'pre-dependencies configured before what pre-depends on them is unpacked, and each archive whose maintainer scripts run before its files unpacked after the archives before it';
  const told = last.dryRun
    ? `would install as ${outcomes.length} transactions: ${how} (each measured against the root as it is now)`
    : `installed as ${outcomes.length} transactions (${ids}): ${how}`;
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
