import { defineCommand } from './command';
import type { GlobalArgs } from './global';

export const historyCommand = defineCommand<GlobalArgs>({
  command: 'history',
  describe: 'list transactions, newest first',
  builder: (y) => y,
  async run(args, io) {
    const { locate, openForReading } = await import('../engine/context');
    const loc = await locate(args);
    const db = openForReading(loc);
    try {
      const txns = (db?.txns.list() ?? []).map((t) => ({
        id: t.id,
        kind: t.kind,
        state: t.state,
        started: new Date(t.startedAt).toISOString(),
        finished: t.finishedAt === null ? null : new Date(t.finishedAt).toISOString(),
        rollbackable: (t.state === 'committed' || t.state === 'recovered-new') && t.backupsKept && t.kind !== 'rollback',
        args: t.args,
        changes: db!.txns.packageChanges(t.id).map((c) => ({
          name: c.name,
          architecture: c.architecture,
          action: c.action,
          oldVersion: c.oldVersion,
          newVersion: c.newVersion,
        })),
        error: t.error,
      }));
      if (args.json) {
        io.stdout.write(`${JSON.stringify(txns, null, 2)}\n`);
        return 0;
      }
      for (const t of txns) {
        const flags = t.rollbackable ? ' (can roll back)' : '';
        io.stdout.write(`#${t.id}  ${t.started}  ${t.kind}  ${t.state}${flags}\n`);
        for (const c of t.changes) {
          const versions = [c.oldVersion, c.newVersion].filter((v) => v).join(' -> ');
          io.stdout.write(`    ${c.action} ${c.name}:${c.architecture} ${versions}\n`);
        }
        if (t.error) io.stdout.write(`    error: ${t.error}\n`);
      }
      return 0;
    } finally {
      db?.close();
    }
  },
});
