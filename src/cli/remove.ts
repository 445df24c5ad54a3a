import { removePackages } from '../engine/remove';
import type { Command, Io } from './command';
import { changeOptions, runChange, type ChangeArgs } from './engine-options';
import { dryRunOption } from './dry-run';
import { forceOptions } from './force-options';
import { reportOutcome } from './report';

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
      const outcome = await runChange(args, io, (w, opts) => removePackages(w, args.names, name === 'purge', { ...opts, dryRun: args.dryRun }));
      return reportOutcome(outcome, args, io);
    },
  };
}

export const removeCommand = removeLike('remove', 'remove packages, keeping their conffiles (state "config-files")');
export const purgeCommand = removeLike('purge', 'remove packages and their conffiles');
