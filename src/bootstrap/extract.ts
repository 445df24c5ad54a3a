import * as path from 'node:path';
import type { Writer } from '../engine/context';
import type { Plan } from '../engine/plan-model';
import { readArchives } from '../engine/phases/read';
import { stageArchives } from '../engine/phases/stage';
import { planChanges, runTransaction, type TxnOptions, type TxnOutcome } from '../engine/transaction';

/**
 * Phase A of a bootstrap: the Essential set's files laid into the root before anything can run there
 * (there is no /bin/sh before them), as debootstrap's and mmdebstrap's extraction does it — files only,
 * belonging to no package: no maintainer script runs and neither database records a package, so the
 * packages are then installed over them as fresh installs (preinst install, and so on), as dpkg installs
 * a package over files nobody owns.
 *
 * Unlike a tar extraction it is an ordinary overmerge transaction — staged, journaled, synced, committed —
 * so `overmerge recover` after a crash takes it back to nothing, like any other.
 */
export async function extractArchives(w: Writer, archives: readonly string[], opts: TxnOptions): Promise<TxnOutcome> {
  const read = await readArchives(w.loc.root.host, archives);
  // No script session: nothing may run, and a package's scripts are not "skipped" (it is not installed).
  const quiet: TxnOptions = { ...opts, scripts: undefined };
  return runTransaction(w, quiet, {
    kind: 'install',
    args: ['bootstrap', '--extract', ...archives.map((a) => path.resolve(a))],
    archives: read,
    plan: async (probe, stagingDir, options) => {
      const installs = await stageArchives(read, probe, stagingDir, 'installed', quiet);
      const planned = await planChanges(probe, w.db, { installs, removals: [] }, options);
      return { plan: unowned(planned.plan) };
    },
  });
}

/**
 * A plan's filesystem steps without its package records: the files are placed, no package row is written
 * (and so no dpkg stanza either), and the history shows no package change. Pure.
 */
export function unowned(plan: Plan): Plan {
  return { ...plan, records: [], changes: [], deleted: [], disowned: [] };
}
