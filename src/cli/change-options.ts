import type { Argv } from 'yargs';
import type { ForceArgs } from './force-options';
import type { GlobalArgs } from './global';
import { UsageError } from './usage-error';

/** Options of the commands that change a root. */
export interface ChangeArgs extends GlobalArgs, ForceArgs {
  forceOverwrite?: boolean;
  forceConfnew?: boolean;
  forceConfold?: boolean;
  keepBackups?: boolean;
  backupRetention?: number;
  triggers?: boolean;
}

/**
 * Their parser side, apart from the engine side (engine-options.ts), so that declaring them loads nothing
 * of the engine: the CLI registers every command at start.
 */
export function changeOptions(y: Argv): Argv {
  return y
    .option('force-overwrite', { type: 'boolean', default: false, describe: "overwrite another package's files" })
    .option('force-confnew', { type: 'boolean', describe: 'install new versions of locally modified conffiles (old kept as .dpkg-old)' })
    .option('force-confold', { type: 'boolean', describe: 'keep locally modified conffiles (new version as .dpkg-dist; also the answer when stdin is not a terminal)' })
    .conflicts('force-confnew', 'force-confold')
    .option('triggers', {
      type: 'boolean',
      default: true,
      describe: 'process the triggers this command activates (--no-triggers: record them, leave them pending)',
    })
    .option('keep-backups', { type: 'boolean', default: false, describe: 'keep what this transaction replaces, so `rollback` can undo it' })
    .option('backup-retention', {
      type: 'number',
      default: 5,
      requiresArg: true,
      describe: 'how many transactions keep their backups (older ones lose them)',
    })
    .check((argv) => {
      const n = argv['backup-retention'];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new UsageError('--backup-retention takes a whole number, 0 or more');
      return true;
    });
}

/** --dry-run of the commands that change packages (install, unpack, remove, purge); dry-run.ts reports it. */
export function dryRunOption(y: Argv): Argv {
  return y.option('dry-run', {
    type: 'boolean',
    default: false,
    describe: 'plan and measure (on an overlay root: what the upper layer must hold), change nothing',
  });
}
