import type { Argv } from 'yargs';
import { UsageError } from './usage-error';

export type PlaceMode = 'rename' | 'copy' | 'hardlink';

/** Options every command accepts (yargs `global`), as handlers receive them. */
export interface GlobalArgs {
  root: string;
  db?: string;
  staging?: string;
  admindir?: string;
  mode: PlaceMode;
  json: boolean;
  scripts: boolean;
  quiet: boolean;
  lockWait: number;
  autoRecover: boolean;
}

export function globalOptions(y: Argv): Argv {
  return y
    .option('root', { type: 'string', default: '/', describe: 'the root filesystem to act on', global: true, requiresArg: true })
    .option('db', { type: 'string', describe: 'database file (default ROOT/var/lib/overmerge/db.sqlite)', global: true, requiresArg: true })
    .option('staging', { type: 'string', describe: 'staging folder (default inside ROOT/var/lib/overmerge)', global: true, requiresArg: true })
    .option('admindir', {
      type: 'string',
      describe: "dpkg's database, kept in step (default ROOT/var/lib/dpkg, when the root has it)",
      global: true,
      requiresArg: true,
    })
    .option('mode', {
      choices: ['rename', 'copy', 'hardlink'] as const,
      default: 'rename' as const,
      describe: 'how staged files are placed',
      global: true,
    })
    .option('json', { type: 'boolean', default: false, describe: 'machine-readable output where a command lists things', global: true })
    .option('scripts', { type: 'boolean', default: true, describe: 'run maintainer scripts (--no-scripts: accepted; scripts come later)', global: true })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress output', global: true })
    .option('lock-wait', { type: 'number', default: 0, describe: 'seconds to wait for another writer', global: true, requiresArg: true })
    .option('auto-recover', { type: 'boolean', default: false, describe: 'recover an unfinished transaction first instead of refusing', global: true })
    .check((argv) => {
      const wait = argv['lock-wait'];
      if (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0) throw new UsageError('--lock-wait takes a number of seconds, 0 or more');
      return true;
    }, true);
}
