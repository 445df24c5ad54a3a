import * as path from 'node:path';
import type { Writer } from './context';
import { readArchives } from './phases/read';
import { stageArchives } from './phases/stage';
import { installFlows, scriptsWithoutDpkg } from './script-flows';
import type { InstallRequest } from './plan-model';
import { labelOf } from '../model/events';
import { planChanges, runTransaction, type TxnOptions, type TxnOutcome } from './transaction';

/**
 * `install`/`unpack`: all archives of one call form one transaction. With dpkg's database and maintainer
 * scripts, dpkg's protocol runs around the files: every archive's scripts before the files (prerm upgrade,
 * preinst) run first — the plan is made from the root as they leave it — then the files, then the old
 * versions' postrm upgrade, the commit, and after it each postinst configure (install).
 */
export async function installArchives(w: Writer, archives: string[], status: 'installed' | 'unpacked', opts: TxnOptions): Promise<TxnOutcome> {
  // The read phase comes before the transaction begins: a broken archive is refused before anything is recorded.
  const read = await readArchives(w.loc.root.host, archives);
  return runTransaction(w, opts, {
    kind: 'install',
    args: archives.map((a) => path.resolve(a)),
    archives: read,
    queue: { action: status === 'installed' ? 'install' : 'unpack' },
    plan: async (probe, stagingDir, options, now) => {
      const installs = await stageArchives(read, probe, stagingDir, status, opts);
      if (w.dpkg === undefined || now.scripts === undefined) {
        scriptsWithoutDpkg(
          installs.map((i) => i.staged),
          opts.scripts,
        );
        return { ...(await planChanges(probe, w.db, { installs, removals: [] }, { ...options, unpackOnly: status === 'unpacked' })), configureOrder: refsOf(installs, status) };
      }
      const dpkg = w.dpkg;
      const flows = await installFlows(w, dpkg, now.scripts, installs, now.run, status === 'installed');
      for (const [i, f] of flows.entries()) {
        const staged = installs[i].staged;
        const was = dpkg.get(staged.name, staged.architecture);
        const installed = was !== undefined && was.status.state !== 'not-installed' && was.status.state !== 'config-files';
        opts.events?.({
          kind: 'processing',
          action: installed ? 'upgrade' : 'install',
          pkg: labelOf(was?.displayName ?? staged.name, staged.name, staged.architecture),
          installedVersion: installed ? (was.version ?? '<none>') : '<none>',
          availableVersion: staged.version,
        });
        await now.run(f.pre);
      }
      // The scripts may have changed the root: where the files land is probed again.
      probe.forget();
      for (const i of installs) i.resolved = await probe.resolveAll(i.staged);
      const planned = await planChanges(probe, w.db, { installs, removals: [] }, { ...options, unpackOnly: status === 'unpacked' });
      return { ...planned, scripts: flows, configureOrder: refsOf(installs, status) };
    },
  });
}

/** What `install` configures after the commit: every archive's package, in the order they were given. */
function refsOf(installs: readonly InstallRequest[], status: 'installed' | 'unpacked'): Array<{ name: string; architecture: string }> {
  return status === 'installed' ? installs.map((i) => ({ name: i.staged.name, architecture: i.staged.architecture })) : [];
}
