import type { ReportContext } from '../overlay/reconcile/report-text';
import { defineCommand } from './command';
import type { GlobalArgs } from './global';
import { UsageError } from './usage-error';

interface ReconcileArgs extends GlobalArgs {
  lower: string;
  upper: string;
  apply: boolean;
  stripOrigin: boolean;
  acceptDataLoss: boolean;
}

export const overlayReconcileCommand = defineCommand<ReconcileArgs>({
  command: 'reconcile',
  describe: "after the lower image of an overlay root was replaced, and with nothing mounted: bring the kept upper layer in line with the new image (dry run unless --apply)",
  builder: (y) =>
    y
      .option('lower', { type: 'string', demandOption: true, requiresArg: true, describe: "the new image's lower layer folder(s), topmost first, separated by ':'" })
      .option('upper', { type: 'string', demandOption: true, requiresArg: true, describe: 'the upper layer folder kept from the old image' })
      .option('apply', { type: 'boolean', default: false, describe: 'do it (journaled; `overmerge recover --root UPPER` after a crash)' })
      .option('strip-origin', { type: 'boolean', default: false, describe: "remove overlay origin records that name inodes of the replaced lower (the cause of ESTALE on a lower without a UUID)" })
      .option('accept-data-loss', { type: 'boolean', default: false, describe: 'apply even though some data lived in the replaced lower (metacopy files, files of kept packages)' }),
  async run(args, io) {
    if (args.db !== undefined || args.staging !== undefined) {
      throw new UsageError("overlay reconcile reads the databases in the layers (var/lib/overmerge/db.sqlite); --db and --staging do not apply");
    }
    // The engine is loaded when the command runs, not when the CLI registers it (start-up pays for every module).
    const [{ CrashPoints }, { applyReconcile, planOnly }, { StepRegistry }, { openLayers }, { formatReport, reportJson }, { journalBatch }] = await Promise.all([
      import('../engine/crash'),
      import('../engine/reconcile'),
      import('../engine/steps/registry'),
      import('../overlay/reconcile/gather'),
      import('../overlay/reconcile/report-text'),
      import('./engine-options'),
    ]);
    const layers = await openLayers(args.upper, args.lower);
    let ctx: ReportContext;
    let plan;
    if (args.apply) {
      const crash = CrashPoints.fromEnv();
      try {
        const r = await applyReconcile(layers, {
          stripOrigin: args.stripOrigin,
          acceptDataLoss: args.acceptDataLoss,
          steps: new StepRegistry(),
          crash,
          batchSize: journalBatch(),
          asRoot: process.getuid?.() === 0,
          lockWait: args.lockWait,
          args: ['--upper', layers.upper.host, '--lower', [...layers.lower.map((l) => l.path), ...(layers.data.length ? ['', ...layers.data.map((l) => l.path)] : [])].join(':'), ...(args.stripOrigin ? ['--strip-origin'] : []), ...(args.acceptDataLoss ? ['--accept-data-loss'] : [])],
        });
        plan = r.plan;
        ctx = { layers, applied: true, txnId: r.txnId, stripOrigin: args.stripOrigin };
      } finally {
        crash.recordCount();
      }
    } else {
      plan = (await planOnly(layers, args.stripOrigin)).plan;
      ctx = { layers, applied: false, stripOrigin: args.stripOrigin };
    }
    if (args.json) io.stdout.write(`${JSON.stringify(reportJson(plan, ctx), null, 2)}\n`);
    else io.stdout.write(formatReport(plan, ctx));
    return 0;
  },
});
