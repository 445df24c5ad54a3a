import type { Command, Io } from './command';
import { changeOptions, dryRunOption, type ChangeArgs } from './change-options';
import { forceOptions } from './force-options';
import { pathFilterOptions, pathFiltersInOrder, type PathFilterArgs } from './path-filter-options';
import { UsageError } from './usage-error';

interface InstallArgs extends ChangeArgs, PathFilterArgs {
  archives: string[];
  maxMembers: number;
  dryRun: boolean;
}

function installLike(name: 'install' | 'unpack', status: 'installed' | 'unpacked', describe: string): Command<InstallArgs> {
  return {
    command: `${name} <archives..>`,
    describe,
    // The default comes from the stage, loaded only when this command is parsed (see registry.ts).
    builder: (y) =>
      pathFilterOptions(dryRunOption(forceOptions(changeOptions(y))))
        .positional('archives', { type: 'string', array: true, describe: '.deb files (one transaction)' })
        .option('max-members', {
          type: 'number',
          default: defaultMaxMembers(),
          requiresArg: true,
          describe: 'refuse archives with more members than this in all (each costs memory until the commit)',
        })
        .check((argv) => {
          const n = argv['max-members'];
          if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new UsageError('--max-members takes a whole number, 1 or more');
          return true;
        }),
    async run(args: InstallArgs, io: Io) {
      const pathFilters = pathFiltersInOrder(io.words ?? [], args);
      const [{ installArchives }, { runChange }, { reportOutcome }] = await Promise.all([
        import('../engine/install'),
        import('./engine-options'),
        import('./report'),
      ]);
      const outcome = await runChange(args, io, (w, opts) => installArchives(w, args.archives, status, { ...opts, maxMembers: args.maxMembers, dryRun: args.dryRun, pathFilters }));
      return reportOutcome(outcome, args, io);
    },
  };
}

function defaultMaxMembers(): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../stage/stage') as typeof import('../stage/stage')).DEFAULT_MAX_MEMBERS;
}

export const installCommand = installLike('install', 'installed', 'install or upgrade packages from .deb files, as one transaction');
export const unpackCommand = installLike('unpack', 'unpacked', 'unpack packages without configuring them (state "unpacked")');
