import { openForWriting } from '../engine/context';
import { removePackages, type TxnOutcome } from '../engine/transaction';
import type { Command, Io } from './command';
import { changeOptions, txnOptions, type ChangeArgs } from './engine-options';
import { reportOutcome } from './report';

interface RemoveArgs extends ChangeArgs {
  names: string[];
}

function removeLike(name: 'remove' | 'purge', describe: string): Command<RemoveArgs> {
  return {
    command: `${name} <names..>`,
    describe,
    builder: (y) => changeOptions(y).positional('names', { type: 'string', array: true, describe: 'package names (one transaction)' }),
    async run(args: RemoveArgs, io: Io) {
      const w = await openForWriting(args);
      const { opts, progress } = txnOptions(args, io);
      let outcome: TxnOutcome;
      try {
        outcome = await removePackages(w, args.names, name === 'purge', opts);
      } finally {
        progress.end();
        opts.crash.recordCount();
        w.close();
      }
      reportOutcome(outcome, args, io);
      return 0;
    },
  };
}

export const removeCommand = removeLike('remove', 'remove packages, keeping their conffiles (state "config-files")');
export const purgeCommand = removeLike('purge', 'remove packages and their conffiles');
