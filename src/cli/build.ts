import type { Compression } from '../archive/compression';
import { OvermergeError } from '../errors';
import { defineCommand } from './command';

interface Args {
  dir: string;
  out: string;
  compression: Compression;
}

const DESCRIBE =
  'build a .deb from DIR (DIR/DEBIAN/control, maintainer scripts, conffiles; the rest is the payload) like ' +
  '`dpkg-deb --build --root-owner-group`; SOURCE_DATE_EPOCH makes the output reproducible';

/** SOURCE_DATE_EPOCH as dpkg-deb reads it: a decimal number of seconds, or unset. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv): number | undefined {
  const value = env.SOURCE_DATE_EPOCH;
  if (value === undefined || value === '') return undefined;
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new OvermergeError('E_USAGE', `SOURCE_DATE_EPOCH must be a number of seconds, not ${JSON.stringify(value)}`);
  }
  return Number(value);
}

export const buildCommand = defineCommand<Args>({
  command: 'build <dir> <out>',
  describe: DESCRIBE,
  builder: (y) =>
    y
      .parserConfiguration({ 'parse-positional-numbers': false })
      .usage(`$0 build DIR OUT.deb [-Z xz|gzip|zstd|none]\n\n${DESCRIBE}`)
      .positional('dir', { type: 'string', describe: 'the package tree', demandOption: true })
      .positional('out', { type: 'string', describe: 'the .deb to write (or a folder to write NAME_VERSION_ARCH.deb into)', demandOption: true })
      .option('compression', {
        alias: 'Z',
        choices: ['xz', 'gzip', 'zstd', 'none'] as const,
        default: 'xz' as const,
        describe: 'compression of control.tar and data.tar',
      })
      .example('SOURCE_DATE_EPOCH=1700000000 $0 build pkgtree out.deb -Z zstd', 'a reproducible zstd-compressed package'),
  run: async (args, io) => {
    const { buildDeb } = await import('../archive/build');
    const result = await buildDeb(String(args.dir), String(args.out), {
      compression: args.compression,
      sourceDateEpoch: sourceDateEpoch(process.env),
    });
    io.stdout.write(`overmerge: building package '${result.package}' in '${result.path}'.\n`);
    return 0;
  },
});
