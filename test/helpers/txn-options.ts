import { CrashPoints } from '../../src/engine/crash';
import { NO_CONFFILE_FORCES } from '../../src/engine/plan-model';
import { StepRegistry } from '../../src/engine/steps/registry';
import type { TxnOptions } from '../../src/engine/transaction';

/**
 * The transaction options a test that drives the engine's API directly starts from: the CLI's defaults
 * (rename mode, no forces, no crash points, no kept backups) with a fresh step registry, and no automatic
 * recovery so that a test sees a failure as it happened. A test names only what it changes.
 */
export function testTxnOptions(overrides: Partial<TxnOptions> = {}): TxnOptions {
  return {
    mode: 'rename',
    forceOverwrite: false,
    conffiles: { forces: NO_CONFFILE_FORCES },
    batchSize: 256,
    crash: new CrashPoints(undefined, undefined),
    autoRecover: false,
    asRoot: process.getuid?.() === 0,
    keepBackups: false,
    backupRetention: 5,
    steps: new StepRegistry(),
    ...overrides,
  };
}
