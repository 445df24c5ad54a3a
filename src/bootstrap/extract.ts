import * as path from 'node:path';
import type { Writer } from '../engine/context';
import { archiveIdentity } from '../archive/identity';
import type { LaidFiles } from '../engine/laid-files';
import type { InstallRequest, Plan } from '../engine/plan-model';
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
 * so `overmerge recover` after a crash takes it back to nothing, like any other. What it laid is noted in
 * `laid`, for the install of the same archives to claim instead of decoding them again.
 */
export async function extractArchives(w: Writer, archives: readonly string[], opts: TxnOptions, laid: LaidFiles): Promise<TxnOutcome> {
  // Taken before the archives are read: an archive changed after this is not the one laid.
  const identities = new Map(archives.map((a) => [a, archiveIdentity(a)]));
  const read = await readArchives(w.loc.root.host, archives, opts.controls);
  // No script session: nothing may run, and a package's scripts are not "skipped" (it is not installed).
  const quiet: TxnOptions = { ...opts, scripts: undefined, laid: undefined };
  let installs: InstallRequest[] = [];
  const outcome = await runTransaction(w, quiet, {
    kind: 'install',
    args: ['bootstrap', '--extract', ...archives.map((a) => path.resolve(a))],
    archives: read,
    plan: async (probe, stagingDir, options) => {
      installs = await stageArchives(read, probe, stagingDir, 'installed', quiet);
      const planned = await planChanges(probe, w.db, { installs, removals: [] }, options);
      return { plan: unowned(planned.plan) };
    },
  });
  // Committed: what each archive laid, as it is now, is what the install of the set may claim.
  for (const i of installs) laid.note(identities.get(i.staged.archive), i.staged, i.resolved, w.loc.root);
  return outcome;
}

/**
 * A plan's filesystem steps without its package records: the files are placed, no package row is written
 * (and so no dpkg stanza either), and the history shows no package change. Pure.
 */
export function unowned(plan: Plan): Plan {
  return { ...plan, records: [], changes: [], deleted: [], disowned: [] };
}
