import type { Command } from './command';
import { compareVersionsCommand } from './compare-versions';
import { filesCommand } from './files';
import { historyCommand } from './history';
import { installCommand, unpackCommand } from './install';
import { listCommand } from './list';
import { ownerCommand } from './owner';
import { recoverCommand } from './recover';
import { purgeCommand, removeCommand } from './remove';
import { verifyCommand } from './verify';

/** Every CLI command, in the order `--help` lists them. One module per command. */
export const commands: Command<any>[] = [
  installCommand,
  unpackCommand,
  removeCommand,
  purgeCommand,
  listCommand,
  filesCommand,
  ownerCommand,
  verifyCommand,
  historyCommand,
  recoverCommand,
  compareVersionsCommand,
];
