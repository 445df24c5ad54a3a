import { ControlCache, readDebControls } from '../archive/control-reads';
import { decodedAheadDir } from '../archive/decode-ahead';
import { removeTree } from '../fs/entries';
import { packagesToConfigure, configurePackages } from '../engine/configure';
import { closeWriter, openForWriting, type Writer } from '../engine/context';
import { installArchives } from '../engine/install';
import { processTriggersOnly } from '../engine/triggers-only';
import { LaidFiles } from '../engine/laid-files';
import { readArchives } from '../engine/phases/read';
import { StagedAhead } from '../engine/staged-ahead';
import type { TxnOptions, TxnOutcome } from '../engine/transaction';
import { checkRelations } from '../engine/relations/check';
import { STRICT_RELATIONS } from '../engine/relations/options';
import { privateProcSupport } from '../dpkg/private-proc';
import { OvermergeError } from '../errors';
import type { DpkgEventSink } from '../model/events';
import { extractArchives } from './extract';
import { removeMarker, writeMarker, type Marker } from './marker';
import { configureOrder, installItems } from './order';
import { installGroups, setArchitecture, setIdentity, setPackageOf, type SetPackage } from './package-set';
import { remainingWork } from './remaining';
import { clampToEpoch, dropUnusedLinks, layOutRoot, withPolicyRcD } from './root-setup';
import { prepareTarget } from './target';

/**
 * `overmerge bootstrap DIR ARCHIVE...`: an empty folder and the archives of a package set become a
 * working Debian root, in debootstrap's order, each package step an ordinary overmerge transaction:
 *
 *   1. the folder is checked and noted as a bootstrap in progress (marker.ts);
 *   2. merged /usr, /dev and dpkg's empty database are laid out (skeleton.ts);
 *   3. the Essential set's files are laid down, owned by no package, no script run (extract.ts);
 *   4. with policy-rc.d in place, the packages are installed as dpkg installs them, scripts in the root:
 *      base-passwd, then base-files (debootstrap's core install), then the rest of the Essential set, then
 *      everything else — each group in dpkg's configuration order (order.ts); the Essential set's archives
 *      claim the files step 3 laid, when untouched since, instead of being decoded again (laid-files.ts);
 *   5. anything still unconfigured is configured, policy-rc.d goes, the multilib links no package needed
 *      go, and with SOURCE_DATE_EPOCH the times of everything the bootstrap touched are clamped to it.
 *
 * After a crash and `overmerge recover`, running it again finds each package where dpkg says it is and
 * does what is left (remaining.ts).
 */
export interface BootstrapRequest {
  dir: string;
  archives: readonly string[];
  scripts: 'chroot' | 'chrootless';
  /** SOURCE_DATE_EPOCH, when set: the time of what the bootstrap makes, and the clamp. */
  epoch?: number;
  lockWait: number;
  /** The engine's options for every transaction (mode, journal batch, crash points, progress, scripts). */
  txn: TxnOptions;
  /** One line per phase, for a person watching. */
  say: (line: string) => void;
}

export interface PhaseTime {
  phase: string;
  ms: number;
  /** Milliseconds between the first and the last progress report of each engine phase (stage, merge). */
  engine?: Record<string, number>;
}

export interface BootstrapOutcome {
  root: string;
  packages: number;
  /** Whether it continued an interrupted bootstrap. */
  resumed: boolean;
  /** What failed after a commit (a postinst): the packages stay where dpkg leaves them. */
  failures: string[];
  phases: PhaseTime[];
  /** The other packages' archives queued for decoding ahead, and how many of them a staging took so. */
  decodedAhead?: { queued: number; taken: number };
  /** The same archives queued for staging ahead, and how many of them their transaction took so. */
  stagedAhead?: { queued: number; taken: number };
}

export async function bootstrap(req: BootstrapRequest): Promise<BootstrapOutcome> {
  const timer = new PhaseTimer();
  // Each transaction takes its archives' control parts from here instead of reading them again.
  const controls = new ControlCache();
  // Whether scripts may have a /proc of their own is asked (a process started) while the archives are read.
  const [set, scripts] = await timer.time('read', () => Promise.all([readSet(req.archives, controls), withProc(req)]));
  const arch = setArchitecture(set);
  const groups = installGroups(set, arch);
  const target = await prepareTarget(req.dir, setIdentity(set), { scripts: req.scripts, arch });
  // Its heap grows as V8 lets it (openForWriting below): the xz decoders' dictionaries may be in it too.
  req = { ...req, txn: { ...req.txn, progress: timer.progress(req.txn.progress), scripts, controls, xzInProcess: 'all' } };
  const now = Math.floor(Date.now() / 1000);
  const marker: Marker = target.marker ?? { version: 1, set: setIdentity(set), started: now, extracted: false };
  if (!target.marker) writeMarker(target.root, marker);
  if (target.marker) req.say(`continuing the bootstrap of ${target.root.host}`);

  const mtime = req.epoch ?? marker.started;
  await timer.time('layout', () => layOutRoot(target.root, { arch, devices: process.getuid?.() === 0, mtime }));

  const w = await openForWriting({ root: target.root.host, lockWait: req.lockWait, heap: 'growing' });
  const failures: string[] = [];
  // Filled by the extraction when this process makes it: the Essential set's install then claims its files.
  const laid = new LaidFiles();
  let ahead: StagedAhead | undefined;
  try {
    if (!marker.extracted) {
      req.say(`extracting the Essential set: ${groups.essential.length} packages`);
      await timer.time('extract', () => extractArchives(w, groups.essential.map((p) => p.archive), req.txn, laid));
      marker.extracted = true;
      writeMarker(target.root, marker);
    }
    // The last group's archives are decoded and staged while the Essential set's scripts run (one after
    // another, leaving a core and this process idle), so that its transactions do not wait on a decoder or
    // write its files between their scripts.
    ahead = await stageAhead(w, groups, arch, req.txn);
    req = { ...req, txn: { ...req.txn, ahead } };
    await withPolicyRcD(target.root, mtime, async () => {
      const installed: SetPackage[] = [];
      // debootstrap's core install: base-passwd, then base-files, each alone and with --force-depends (their
      // dependencies' files are there from the extraction; dpkg's records of them come next), so that
      // /etc/passwd, /etc/group and the base files exist before any other script runs. The rest of the
      // Essential set as debootstrap unpacks it (one `dpkg --force-depends --unpack` of the set, then
      // `--configure`) and mmdebstrap installs it (one `dpkg --install --force-depends`): no pre-dependency
      // configured ahead of what pre-depends on it — its files are all there since the extraction.
      const steps: Array<[string, SetPackage[], TxnOptions]> = [
        ...groups.core.map((p): [string, SetPackage[], TxnOptions] => [p.name, [p], { ...forcingDepends(req.txn), laid }]),
        ['the Essential set', groups.essentialRest, { ...forcingDepends(req.txn), laid, preDependsFirst: false }],
        ['the other packages', groups.rest, req.txn],
      ];
      for (const [label, group, txn] of steps) {
        // The staging ahead fills the time the Essential set's configuration leaves idle ("Setting up"
        // its first package), not that of its unpacking, where this process is busy; at the latest, it
        // starts with the last group.
        if (group === groups.rest) ahead?.start();
        const events = group !== groups.essentialRest || ahead === undefined ? txn.events : startingAt(ahead, txn.events);
        failures.push(...(await installGroup(w, label, group, installed, arch, { ...req, txn: { ...txn, events } }, timer)));
        if (failures.length > 0) return;
        installed.push(...group);
      }
      failures.push(...(await configurePending(w, req, timer)));
    });
    if (failures.length === 0) await dropUnusedLinks(w, target.root);
  } finally {
    // A cache: what cannot be removed now (it does not hide the bootstrap's own outcome) goes at the next
    // bootstrap or recover.
    await ahead?.close().catch(() => undefined);
    closeWriter(w);
  }
  const decodedAhead = ahead && { ...ahead.decoded.counts };
  const stagedAhead = ahead && { ...ahead.counts };
  if (failures.length > 0) return { root: target.root.host, packages: set.length, resumed: target.marker !== undefined, failures, phases: timer.phases, decodedAhead, stagedAhead };
  if (req.epoch !== undefined) {
    // After the last checkpoint (which rewrites dpkg's status), under the lock again, dpkg's status untouched.
    const epoch = req.epoch;
    const again = await openForWriting({ root: target.root.host, lockWait: req.lockWait, heap: 'growing' });
    try {
      await timer.time('clamp times', () => clampToEpoch(target.root, marker.started, epoch));
    } finally {
      again.close();
    }
  }
  removeMarker(target.root);
  return { root: target.root.host, packages: set.length, resumed: target.marker !== undefined, failures, phases: timer.phases, decodedAhead, stagedAhead };
}

/** `events`, and the staging ahead started at the first package set up (half-configured). */
function startingAt(ahead: StagedAhead, events: DpkgEventSink | undefined): DpkgEventSink {
  return (e) => {
    if (e.kind === 'status' && e.state === 'half-configured') ahead.start();
    events?.(e);
  };
}

/**
 * The other packages' archives that dpkg does not show yet, queued for staging ahead in the order they
 * will be installed; undefined when there are none (a bootstrap resumed after them).
 */
async function stageAhead(w: Writer, groups: ReturnType<typeof installGroups>, arch: string, txn: TxnOptions): Promise<StagedAhead | undefined> {
  w.dpkg?.refresh();
  const fresh = groups.rest.filter((p) => {
    const state = w.dpkg?.get(p.name, p.architecture)?.status.state;
    return state === undefined || state === 'not-installed';
  });
  const dir = decodedAheadDir(w.loc.stagingBase);
  if (fresh.length === 0) {
    await removeTree(dir); // what a killed bootstrap staged, if recover has not removed it
    return undefined;
  }
  const ordered = configureOrder(fresh, [...groups.core, ...groups.essentialRest], arch).packages.map((p) => p.archive);
  const ahead = await StagedAhead.open(dir, w.loc.root.host, { asRoot: txn.asRoot, pathFilters: txn.pathFilters, maxMembers: txn.maxMembers });
  ahead.queue(await readArchives(w.loc.root.host, ordered, txn.controls));
  return ahead;
}

async function readSet(archives: readonly string[], controls: ControlCache): Promise<SetPackage[]> {
  if (archives.length === 0) {
    throw new OvermergeError('E_USAGE', 'bootstrap needs the archives of a package set', { op: 'bootstrap' });
  }
  return (await readDebControls(archives, controls)).map(setPackageOf);
}

/**
 * One group: what dpkg shows unpacked is configured, what it does not show (or shows half-installed) is
 * installed from its archive, in dpkg's configuration order.
 */
async function installGroup(
  w: Writer,
  label: string,
  group: readonly SetPackage[],
  installed: readonly SetPackage[],
  arch: string,
  req: BootstrapRequest,
  timer: PhaseTimer,
): Promise<string[]> {
  if (group.length === 0) return [];
  w.dpkg?.refresh();
  const work = remainingWork(group, (p) => {
    const d = w.dpkg?.get(p.name, p.architecture);
    return d && { state: d.status.state, version: d.version, reinstreq: d.status.flag === 'reinstreq' };
  });
  const failures: string[] = [];
  // A package left with triggers pending (a crash before the group's trigger pass) is the pass's to finish:
  // configure takes only what is unpacked or half-configured.
  const toConfigure = work.configure.filter((p) => {
    const state = w.dpkg?.get(p.name, p.architecture)?.status.state;
    return state === 'unpacked' || state === 'half-configured';
  });
  if (toConfigure.length > 0) failures.push(...(await configureNamed(w, toConfigure.map((p) => p.name), req, timer)));
  if (failures.length > 0) return failures;
  if (work.install.length === 0) return processPendingTriggers(w, req);
  // The archives go to the engine in dependency order; its configure queue then configures them in
  // dpkg's order, each as soon as what it depends on is configured.
  const order = configureOrder(work.install, installed, arch);
  for (const line of order.cycleBreaks) req.say(line);
  // A group installed without its pre-dependencies configured first needs --force-depends for the
  // transactions after a cut at a preinst; whether the set is complete is judged first, strictly, as
  // for one dpkg call of the whole group: an incomplete set stops here, nothing of the group installed.
  if (req.txn.preDependsFirst === false) checkRelations(w, installItems(order.packages), STRICT_RELATIONS, new Set());
  req.say(`installing ${label}${group.length > 1 ? `: ${work.install.length} packages` : ''}`);
  return timer.time(`install ${label}`, async () => {
    // The group's triggers are processed once, after it, as apt has dpkg do (--no-triggers for each call,
    // then the pending ones) and as one `dpkg --install` of the group would: not once a transaction
    // (libc-bin's ldconfig ran after each of them).
    const outcome = await installArchives(
      w,
      order.packages.map((p) => p.archive),
      'installed',
      { ...req.txn, triggers: false },
    );
    if (outcome.failures.length > 0) return outcome.failures;
    return processPendingTriggers(w, req);
  });
}

/** `--triggers-only --pending` when a package of dpkg's database has triggers to process. */
async function processPendingTriggers(w: Writer, req: BootstrapRequest): Promise<string[]> {
  w.dpkg?.refresh();
  if (!(w.dpkg?.packages() ?? []).some((p) => p.triggersPending.length > 0)) return [];
  return (await processTriggersOnly(w, [], true, req.txn)).failures;
}

/**
 * The script settings with a /proc of its own for each script in the chroot, as debootstrap and mmdebstrap
 * mount /proc in the root while scripts run (src/dpkg/private-proc.ts says what scripts look for there);
 * where this process may not make a mount namespace, said once, and the scripts run without.
 */
async function withProc(req: BootstrapRequest): Promise<TxnOptions['scripts']> {
  if (req.scripts !== 'chroot' || req.txn.scripts === undefined) return req.txn.scripts;
  const support = await privateProcSupport();
  if ('why' in support) {
    req.say(`maintainer scripts run without /proc: ${support.why}`);
    return req.txn.scripts;
  }
  return { ...req.txn.scripts, privateProc: support.unshare };
}

/** The transaction options with dpkg's --force-depends added (debootstrap's x_core_install). */
function forcingDepends(txn: TxnOptions): TxnOptions {
  const relations = txn.relations ?? STRICT_RELATIONS;
  return { ...txn, relations: { ...relations, force: [...new Set([...relations.force, 'depends' as const])] } };
}

async function configureNamed(w: Writer, names: string[], req: BootstrapRequest, timer: PhaseTimer): Promise<string[]> {
  req.say(`configuring ${names.join(', ')}`);
  const outcome: TxnOutcome = await timer.time('configure', () => configurePackages(w, () => packagesToConfigure(w, names, false), names, req.txn));
  return outcome.failures;
}

/** `configure --pending` at the end, as debootstrap's last dpkg call: whatever dpkg still has waiting. */
async function configurePending(w: Writer, req: BootstrapRequest, timer: PhaseTimer): Promise<string[]> {
  w.dpkg?.refresh();
  const rows = packagesToConfigure(w, [], true);
  if (rows.length === 0) return [];
  req.say(`configuring ${rows.length} pending packages`);
  const outcome = await timer.time('configure --pending', () => configurePackages(w, () => rows, ['--pending'], req.txn));
  return outcome.failures;
}

/**
 * Where a bootstrap's time goes, phase by phase, and inside each the engine's own phases as its progress
 * reports show them (the first report of a phase to its last): what `--json` prints, and what the bench
 * reads to say what bounds the time.
 */
class PhaseTimer {
  readonly phases: PhaseTime[] = [];
  private spans?: Map<string, [number, number]>;

  /** Wraps the engine's progress callback so that each phase's span is recorded. */
  progress(inner: TxnOptions['progress']): TxnOptions['progress'] {
    return (phase, done, total) => {
      const now = Number(process.hrtime.bigint()) / 1e6;
      const span = this.spans?.get(phase);
      if (span) span[1] = now;
      else this.spans?.set(phase, [now, now]);
      inner?.(phase, done, total);
    };
  }

  async time<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    this.spans = new Map();
    try {
      return await fn();
    } finally {
      const engine = Object.fromEntries([...this.spans].map(([k, [a, b]]) => [k, Math.round(b - a)]));
      this.phases.push({ phase, ms: Number(process.hrtime.bigint() - start) / 1e6, engine });
      this.spans = undefined;
    }
  }
}
