import type { Command, Io } from './command';
import { changeOptions, type ChangeArgs } from './change-options';

interface RemoveArgs extends ChangeArgs {
  names: string[];
}

function removeLike(name: 'remove' | 'purge', describe: string): Command<RemoveArgs> {
  return {
    command: `${name} <names..>`,
    describe,
    builder: (y) => changeOptions(y).positional('names', { type: 'string', array: true, describe: 'package names (one transaction)' }),
    async run(args: RemoveArgs, io: Io) {
      const [{ removePackages }, { runChange }, { reportOutcome }] = await Promise.all([
        import('../engine/remove'),
        import('./engine-options'),
        import('./report'),
      ]);
      const outcome = await runChange(args, io, (w, opts) => removePackages(w, args.names, name === 'purge', opts));
      reportOutcome(outcome, args, io);
      return 0;
    },
  };
}

export const removeCommand = removeLike('remove', 'remove packages, keeping their conffiles (state "config-files")');
export const purgeCommand = removeLike('purge', 'remove packages and their conffiles');
