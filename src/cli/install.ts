import { installArchives } from '../engine/transaction';
import type { Command, Io } from './command';
import { changeOptions, runChange, type ChangeArgs } from './engine-options';
import { reportOutcome } from './report';

interface InstallArgs extends ChangeArgs {
  archives: string[];
}

function installLike(name: 'install' | 'unpack', status: 'installed' | 'unpacked', describe: string): Command<InstallArgs> {
  return {
    command: `${name} <archives..>`,
    describe,
    builder: (y) => changeOptions(y).positional('archives', { type: 'string', array: true, describe: '.deb files (one transaction)' }),
    async run(args: InstallArgs, io: Io) {
      const outcome = await runChange(args, io, (w, opts) => installArchives(w, args.archives, status, opts));
      reportOutcome(outcome, args, io);
      return 0;
    },
  };
}

export const installCommand = installLike('install', 'installed', 'install or upgrade packages from .deb files, as one transaction');
export const unpackCommand = installLike('unpack', 'unpacked', 'unpack packages without configuring them (state "unpacked")');
