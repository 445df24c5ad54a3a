import type { Argv } from 'yargs';
import { UsageError } from './usage-error';

export type PlaceMode = 'rename' | 'copy' | 'hardlink';

export type ScriptChoice = 'auto' | 'chroot' | 'chrootless' | 'disabled';

/** --scripts[=MODE] and --no-scripts (yargs hands false for the negation, '' for a bare --scripts). */
function scriptChoice(v: unknown): ScriptChoice {
  if (v === false || v === 'false') return 'disabled';
  if (v === true || v === '' || v === undefined || v === 'auto') return 'auto';
  if (v === 'chroot' || v === 'chrootless') return v;
  throw new UsageError(`--scripts takes auto, chroot or chrootless (or --no-scripts), not '${String(v)}'`);
}

/** Options every command accepts (yargs `global`), as handlers receive them. */
export interface GlobalArgs {
  root: string;
  db?: string;
  staging?: string;
  admindir?: string;
  mode: PlaceMode;
  json: boolean;
  /** How maintainer scripts run: auto (in a chroot when root and the root has /bin/sh), chroot, chrootless, or disabled (--no-scripts). */
  scripts: ScriptChoice;
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
    .option('scripts', {
      type: 'string',
      default: 'auto',
      describe: 'run maintainer scripts: auto, chroot, chrootless; --no-scripts skips them (each one named)',
      global: true,
      coerce: scriptChoice,
    })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress output', global: true })
    .option('lock-wait', { type: 'number', default: 0, describe: 'seconds to wait for another writer', global: true, requiresArg: true })
    .option('auto-recover', { type: 'boolean', default: false, describe: 'recover an unfinished transaction first instead of refusing', global: true })
    .check((argv) => {
      const wait = argv['lock-wait'];
      if (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0) throw new UsageError('--lock-wait takes a number of seconds, 0 or more');
      return true;
    }, true);
}
