import * as path from 'node:path';
import type { Db } from '../db/db';
import type { Locations } from '../engine/context';
import { OvermergeError } from '../errors';
import { recordedRootPath, rootPathFromHost, type RootPath } from '../fs/rootpath';
import type { PackageFiles } from '../overlay/status';
import { defineCommand } from './command';
import type { GlobalArgs } from './global';
import { overlayReconcileCommand } from './overlay-reconcile';
import { UsageError } from './usage-error';

interface StatusArgs extends GlobalArgs {
  names?: string[];
}

export const overlayStatusCommand = defineCommand<StatusArgs>({
  command: 'status [names..]',
  describe: "the overlay's layers and options, and where each installed package's files live (lower, copied-up, upper, hidden) with the bytes they hold in the upper layer",
  builder: (y) => y.positional('names', { type: 'string', array: true, describe: 'packages to report, with each of their paths (default: all, as a table)' }),
  async run(args, io) {
    const [{ locate, openForReading }, { reachLayers, readableLayers, requireOverlay }, { overlayStatus }, { formatStatus, statusJson }, { OverlayView }] =
      await Promise.all([
        import('../engine/context'),
        import('../overlay/layers'),
        import('../overlay/status'),
        import('../overlay/status-text'),
        import('../overlay/where'),
      ]);
    const loc = await locate(args);
    const overlay = await requireOverlay(loc.root.host);
    const layers = await reachLayers(overlay);
    const view = new OverlayView(readableLayers(layers), overlay.options.features, overlay.rootOffset);
    const db = openForReading(loc);
    let packages: PackageFiles[];
    try {
      packages = db ? installed(db, args.names) : notInstalled(args.names);
    } finally {
      db?.close();
    }
    const report = await overlayStatus({ root: loc.root.host, overlay, layers, view, packages, database: databaseFiles(loc) });
    if (args.json) io.stdout.write(`${JSON.stringify(statusJson(report), null, 2)}\n`);
    else io.stdout.write(formatStatus(report, { files: (args.names?.length ?? 0) > 0 }));
    return 0;
  },
});

export const overlayCommand = defineCommand<GlobalArgs>({
  command: 'overlay',
  describe: 'look at the overlayfs mount the root is on (status), or reconcile an upper layer with a replaced lower image (reconcile)',
  builder: (y) => y,
  subcommands: [overlayStatusCommand, overlayReconcileCommand],
  async run() {
    // The parser demands a subcommand before a handler runs; this is the net under it.
    throw new UsageError('name a subcommand of overlay; see `overmerge overlay --help`');
  },
});

function installed(db: Db, names: string[] | undefined): PackageFiles[] {
  const rows = names?.length
    ? names.flatMap((n) => {
        const found = db.packages.byName(n);
        if (found.length === 0) throw new OvermergeError('E_NOT_INSTALLED', `package '${n}' is not installed`, { op: 'overlay status' });
        return found;
      })
    : db.packages.list();
  return rows.map((r) => ({
    name: r.name,
    architecture: r.architecture,
    version: r.version,
    status: r.status,
    paths: Array.from(db.files.filesOf(r.id), (f) => recordedRootPath(f.path)),
  }));
}

function notInstalled(names: string[] | undefined): PackageFiles[] {
  if (names?.length) throw new OvermergeError('E_NOT_INSTALLED', `package '${names[0]}' is not installed`, { op: 'overlay status' });
  return [];
}

/** The database file and its write-ahead log, when they are inside the root (`--db` may put them elsewhere). */
function databaseFiles(loc: Locations): RootPath[] {
  const rel = path.relative(loc.root.host, loc.dbFile);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return [];
  const db = rootPathFromHost(loc.root, loc.dbFile);
  return [db, `${db}-wal` as RootPath];
}
