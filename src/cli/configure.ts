import type { Command, Io } from './command';
import { changeOptions, type ChangeArgs } from './change-options';
import { UsageError } from './usage-error';

interface ConfigureArgs extends ChangeArgs {
  names: string[];
  pending: boolean;
  triggersOnly: boolean;
}

export const configureCommand: Command<ConfigureArgs> = {
  command: 'configure [names..]',
  describe: 'configure unpacked packages: put their new conffiles in place (one transaction)',
  builder: (y) =>
    changeOptions(y)
      .positional('names', { type: 'string', array: true, describe: 'package names' })
      .option('pending', { alias: 'a', type: 'boolean', default: false, describe: 'every package that is unpacked or half-configured' })
      .option('triggers-only', {
        type: 'boolean',
        default: false,
        describe: "only process the named packages' pending triggers (with --pending: every package's), as dpkg --triggers-only",
      })
      .check((argv) => {
        const names = (argv.names as string[] | undefined) ?? [];
        if (argv.pending && names.length > 0) throw new UsageError('give package names or --pending, not both');
        if (!argv.pending && names.length === 0) throw new UsageError('name the packages to configure, or pass --pending');
        return true;
      }),
  async run(args: ConfigureArgs, io: Io) {
    const [{ configurePackages, packagesToConfigure }, { processTriggersOnly }, { runChange }, { reportOutcome }] = await Promise.all([
      import('../engine/configure'),
      import('../engine/triggers-only'),
      import('./engine-options'),
      import('./report'),
    ]);
    const outcome = await runChange(args, io, (w, opts) => {
      if (args.triggersOnly) return processTriggersOnly(w, args.names ?? [], Boolean(args.pending), opts);
      return configurePackages(w, () => packagesToConfigure(w, args.names ?? [], args.pending), args.pending ? ['--pending'] : args.names, opts, Boolean(args.pending));
    });
    return reportOutcome(outcome, args, io);
  },
};
