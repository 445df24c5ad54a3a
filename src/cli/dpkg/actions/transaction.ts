import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { openAppendLog, writeToDescriptor } from '../../../fs/descriptor-output';
import type { ActionContext, Action } from '../context';
import { pkgSpecProblem } from '../dpkg-table';
import { forceInfo } from '../force';
import { childEnv } from '../hooks';
import { DpkgExit, EXIT_ERROR, fsPath, OWN_PROG } from '../report';
import { outcomeReport, runRequest, type TransactionDriver } from '../transaction/driver';
import type { DpkgEvent } from '../../../model/events';
import { engineDriver } from '../transaction/engine-driver';
import { expandRecursive } from '../transaction/recursive';
import type { CommonRequest, PackageRequest, PackageSpec, TransactionRequest } from '../transaction/request';
import { descriptorSink, StatusFdWriter, type LineSink } from '../transaction/status-fd';

/**
 * -i / --install, --unpack, --configure, --triggers-only, -r / --remove, -P / --purge: the command line
 * checked as dpkg checks it (src/main/archives.c archivefiles, packages.c packages) into a
 * TransactionRequest, the forces overmerge refuses refused, then the request handed to the driver with an
 * event sink writing dpkg's --status-fd and --log lines, and dpkg's closing report printed.
 */

/** The driver is the one DpkgIo names (tests pass their own), else the engine's. */
function driverFor(ctx: ActionContext): TransactionDriver {
  return ctx.io.transactionDriver ?? engineDriver(ctx.io);
}

export const transaction: Action = async (ctx, args) => {
  const req = buildRequest(ctx, args);
  refuseForces(req);
  const outputs = openOutputs(ctx, req);
  try {
    const outcome = await runRequest(driverFor(ctx), req, (event: DpkgEvent) => outputs.emit(ctx, event));
    const { stderr, status } = outcomeReport(outcome);
    if (stderr) ctx.report.raw(stderr);
    return status;
  } finally {
    outputs.close();
  }
};

/** The request, or dpkg's usage error. Exported for the parser tests. */
export function buildRequest(ctx: ActionContext, args: string[]): TransactionRequest {
  const s = ctx.settings;
  const action = s.action!.name;
  if (!s.noAct && !s.forces.has('not-root') && process.getuid?.() !== 0) ctx.report.fatal('requested operation requires superuser privilege');
  const common: CommonRequest = {
    instdir: s.dirs.root,
    admindir: s.dirs.admindir,
    noAct: s.noAct,
    forces: s.forces.enabled,
    ignoreDepends: [...s.ignoreDepends],
    ...(s.noPager ? { noPager: true } : {}),
    // dpkg's default: process triggers, except for --triggers-only with package names.
    triggers: s.triggers === 1 ? 'process' : s.triggers === -1 ? 'defer' : action === 'triggers-only' && args.length > 0 ? 'defer' : 'process',
    abortAfter: s.abortAfter,
    statusFds: [...s.statusFds],
    statusLoggers: [...s.statusLoggers],
    log: s.log,
    debug: s.debug,
  };
  if (action === 'install' || action === 'unpack') {
    let archives: string[];
    if (s.recursive) {
      if (args.length === 0) ctx.report.badUsage(`--${action} --recursive needs at least one path argument`);
      archives = expandRecursive(args, ctx.report);
    } else {
      if (args.length === 0) ctx.report.badUsage(`--${action} needs at least one package archive file argument`);
      archives = args;
    }
    for (const a of archives) {
      let st: fs.Stats;
      try {
        st = fs.statSync(Buffer.from(a, 'latin1'));
      } catch (err) {
        return ctx.report.fatal(`cannot access archive '${a}': ${strerror(err)}`);
      }
      if (!st.isFile()) ctx.report.fatal(`archive '${a}' is not a regular file`);
    }
    return {
      ...common,
      action,
      archives,
      recursive: s.recursive,
      selectedOnly: !s.alsoSelect,
      skipSameVersion: s.skipSame,
      autoDeconfigure: s.autoDeconfigure,
      pathFilters: [...s.pathFilters],
      noDebsig: s.noDebsig,
    };
  }
  if (action !== 'configure' && action !== 'triggers-only' && action !== 'remove' && action !== 'purge') throw new Error(`not a transaction: ${action}`);
  if (s.pending) {
    if (args.length > 0) ctx.report.badUsage(`--${action} --pending does not take any non-option arguments`);
    return { ...common, action, target: { pending: true } } satisfies PackageRequest;
  }
  if (args.length === 0) ctx.report.badUsage(`--${action} needs at least one package name argument`);
  const packages = args.map((text): PackageSpec => {
    const problem = pkgSpecProblem(text);
    if (problem) ctx.report.badUsage(`--${action} needs a valid package name but '${text.slice(0, 250)}' is not: ${problem}`);
    const colon = text.indexOf(':');
    return colon < 0 ? { name: text, text } : { name: text.slice(0, colon), arch: text.slice(colon + 1), text };
  });
  return { ...common, action, target: { pending: false, packages } } satisfies PackageRequest;
}

/** A transaction with a force overmerge refuses is refused whole, naming the option. */
function refuseForces(req: TransactionRequest): void {
  for (const name of req.forces) {
    const t = forceInfo(name).overmerge;
    if (t.kind === 'refused') throw new DpkgExit(`${OWN_PROG}: error: --force-${name} is not supported: ${t.why}\n`, EXIT_ERROR);
  }
}

interface Outputs {
  readonly writer: StatusFdWriter;
  emit(ctx: ActionContext, event: DpkgEvent): void;
  close(): void;
}

/**
 * The --status-fd descriptors, the --status-logger commands (each run by `sh -c` with the lines on its
 * standard input and its standard output closed, as dpkg runs them) and the --log file (opened on first
 * use, appended to; failure to open it is a notice, as in dpkg).
 */
function openOutputs(ctx: ActionContext, req: TransactionRequest): Outputs {
  const sinks: LineSink[] = req.statusFds.map((fd) => descriptorSink(fd));
  const loggers: ChildProcess[] = req.statusLoggers.map((command) =>
    spawn('/bin/sh', ['-c', fsPath(command)], { stdio: ['pipe', 'ignore', 'inherit'], env: childEnv(ctx) }),
  );
  for (const child of loggers) sinks.push((bytes) => void child.stdin?.write(bytes));
  // dpkg adds each descriptor at the head of its list: the last given is written first.
  sinks.reverse();
  let logFd: number | undefined;
  let logBroken = req.log === undefined;
  const log: LineSink = (bytes) => {
    if (logBroken) return;
    if (logFd === undefined) {
      try {
        logFd = openAppendLog(fsPath(req.log!));
      } catch (err) {
        logBroken = true;
        ctx.report.notice(`could not open log '${req.log}': ${strerror((err as { cause?: unknown }).cause ?? err)}`);
        return;
      }
    }
    try {
      writeToDescriptor(logFd, bytes);
    } catch (err) {
      ctx.report.notice(`cannot write to log file '${req.log}': ${strerror(err)}`);
    }
  };
  const writer = new StatusFdWriter(sinks, log);
  return {
    writer,
    emit: (c, event) => {
      try {
        writer.emit(event);
      } catch (err) {
        c.report.fatal((err as Error).message);
      }
    },
    close: () => {
      for (const child of loggers) child.stdin?.end();
      if (logFd !== undefined) fs.closeSync(logFd);
    },
  };
}

function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? (err as { errno?: string }).errno;
  const known: Record<string, string> = {
    ENOENT: 'No such file or directory',
    EACCES: 'Permission denied',
    ENOTDIR: 'Not a directory',
    ELOOP: 'Too many levels of symbolic links',
    EISDIR: 'Is a directory',
  };
  return (code && known[code]) ?? (err as Error).message;
}
