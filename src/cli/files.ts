import { OvermergeError } from '../errors';
import { displayPath, recordedRootPath } from '../fs/rootpath';
import { defineCommand } from './command';
import type { GlobalArgs } from './global';

interface FilesArgs extends GlobalArgs {
  name: string;
}

export const filesCommand = defineCommand<FilesArgs>({
  command: 'files <name>',
  describe: "list the paths a package owns, one per line (like dpkg -L)",
  builder: (y) => y.positional('name', { type: 'string', demandOption: true, describe: 'package name' }),
  async run(args, io) {
    const { locate, openForReading } = await import('../engine/context');
    const loc = await locate(args);
    const db = openForReading(loc);
    try {
      const rows = db ? db.packages.byName(args.name) : [];
      if (rows.length === 0) {
        throw new OvermergeError('E_NOT_INSTALLED', `package '${args.name}' is not installed`, { op: 'files' });
      }
      const paths: string[] = [];
      for (const row of rows) for (const f of db!.files.filesOf(row.id)) paths.push(f.path);
      if (args.json) io.stdout.write(`${JSON.stringify(paths.map((p) => displayPath(recordedRootPath(p))))}\n`);
      else for (const p of paths) io.stdout.write(`${displayPath(recordedRootPath(p))}\n`);
      return 0;
    } finally {
      db?.close();
    }
  },
});
