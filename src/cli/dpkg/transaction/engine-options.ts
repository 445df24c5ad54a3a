import type { ConffileAsker } from '../../../engine/conffile-questions';
import { CrashPoints } from '../../../engine/crash';
import type { ConffilePolicy } from '../../../engine/plan-model';
import { StepRegistry } from '../../../engine/steps/registry';
import type { TxnOptions } from '../../../engine/transaction';
import type { ForceOption } from '../../../dpkg/relations';
import type { DpkgEventSink } from '../../../model/events';
import { journalBatch } from '../../engine-options';
import type { ForceName } from '../force';
import { isArchiveRequest, type TransactionRequest } from './request';

/** The dpkg forces the relations planner implements, by dpkg's name. */
const RELATION_FORCES: ReadonlySet<ForceName> = new Set<ForceName>(['depends', 'depends-version', 'conflicts', 'breaks', 'remove-essential', 'remove-protected', 'architecture', 'hold']);

/** dpkg's conffile forces, for the engine's conffile rules (engine/conffile-rules.ts decides as dpkg does). */
export function conffilePolicy(forces: readonly ForceName[]): ConffilePolicy {
  const has = (f: ForceName): boolean => forces.includes(f);
  return { forces: { confnew: has('confnew'), confold: has('confold'), confdef: has('confdef'), confmiss: has('confmiss'), confask: has('confask') } };
}

export interface DriverOutputs {
  /** The engine's events, as dpkg's outputs want them. */
  readonly events: DpkgEventSink;
  /** A notice of the script runner (a script skipped and why), dpkg-style. */
  readonly notice: (line: string) => void;
  /** A relation warning (a forced problem), in dpkg's words. */
  readonly warn: (message: string) => void;
  /** Asks the conffile questions as dpkg asks them (on stderr, answers read from stdin). */
  readonly askConffiles: ConffileAsker;
}

/**
 * The engine's options for one overmerge-dpkg transaction: the request's forces mapped to the engine's,
 * its trigger choice, maintainer scripts run as dpkg runs them (in a chroot of the root, or chrootless with
 * --force-script-chrootless), and an interrupted transaction recovered before the next one starts — dpkg
 * never refuses to run after a crash, it carries on from the states it recorded, and apt relies on that.
 */
export function driverTxnOptions(req: TransactionRequest, out: DriverOutputs): TxnOptions {
  const forces = req.forces;
  const autoDeconfigure = req.action === 'install' || req.action === 'unpack' ? req.autoDeconfigure : false;
  return {
    mode: 'rename',
    forceOverwrite: forces.includes('overwrite'),
    conffiles: conffilePolicy(forces),
    steps: new StepRegistry(),
    batchSize: journalBatch(),
    crash: CrashPoints.fromEnv(),
    autoRecover: true,
    asRoot: process.getuid?.() === 0,
    keepBackups: false,
    backupRetention: 5,
    triggers: req.triggers === 'process',
    pathFilters: isArchiveRequest(req) ? req.pathFilters : undefined,
    events: out.events,
    askConffiles: out.askConffiles,
    scripts: {
      mode: forces.includes('script-chrootless') ? 'chrootless' : 'auto',
      notice: out.notice,
      forces: [...forces],
    },
    relations: {
      force: forces.filter((f): f is ForceOption => RELATION_FORCES.has(f)),
      autoDeconfigure,
      ignoreDepends: req.ignoreDepends.map((n) => n.toLowerCase()),
      warn: out.warn,
    },
  };
}
