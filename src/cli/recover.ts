import * as fs from 'node:fs';
import { defineCommand } from './command';
import type { GlobalArgs } from './global';

export const recoverCommand = defineCommand<GlobalArgs>({
  command: 'recover',
  describe: 'finish or undo a transaction that was interrupted (crash, kill -9, power loss)',
  builder: (y) => y,
  async run(args, io) {
    const [{ closeWriter, locate, openForWriting }, { CrashPoints }, { recoverAll }, { StepRegistry }, { scriptSessionFor }, { printable }, { decodedAheadDir }, { removeTree }] = await Promise.all([
      import('../engine/context'),
      import('../engine/crash'),
      import('../engine/recover'),
      import('../engine/steps/registry'),
      import('../engine/script-session'),
      import('../control/printable'),
      import('../archive/decode-ahead'),
      import('../fs/entries'),
    ]);
    // A root overmerge never wrote to has nothing to recover; opening it for writing would create files
    // (unless it has dpkg's database: then recover takes in what dpkg installed, creating overmerge's).
    const loc = await locate(args);
    if (!fs.existsSync(loc.dbFile) && loc.dpkgAdmin === undefined) {
      if (args.json) io.stdout.write('[]\n');
      else io.stdout.write('nothing to recover\n');
      return 0;
    }
    const w = await openForWriting(args);
    const crash = CrashPoints.fromEnv();
    try {
      // Undoing a transaction whose scripts ran makes dpkg's abort calls: they run as --scripts says.
      const scripts = await scriptSessionFor(w, { mode: args.scripts ?? 'auto', notice: (line) => io.stderr.write(`overmerge: ${printable(line)}\n`) });
      const done = await recoverAll(w, new StepRegistry(), crash, scripts);
      // What a killed bootstrap decoded ahead: a cache no transaction owns (a bootstrap always stages in
      // the root's own staging folder: a --staging folder named here is left alone).
      if (args.staging === undefined) await removeTree(decodedAheadDir(w.loc.stagingBase));
      if (args.json) io.stdout.write(`${JSON.stringify(done)}\n`);
      else if (done.length === 0) io.stdout.write('nothing to recover\n');
      for (const r of args.json ? [] : done) {
        io.stdout.write(
          r.outcome === 'old'
            ? `transaction ${r.txnId} (${r.kind}) was interrupted before its commit: undone, the root is in its old state\n`
            : `transaction ${r.txnId} (${r.kind}) was committed: clean-up finished, the root is in its new state\n`,
        );
      }
      return 0;
    } finally {
      crash.recordCount();
      closeWriter(w);
    }
  },
});
