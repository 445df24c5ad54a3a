import * as path from 'node:path';
import type { Writer } from '../engine/context';
import { LaidFiles } from '../engine/laid-files';
import type { InstallRequest, Plan } from '../engine/plan-model';
import { Probe } from '../engine/probe';
import { readArchives, type ReadArchive } from '../engine/phases/read';
import { stageArchives } from '../engine/phases/stage';
import { planChanges, runTransaction, type TxnOptions, type TxnOutcome } from '../engine/transaction';
import { OvermergeError } from '../errors';
import { makePrivateDirectory } from '../fs/entries';
import { hostJoin, type HostPath } from '../fs/host-path';
import { DEFAULT_MAX_MEMBERS } from '../stage/stage';

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
  const identities = new Map(archives.map((a) => [a, LaidFiles.identityOf(a)]));
  const read = await readArchives(w.loc.root.host, archives);
  // No script session: nothing may run, and a package's scripts are not "skipped" (it is not installed).
  const quiet: TxnOptions = { ...opts, scripts: undefined, laid: undefined };
  let installs: InstallRequest[] = [];
  const outcome = await runTransaction(w, quiet, {
    kind: 'install',
    args: ['bootstrap', '--extract', ...archives.map((a) => path.resolve(a))],
    archives: read,
    plan: async (probe, stagingDir, options) => {
      installs = await stageSideBySide(read, probe, stagingDir, quiet);
      const planned = await planChanges(probe, w.db, { installs, removals: [] }, options);
      return { plan: unowned(planned.plan) };
    },
  });
  // Committed: what each archive laid, as it is now, is what the install of the set may claim.
  const probe = new Probe(w.loc.root, w.db);
  for (const i of installs) await laid.note(identities.get(i.staged.archive) ?? '', i.staged, i.resolved, probe);
  return outcome;
}

/**
 * Archives staged at once, each into its own folder. Staging one archive leaves a core idle half the
 * time — the decoder waits while the main thread creates and writes files (about a millisecond per new
 * inode on a busy ext4), the main thread waits while the decoder works — so a second archive's decoding
 * fills those gaps. The requests come back in the archives' order, as staging them one by one gives.
 */
async function stageSideBySide(read: readonly ReadArchive[], probe: Probe, stagingDir: HostPath, opts: TxnOptions): Promise<InstallRequest[]> {
  const limit = opts.maxMembers ?? DEFAULT_MAX_MEMBERS;
  const out: InstallRequest[] = new Array(read.length);
  let members = 0;
  let next = 0;
  // A lane that fails stops the other at its next archive, and both have stopped before the failure is
  // thrown: the transaction then removes its staging area with nothing still writing into it.
  let failed = false;
  const lane = async (): Promise<void> => {
    try {
      for (let i = next++; i < read.length && !failed; i = next++) {
        const dir = hostJoin(stagingDir, String(i));
        await makePrivateDirectory(dir, 'create staging folder');
        // What is left of the transaction's member limit (the other lane's archive in flight counts after it).
        const [request] = await stageArchives([read[i]], probe, dir, 'installed', { ...opts, maxMembers: Math.max(1, limit - members) });
        members += request.staged.entries.length;
        out[i] = request;
      }
    } catch (err) {
      failed = true;
      throw err;
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(LANES, read.length) }, lane));
  const failure = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
  if (members > limit) {
    throw new OvermergeError('E_BAD_ARCHIVE', `the Essential set's archives have ${members} members, more than the ${limit} one transaction may unpack`, {
      op: 'stage',
    });
  }
  return out;
}

/** Archives staged at once: two keep both of a two-core machine's cores busy (the decoders run on their own threads). */
const LANES = 2;

/**
 * A plan's filesystem steps without its package records: the files are placed, no package row is written
 * (and so no dpkg stanza either), and the history shows no package change. Pure.
 */
export function unowned(plan: Plan): Plan {
  return { ...plan, records: [], changes: [], deleted: [], disowned: [] };
}
