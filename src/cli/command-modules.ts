import type { Command } from './command';

/* eslint-disable @typescript-eslint/no-require-imports */

/**
 * Each command's name and how to load its module alone: the quick parser (quick-parse.ts) loads only the
 * command a line names, where registry.ts loads them all for yargs and `--help`. The two must name the
 * same commands (test/cli/quick-parse.test.ts checks it).
 */
export const COMMAND_MODULES: Readonly<Record<string, () => Command<any>>> = {
  install: () => (require('./install') as typeof import('./install')).installCommand,
  unpack: () => (require('./install') as typeof import('./install')).unpackCommand,
  configure: () => (require('./configure') as typeof import('./configure')).configureCommand,
  remove: () => (require('./remove') as typeof import('./remove')).removeCommand,
  purge: () => (require('./remove') as typeof import('./remove')).purgeCommand,
  list: () => (require('./list') as typeof import('./list')).listCommand,
  files: () => (require('./files') as typeof import('./files')).filesCommand,
  owner: () => (require('./owner') as typeof import('./owner')).ownerCommand,
  verify: () => (require('./verify') as typeof import('./verify')).verifyCommand,
  overlay: () => (require('./overlay') as typeof import('./overlay')).overlayCommand,
  history: () => (require('./history') as typeof import('./history')).historyCommand,
  recover: () => (require('./recover') as typeof import('./recover')).recoverCommand,
  rollback: () => (require('./rollback') as typeof import('./rollback')).rollbackCommand,
  'compare-versions': () => (require('./compare-versions') as typeof import('./compare-versions')).compareVersionsCommand,
  contents: () => (require('./contents') as typeof import('./contents')).contentsCommand,
  info: () => (require('./info') as typeof import('./info')).infoCommand,
  build: () => (require('./build') as typeof import('./build')).buildCommand,
  bootstrap: () => (require('./bootstrap') as typeof import('./bootstrap')).bootstrapCommand,
};

/** The command named `name`, its module loaded; undefined for a word that names none. */
export function loadCommand(name: string): Command<any> | undefined {
  return Object.hasOwn(COMMAND_MODULES, name) ? COMMAND_MODULES[name]() : undefined;
}
