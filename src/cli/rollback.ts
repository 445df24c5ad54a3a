import * as fs from 'node:fs';
import { OvermergeError } from '../errors';
import { changeOptions, type ChangeArgs } from './change-options';
import { defineCommand } from './command';

interface RollbackArgs extends ChangeArgs {
  txn?: string;
}

export const rollbackCommand = defineCommand<RollbackArgs>({
  command: 'rollback [txn]',
  describe: 'undo a committed transaction whose backups were kept (default: the newest one)',
  builder: (y) => changeOptions(y).positional('txn', { type: 'string', describe: 'transaction number (see `history`)' }),
  async run(args, io) {
    const [{ locate }, { rollbackTransaction }, { runChange }, { reportOutcome }] = await Promise.all([
      import('../engine/context'),
      import('../engine/rollback'),
      import('./engine-options'),
      import('./report'),
    ]);
    const id = args.txn === undefined ? undefined : Number(args.txn);
    if (id !== undefined && !(Number.isInteger(id) && id > 0)) {
      throw new OvermergeError('E_USAGE', `not a transaction number: '${args.txn}'`, { op: 'rollback' });
    }
    if (!fs.existsSync((await locate(args)).dbFile)) {
      throw new OvermergeError('E_CANNOT_ROLLBACK', 'no transaction to roll back: nothing was ever installed into this root', { op: 'rollback' });
    }
    const outcome = await runChange(args, io, (w, opts) => rollbackTransaction(w, id, opts));
    if (!args.json && !args.quiet) io.stdout.write(`rolled back transaction ${outcome.target}\n`);
    return reportOutcome(outcome, args, io);
  },
});
