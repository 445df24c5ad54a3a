import { readDebControl } from '../../../archive/deb';
import { compareVersions } from '../../../control/version';
import { closeWriter, openForWriting, type Writer } from '../../../engine/context';
import { configurePackages, packagesToConfigure } from '../../../engine/configure';
import { installArchives } from '../../../engine/install';
import { removePackages } from '../../../engine/remove';
import { processTriggersOnly } from '../../../engine/triggers-only';
import type { ConffileAsker } from '../../../engine/conffile-questions';
import type { TxnOutcome } from '../../../engine/transaction';
import { OvermergeError } from '../../../errors';
import type { DpkgEvent, DpkgEventSink } from '../../../model/events';
import { conffilePrompt, terminalPromptIo } from '../../conffile-prompt';
import { packageLine } from '../../progress';
import { relationMessageLines } from '../../relation-messages';
import { forceInfo } from '../force';
import { DpkgExit, EXIT_ERROR, latin1, OWN_PROG } from '../report';
import type { PackageOutcome, TransactionDriver, TransactionOutcome } from './driver';
import { driverTxnOptions } from './engine-options';
import { withFirstNotes } from './first-notes';
import type { ArchiveRequest, PackageRequest, PackageSpec, TransactionRequest } from './request';

/** Where the driver writes what dpkg writes to its own stdout and stderr. */
export interface DriverIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/**
 * The TransactionDriver over overmerge's engine: each invocation is one journaled transaction (for an
 * install, one per pre-dependency stage, as `overmerge install`), so a crash anywhere leaves a root that
 * `overmerge recover` — or the next overmerge-dpkg run, which recovers first — brings to the state before
 * or after that invocation, never between; what dpkg records between invocations (unpacked, then
 * installed by `--configure --pending`) is kept in dpkg's database as dpkg keeps it.
 *
 * Differences from dpkg that show: the archives of one call succeed or fail together (dpkg goes on with
 * the next archive after a failed one), so --abort-after has nothing to count; a conffile question is asked
 * while installing (-i decides conffiles before its commit, not when configuring), and an unanswerable
 * one (end of file on stdin) fails the whole transaction, which is undone.
 */
export function engineDriver(io: DriverIo): TransactionDriver {
  return {
    install: (req, events) => archives(io, req, events),
    unpack: (req, events) => archives(io, req, events),
    configure: (req, events) => packages(io, req, events),
    triggersOnly: (req, events) => packages(io, req, events),
    remove: (req, events) => packages(io, req, events),
    purge: (req, events) => packages(io, req, events),
  };
}

/** One run's outputs: the events to the front end, stdout's progress lines, errors as dpkg prints them. */
class RunOutputs {
  readonly failed = new Map<string, string>();
  private front: DpkgEventSink;

  /** Asks the conffile questions as dpkg does: whatever stdin is (a terminal, a pipe, /dev/null), failing at its end. */
  readonly askConffiles: ConffileAsker;

  constructor(
    private readonly io: DriverIo,
    front: DpkgEventSink,
    private readonly action: string,
    noPager = false,
  ) {
    this.front = front;
    this.askConffiles = conffilePrompt(terminalPromptIo((text) => void this.io.stderr.write(latin1(text)), process.env, this.events, !noPager), true);
  }

  /** From now on, dpkg's first status line of each package as read from `w` (see first-notes.ts). */
  readFrom(w: Writer, pending = false): void {
    const read = new Map((w.dpkg?.packages() ?? []).map((p) => [p.displayName, { state: p.status.state, version: p.version ?? '' }] as const));
    this.front = withFirstNotes(read, pending, this.front);
  }

  readonly events: DpkgEventSink = (e: DpkgEvent) => {
    const line = packageLine(e);
    if (line !== undefined) this.io.stdout.write(latin1(`${line}\n`));
    if (e.kind === 'conffile-note') {
      if (e.note === 'installing') this.io.stdout.write(latin1(`Installing new version of config file ${e.path} ...\n`));
      else this.io.stderr.write(latin1(`\nConfiguration file '${e.path}', does not exist on system.\nInstalling new config file as you requested.\n`));
    }
    if (e.kind === 'error') {
      this.failed.set(e.subject, e.message);
      this.io.stderr.write(latin1(`dpkg: error processing package ${e.subject} (--${this.action}):\n ${e.message}\n`));
    }
    this.front(e);
  };

  readonly notice = (line: string): void => void this.io.stderr.write(latin1(`dpkg: ${line}\n`));

  readonly warn = (message: string): void => void this.io.stderr.write(latin1(`${relationMessageLines(message).join('\n')}\n`));

  warning(text: string): void {
    this.io.stderr.write(latin1(`dpkg: warning: ${text}\n`));
  }

  /** A subject the whole transaction failed for (nothing of it was changed). */
  fail(subject: string, kind: 'archive' | 'package', err: unknown): void {
    const message = messageOf(err);
    this.failed.set(subject, message);
    this.io.stderr.write(latin1(`dpkg: error processing ${kind} ${subject} (--${this.action}):\n${message.split('\n').map((l) => ` ${l}`).join('\n')}\n`));
    this.front({ kind: 'error', subject, message: message.replace(/\n/g, ' ') });
  }

  outcome(subjects: readonly string[], skipped: ReadonlyMap<string, string> = new Map()): TransactionOutcome {
    const packages: PackageOutcome[] = subjects.map((subject) =>
      skipped.has(subject) ? { subject, result: 'skipped', message: skipped.get(subject) } : { subject, result: this.failed.has(subject) ? 'failed' : 'done', message: this.failed.get(subject) },
    );
    // Packages that failed without being named (a trigger-awaiting package, a deconfigured one).
    for (const [subject, message] of this.failed) if (!subjects.includes(subject)) packages.push({ subject, result: 'failed', message });
    return { packages, halted: false };
  }
}

function messageOf(err: unknown): string {
  if (err instanceof OvermergeError) return err.hint ? `${err.message}\n${err.hint}` : err.message;
  return (err as Error).message ?? String(err);
}

/**
 * Opens the root for writing as dpkg locks its database: a lock held elsewhere ends the run before
 * anything is processed, in dpkg's words.
 */
async function open(req: TransactionRequest): Promise<Writer> {
  try {
    return await openForWriting({ root: req.instdir === '' ? '/' : req.instdir, admindir: req.admindir, lockWait: 0 });
  } catch (err) {
    if (err instanceof OvermergeError && err.code === 'E_LOCKED') throw new DpkgExit(`dpkg: error: dpkg status database is locked by another process\n`, EXIT_ERROR);
    throw new DpkgExit(`${OWN_PROG}: error: cannot open the root ${req.instdir || '/'}: ${messageOf(err)}\n`, EXIT_ERROR);
  }
}

/** -i / --unpack: the archives, less those -E and -O skip, in one engine install. */
async function archives(io: DriverIo, req: ArchiveRequest, front: DpkgEventSink): Promise<TransactionOutcome> {
  const out = new RunOutputs(io, front, req.action, req.noPager);
  // dpkg's default force: overmerge lets a lower version replace the installed one, and cannot be told not to.
  if (!req.forces.includes('downgrade')) throw new DpkgExit(`${OWN_PROG}: error: --refuse-downgrade is not supported: ${forceInfo('downgrade').overmerge.why}\n`, EXIT_ERROR);
  if (req.noAct) return checkArchivesOnly(out, req);
  const w = await open(req);
  try {
    front({ kind: 'startup', what: 'archives', action: req.action });
    out.readFrom(w);
    const skipped = new Map<string, string>();
    const chosen: string[] = [];
    for (const a of req.archives) {
      const why = await skipReason(w, req, a).catch((err: unknown) => {
        out.fail(a, 'archive', err);
        return 'failed';
      });
      if (why === 'failed') continue;
      if (why !== undefined) {
        skipped.set(a, why);
        io.stdout.write(latin1(`${why}\n`));
      } else chosen.push(a);
    }
    if (chosen.length > 0) {
      try {
        const outcome = await installArchives(w, chosen, req.action === 'install' ? 'installed' : 'unpacked', driverTxnOptions(req, out));
        tellUnnamedFailures(out, outcome);
      } catch (err) {
        for (const a of chosen) out.fail(a, 'archive', err);
      }
    }
    return out.outcome(req.archives, skipped);
  } finally {
    closeWriter(w);
  }
}

/** --no-act for archives: each archive's control part read, nothing else. */
async function checkArchivesOnly(out: RunOutputs, req: ArchiveRequest): Promise<TransactionOutcome> {
  for (const a of req.archives) await readDebControl(a).catch((err: unknown) => out.fail(a, 'archive', err));
  return out.outcome(req.archives);
}

/**
 * Why dpkg would skip an archive: -E with the same version installed, -O with the package not selected
 * for installation. dpkg's words, as it prints them to stdout.
 */
async function skipReason(w: Writer, req: ArchiveRequest, archive: string): Promise<string | undefined> {
  if (!req.skipSameVersion && !req.selectedOnly) return undefined;
  const control = await readDebControl(archive);
  const name = control.fields.get('Package') ?? '';
  const version = control.fields.get('Version') ?? '';
  const arch = control.fields.get('Architecture') ?? '';
  const now = w.dpkg?.get(name, arch === 'all' ? undefined : arch);
  if (req.selectedOnly && (now === undefined || now.status.want !== 'install')) return `Package ${name} not selected for installation, skipping.`;
  if (req.skipSameVersion && now !== undefined && now.status.state === 'installed' && now.version !== undefined && compareVersions(now.version, version) === 0) {
    return `Version ${version} of ${name} already installed, skipping.`;
  }
  return undefined;
}

/** --configure, --triggers-only, -r, -P: the packages, checked as dpkg checks each, in one transaction. */
async function packages(io: DriverIo, req: PackageRequest, front: DpkgEventSink): Promise<TransactionOutcome> {
  const out = new RunOutputs(io, front, req.action, req.noPager);
  const w = req.noAct ? undefined : await open(req);
  if (w === undefined) return out.outcome([]);
  try {
    front({ kind: 'startup', what: 'packages', action: req.action });
    out.readFrom(w, req.target.pending);
    const named = req.target.pending ? [] : req.target.packages;
    const subjects = named.map((p) => p.text);
    const accepted = named.filter((spec) => accepts(w, req, spec, out));
    try {
      const outcome = await runPackages(w, req, accepted, out);
      tellUnnamedFailures(out, outcome);
    } catch (err) {
      for (const spec of accepted) out.fail(spec.text, 'package', err);
      if (accepted.length === 0) out.fail(req.action === 'configure' ? '--pending' : req.action, 'package', err);
    }
    return out.outcome(subjects);
  } finally {
    closeWriter(w);
  }
}

async function runPackages(w: Writer, req: PackageRequest, specs: readonly PackageSpec[], out: RunOutputs): Promise<TxnOutcome | undefined> {
  const opts = driverTxnOptions(req, out);
  const pending = req.target.pending;
  const names = specs.map((s) => engineName(w, s));
  switch (req.action) {
    case 'configure': {
      if (!pending && names.length === 0) return undefined;
      return configurePackages(w, () => packagesToConfigure(w, names, pending), pending ? ['--pending'] : names, opts, pending);
    }
    case 'triggers-only':
      if (!pending && names.length === 0) return undefined;
      return processTriggersOnly(w, pending ? [] : specs.map((s) => s.text), pending, opts);
    case 'remove':
    case 'purge': {
      const chosen = pending ? selectedForRemoval(w, req.action) : names;
      if (chosen.length === 0) return undefined;
      return removePackages(w, chosen, req.action === 'purge', opts);
    }
  }
}

/**
 * The name the engine is given for a package named on the command line: `name` (every architecture of it)
 * or, for `name:arch`, `name:ARCH` with the architecture dpkg's database resolves the specifier to, so that
 * only that instance is acted on, as dpkg acts on one package instance per specifier.
 */
function engineName(w: Writer, spec: PackageSpec): string {
  if (spec.arch === undefined) return spec.name;
  const arch = w.dpkg?.get(spec.name, spec.arch)?.arch || spec.arch;
  return `${spec.name}:${arch}`;
}

/**
 * -r/-P --pending (apt's `--purge --pending` after --set-selections): every package selected for removal
 * (deinstall or purge) that is still installed, or for a purge every package selected for purge that has
 * anything left, config-files included — as dpkg's enqueue_pending takes them.
 */
function selectedForRemoval(w: Writer, action: 'remove' | 'purge'): string[] {
  const out = new Set<string>();
  for (const p of w.dpkg?.packages() ?? []) {
    const { want, state } = p.status;
    if (state === 'not-installed') continue;
    // The instance selected, not every architecture of its name.
    if (action === 'purge' ? want === 'purge' : (want === 'deinstall' || want === 'purge') && state !== 'config-files') out.add(p.arch === '' ? p.name : `${p.name}:${p.arch}`);
  }
  return [...out];
}

/**
 * Whether a named package goes into the transaction. dpkg warns and goes on for a removal of what is not
 * installed, and fails that one package (and goes on) for a configure of what is not unpacked.
 */
function accepts(w: Writer, req: PackageRequest, spec: PackageSpec, out: RunOutputs): boolean {
  const now = w.dpkg?.get(spec.name, spec.arch);
  const state = now?.status.state ?? 'not-installed';
  switch (req.action) {
    case 'remove':
      if (state === 'not-installed') return warnSkip(out, `ignoring request to remove ${spec.text} which isn't installed`);
      if (state === 'config-files') return warnSkip(out, `ignoring request to remove ${spec.text}, only the config\n files of which are on the system; use --purge to remove them too`);
      return true;
    case 'purge':
      if (state === 'not-installed') return warnSkip(out, `ignoring request to remove ${spec.text} which isn't installed`);
      return true;
    case 'configure':
      if (state === 'not-installed') return failOne(out, spec, `package ${spec.text} is not installed and no information is available`);
      if (state === 'installed') return failOne(out, spec, `package ${spec.text} is already installed and configured`);
      if (state !== 'unpacked' && state !== 'half-configured') return failOne(out, spec, `package ${spec.text} is not ready for configuration\n cannot configure (current status '${state}')`);
      return true;
    case 'triggers-only':
      // Whether it has triggers to process is the trigger processor's to say, in dpkg's words.
      if (state === 'not-installed') return failOne(out, spec, `package ${spec.text} is not installed and no information is available`);
      return true;
  }
}

function warnSkip(out: RunOutputs, text: string): false {
  out.warning(text);
  return false;
}

function failOne(out: RunOutputs, spec: PackageSpec, message: string): false {
  out.fail(spec.text, 'package', new Error(message));
  return false;
}

/** A failure after the commit that no error event named (a failed postrm): its package failed, as in dpkg. */
function tellUnnamedFailures(out: RunOutputs, outcome: TxnOutcome | undefined): void {
  if (outcome === undefined) return;
  const named = [...out.failed.values()];
  for (const f of outcome.failures) if (!named.some((m) => f.includes(m) || m.includes(f))) out.fail(f.split(' ')[0], 'package', new Error(f));
}
