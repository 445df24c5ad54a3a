import { defineCommand } from './command';
import type { GlobalArgs } from './global';

interface ListArgs extends GlobalArgs {
  pattern?: string;
}

export const listCommand = defineCommand<ListArgs>({
  command: 'list [pattern]',
  describe: 'list installed packages (PATTERN: a shell glob on the name)',
  builder: (y) => y.positional('pattern', { type: 'string', describe: 'glob on package names, e.g. "lib*"' }),
  async run(args, io) {
    const { locate, openForReading } = await import('../engine/context');
    const loc = await locate(args);
    const db = openForReading(loc);
    const rows = db ? db.packages.list(args.pattern) : [];
    db?.close();
    const pkgs = rows.map((r) => ({ name: r.name, version: r.version, architecture: r.architecture, status: r.status }));
    if (args.json) {
      io.stdout.write(`${JSON.stringify(pkgs, null, 2)}\n`);
    } else {
      const w = (k: 'name' | 'version' | 'architecture') => Math.max(k.length, ...pkgs.map((p) => p[k].length));
      const [wn, wv, wa] = [w('name'), w('version'), w('architecture')];
      if (pkgs.length > 0) io.stdout.write(`${'Name'.padEnd(wn)}  ${'Version'.padEnd(wv)}  ${'Architecture'.padEnd(wa)}  Status\n`);
      for (const p of pkgs) io.stdout.write(`${p.name.padEnd(wn)}  ${p.version.padEnd(wv)}  ${p.architecture.padEnd(wa)}  ${p.status}\n`);
    }
    return args.pattern !== undefined && pkgs.length === 0 ? 1 : 0;
  },
});
