import type { DpkgEventSink } from '../../../model/events';
import type { ArchiveRequest, PackageRequest, TransactionRequest } from './request';

/**
 * What carries out a dpkg transaction for overmerge-dpkg. The front end parses and checks the command line
 * into a request, opens the --status-fd / --log outputs, and hands the request and an event sink to one of
 * these methods; the driver locks dpkg's database, plans and runs the transaction through the engine
 * (journaled, recoverable), emits events as it goes (see events.ts: `processing` and `status` as dpkg
 * would, `error` per failed package), and resolves to the outcome. The front end then prints dpkg's
 * closing report and exits as dpkg does (see outcomeStatus()).
 *
 * A driver throws only for what stops dpkg before it processes anything (a DpkgExit with dpkg's message:
 * a held lock, a database it cannot read); a package that fails is an outcome, not a throw.
 */
export interface TransactionDriver {
  install(req: ArchiveRequest, events: DpkgEventSink): Promise<TransactionOutcome>;
  unpack(req: ArchiveRequest, events: DpkgEventSink): Promise<TransactionOutcome>;
  configure(req: PackageRequest, events: DpkgEventSink): Promise<TransactionOutcome>;
  triggersOnly(req: PackageRequest, events: DpkgEventSink): Promise<TransactionOutcome>;
  remove(req: PackageRequest, events: DpkgEventSink): Promise<TransactionOutcome>;
  purge(req: PackageRequest, events: DpkgEventSink): Promise<TransactionOutcome>;
}

export interface PackageOutcome {
  /** The package (dpkg's name for it) or, for an archive that could not be read, the archive as given. */
  readonly subject: string;
  readonly result: 'done' | 'skipped' | 'failed';
  /** Why it failed or was skipped, in dpkg's words. */
  readonly message?: string;
}

export interface TransactionOutcome {
  readonly packages: readonly PackageOutcome[];
  /** --abort-after was reached: the rest was not processed. */
  readonly halted: boolean;
}

/**
 * dpkg's end of a transaction (src/main/errors.c reportbroken_retexitstatus): the failed subjects listed on
 * stderr, and exit 1 if any failed.
 */
export function outcomeReport(outcome: TransactionOutcome): { stderr: string; status: number } {
  const failed = outcome.packages.filter((p) => p.result === 'failed');
  let stderr = '';
  if (failed.length > 0) stderr += `Errors were encountered while processing:\n${failed.map((p) => ` ${p.subject}\n`).join('')}`;
  if (outcome.halted) stderr += 'Processing was halted because there were too many errors.\n';
  return { stderr, status: failed.length > 0 ? 1 : 0 };
}

/** The driver method for a request. */
export function runRequest(driver: TransactionDriver, req: TransactionRequest, events: DpkgEventSink): Promise<TransactionOutcome> {
  switch (req.action) {
    case 'install':
      return driver.install(req, events);
    case 'unpack':
      return driver.unpack(req, events);
    case 'configure':
      return driver.configure(req, events);
    case 'triggers-only':
      return driver.triggersOnly(req, events);
    case 'remove':
      return driver.remove(req, events);
    case 'purge':
      return driver.purge(req, events);
  }
}
