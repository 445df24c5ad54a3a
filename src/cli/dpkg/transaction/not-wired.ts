import { DpkgExit, EXIT_ERROR, OWN_PROG } from '../report';
import type { TransactionDriver, TransactionOutcome } from './driver';
import type { TransactionRequest } from './request';

/**
 * The driver until the engine's dpkg transactions are wired in: every transaction is refused with one line
 * (exit 2, nothing touched). Replace it with the engine's driver in actions/transaction.ts.
 */
export const notWiredDriver: TransactionDriver = {
  install: refuse,
  unpack: refuse,
  configure: refuse,
  triggersOnly: refuse,
  remove: refuse,
  purge: refuse,
};

async function refuse(req: TransactionRequest): Promise<TransactionOutcome> {
  throw new DpkgExit(`${OWN_PROG}: error: --${req.action} is not wired to the overmerge engine yet; nothing was changed\n`, EXIT_ERROR);
}
