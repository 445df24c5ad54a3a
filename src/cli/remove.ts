import type { Command, Io } from './command';
import { changeOptions, dryRunOption, type ChangeArgs } from './change-options';
import { forceOptions } from './force-options';

interface RemoveArgs extends ChangeArgs {
  names: string[];
  dryRun: boolean;
}

function removeLike(name: 'remove' | 'purge', describe: string): Command<RemoveArgs> {
  return {
    command: `${name} <names..>`,
    describe,
    builder: (y) => dryRunOption(forceOptions(changeOptions(y))).positional('names', { type: 'string', array: true, describe: 'package names (one transaction)' }),
    async run(args: RemoveArgs, io: Io) {
      const [{ removePackages }, { runChange }, { reportOutcome }] = await Promise.all([
        import('../engine/remove'),
        import('./engine-options'),
        import('./report'),
      ]);
      const outcome = await runChange(args, io, (w, opts) => removePackages(w, args.names, name === 'purge', { ...opts, dryRun: args.dryRun }));
      return reportOutcome(outcome, args, io);
    },
  };
}

export const removeCommand = removeLike('remove', 'remove packages, keeping their conffiles (state "config-files")');
export const purgeCommand = removeLike('purge', 'remove packages and their conffiles');
