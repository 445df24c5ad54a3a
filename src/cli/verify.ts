import { OvermergeError } from '../errors';
import { defineCommand } from './command';
import type { GlobalArgs } from './global';

interface VerifyArgs extends GlobalArgs {
  names?: string[];
}

export const verifyCommand = defineCommand<VerifyArgs>({
  command: 'verify [names..]',
  describe: 'check installed files against the database (like dpkg --verify); exit 1 on any difference',
  builder: (y) => y.positional('names', { type: 'string', array: true, describe: 'packages to check (default: all)' }),
  async run(args, io) {
    const [{ locate, openForReading }, { formatProblem, verifyPackages }] = await Promise.all([
      import('../engine/context'),
      import('../engine/verify'),
    ]);
    const loc = await locate(args);
    const db = openForReading(loc);
    if (!db) {
      if (args.names?.length) throw new OvermergeError('E_NOT_INSTALLED', `package '${args.names[0]}' is not installed`, { op: 'verify' });
      return 0;
    }
    try {
      const pkgs = args.names?.length
        ? args.names.map((n) => {
            const rows = db.packages.byName(n);
            if (rows.length === 0) throw new OvermergeError('E_NOT_INSTALLED', `package '${n}' is not installed`, { op: 'verify' });
            return rows;
          }).flat()
        : db.packages.list();
      const problems = await verifyPackages(db, loc.root, pkgs);
      if (args.json) io.stdout.write(`${JSON.stringify(problems, null, 2)}\n`);
      else for (const p of problems) io.stdout.write(`${formatProblem(p)}\n`);
      return problems.length > 0 ? 1 : 0;
    } finally {
      db.close();
    }
  },
});
