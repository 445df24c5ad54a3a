import * as path from 'node:path';
import type { Writer } from './context';
import { readArchives } from './phases/read';
import { stageArchives } from './phases/stage';
import { planChanges, runTransaction, type TxnOptions, type TxnOutcome } from './transaction';

/** `install`/`unpack`: all archives of one call form one transaction. */
export async function installArchives(w: Writer, archives: string[], status: 'installed' | 'unpacked', opts: TxnOptions): Promise<TxnOutcome> {
  // The read phase comes before the transaction begins: a broken archive is refused before anything is recorded.
  const read = await readArchives(w.loc.root.host, archives);
  return runTransaction(w, opts, {
    kind: 'install',
    args: archives.map((a) => path.resolve(a)),
    archives: read,
    plan: async (probe, stagingDir, options) => {
      const installs = await stageArchives(read, probe, stagingDir, status, opts);
      return planChanges(probe, w.db, { installs, removals: [] }, { ...options, unpackOnly: status === 'unpacked' });
    },
  });
}
