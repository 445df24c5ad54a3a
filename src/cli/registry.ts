import { bootstrapCommand } from './bootstrap';
import { buildCommand } from './build';
import type { Command } from './command';
import { compareVersionsCommand } from './compare-versions';
import { configureCommand } from './configure';
import { contentsCommand } from './contents';
import { filesCommand } from './files';
import { historyCommand } from './history';
import { infoCommand } from './info';
import { installCommand, unpackCommand } from './install';
import { listCommand } from './list';
import { overlayCommand } from './overlay';
import { ownerCommand } from './owner';
import { recoverCommand } from './recover';
import { rollbackCommand } from './rollback';
import { purgeCommand, removeCommand } from './remove';
import { verifyCommand } from './verify';

/** Every CLI command, in the order `--help` lists them. One module per command. */
export const commands: Command<any>[] = [
  installCommand,
  unpackCommand,
  configureCommand,
  removeCommand,
  purgeCommand,
  listCommand,
  filesCommand,
  ownerCommand,
  verifyCommand,
  overlayCommand,
  historyCommand,
  recoverCommand,
  rollbackCommand,
  compareVersionsCommand,
  contentsCommand,
  infoCommand,
  buildCommand,
  bootstrapCommand,
];
