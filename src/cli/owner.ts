import { OvermergeError } from '../errors';
import { displayPath, parseRootPath, recordedRootPath } from '../fs/rootpath';
import { defineCommand } from './command';
import type { GlobalArgs } from './global';

interface OwnerArgs extends GlobalArgs {
  path: string;
}

export const ownerCommand = defineCommand<OwnerArgs>({
  command: 'owner <path>',
  describe: 'show which package owns a path (like dpkg -S; an absolute path is looked up exactly)',
  builder: (y) => y.positional('path', { type: 'string', demandOption: true, describe: 'absolute path inside the root' }),
  async run(args, io) {
    if (!args.path.startsWith('/')) {
      throw new OvermergeError('E_USAGE', `owner takes an absolute path inside the root, not '${args.path}'`, { op: 'owner' });
    }
    const p = parseRootPath(args.path);
    const { locate, openForReading } = await import('../engine/context');
    const loc = await locate(args);
    const db = openForReading(loc);
    try {
      const owners = db ? db.files.ownersOf(p) : [];
      if (owners.length === 0) throw new OvermergeError('E_NOT_INSTALLED', `no package owns ${displayPath(p)}`, { op: 'owner', path: args.path });
      const names = owners.map((o) => o.name);
      if (args.json) io.stdout.write(`${JSON.stringify({ path: displayPath(p), packages: names })}\n`);
      else io.stdout.write(`${names.join(', ')}: ${displayPath(recordedRootPath(p))}\n`);
      return 0;
    } finally {
      db?.close();
    }
  },
});
