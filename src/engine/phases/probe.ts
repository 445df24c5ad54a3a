import type { Db } from '../../db/db';
import { parentOf, type RootPath } from '../../fs/rootpath';
import type { DiskState } from '../../model/disk';
import type { InstalledFileList } from '../../model/package';
import type { InstallRequest, PlanInput, PlanOptions, RemoveRequest } from '../plan-model';
import { conffileCompanions, type Probe } from '../probe';
import { replacesOwner } from '../replaces';
import { collectGarbage, GarbageCadence, LARGE_TRANSACTION } from '../memory-bounds';
import { OWNER_BATCH } from '../../db/files';

/** What a transaction changes, as its preparation (stage phase, or a rollback's snapshots) found it. */
export interface Requests {
  installs: InstallRequest[];
  removals: RemoveRequest[];
  /** Unowned paths to remove (a rollback removes the `.dpkg-dist` files its transaction made). */
  extraRemovals?: RootPath[];
}

/**
 * The probe phase: everything the planner will ask about — disk states, owners, directory contents — read
 * from the root and the database, by path or by package, so the cost follows the transaction's size.
 */
export async function gatherPlanInput(probe: Probe, db: Db, req: Requests, options: PlanOptions): Promise<PlanInput> {
  // The transaction's own packages, as the planner counts them (plan.ts inTxn): never "other owners".
  const txnIds = [...req.installs.map((r) => r.staged), ...req.removals.map((r) => r.pkg)]
    .map((p) => db.packages.get(p.name, p.architecture)?.id)
    .filter((id): id is number => id !== undefined);
  const inTxn = new Set(txnIds);
  // Resolving the paths again (after the scripts that run before the files) and the relations made their
  // garbage per member too: freed before the probe makes its own.
  if (req.installs.reduce((n, r) => n + r.staged.entries.length, 0) >= LARGE_TRANSACTION) collectGarbage();
  // The installed versions' rows first: the probe's map then keys each of their paths by the row's own
  // string, not by a second copy made from the manifest (116,010 paths: 4.4 MiB).
  const shipped = shippedDirectories(req.installs);
  const owners = new OwnerLookups(probe, inTxn);
  for (const r of req.installs) if (r.old) await gatherOld(probe, r.old.files, { txnIds, inTxn, shipped, owners }, false);
  for (const r of req.removals) await gatherOld(probe, r.pkg.files, { txnIds, inTxn, shipped, owners }, r.purge);
  const cadence = new GarbageCadence();
  for (const r of req.installs) {
    // By index, path and kind only: no member decoded whole.
    const m = r.staged.entries;
    for (let k = 0; k < m.length; k++) {
      cadence.tick();
      const path = m.pathAt(k);
      const { type, conffile } = m.kindAt(k);
      const at = r.resolved.get(path) ?? path;
      const d = await probe.look(at, { digest: conffile });
      if (at !== '') await probe.look(parentOf(at)); // checkLanding: the folder it goes into
      // A directory's owners matter only where the root holds something else there (plan.ts,
      // planDirectory); where it holds the folder they are every package shipping it (/usr/share/doc:
      // each package installed before, looked up by each one after — most of a bootstrap's owner rows).
      if (type !== 'directory' || !holdsFolder(d)) owners.add(at);
      if (type !== 'directory' && d.type === 'directory') {
        await probe.look(at, { beneath: true });
        probe.ownersBeneath(at, txnIds);
      }
      if (conffile) for (const c of conffileCompanions(at)) await probe.look(c);
    }
  }
  owners.flush();
  for (const p of req.extraRemovals ?? []) await probe.look(p);
  // The walk goes on over the folders it adds (no copy of a huge upgrade's paths: 250,000 strings).
  for (const p of probe.disk.keys()) await probe.lookAncestors(p); // checkGuarded
  // Before the plan adds its steps and rows. (Counted in members: the probe keeps no entry for a path in
  // an absent folder.)
  if (req.installs.reduce((n, r) => n + r.staged.entries.length, 0) + probe.disk.size >= LARGE_TRANSACTION) collectGarbage();
  return {
    installs: req.installs,
    removals: req.removals,
    extraRemovals: req.extraRemovals,
    disk: probe.disk,
    owners: probe.owners,
    ownedBeneath: probe.ownedBeneath,
    replaces: replacesOwner,
    options,
  };
}

/** Whether the root holds a folder at a path, or nothing: where the plan leaves a shipped directory be or makes it. */
function holdsFolder(d: DiskState): boolean {
  return d.type === 'directory' || d.type === 'absent' || (d.type === 'symlink' && d.targetIsDir === true);
}

interface Ours {
  txnIds: number[];
  inTxn: ReadonlySet<number>;
  /** Directories the transaction's archives ship: they stay, whatever the installed versions had. */
  shipped: ReadonlySet<RootPath>;
  owners: OwnerLookups;
}

/** The paths whose owners the planner needs, looked up OWNER_BATCH at a time (the probe keeps the answers). */
class OwnerLookups {
  private batch: RootPath[] = [];

  constructor(
    private readonly probe: Probe,
    private readonly except: ReadonlySet<number>,
  ) {}

  add(p: RootPath): void {
    this.batch.push(p);
    if (this.batch.length >= OWNER_BATCH) this.flush();
  }

  flush(): void {
    if (this.batch.length > 0) this.probe.ownersOfMany(this.batch, this.except);
    this.batch = [];
  }
}

async function gatherOld(probe: Probe, files: InstalledFileList, ours: Ours, purge: boolean): Promise<void> {
  for (const f of files) {
    ours.owners.add(f.path);
    const d = await probe.look(f.path);
    // What is in a directory matters only if it may be removed: not one the transaction ships again (an
    // upgrade of a huge package listed its folder of 116,010 files, and kept the list: 10 MiB).
    if (d.type === 'directory' && f.type === 'directory' && !ours.shipped.has(f.path)) {
      // Listing a directory is only worth it if no other package keeps it anyway.
      probe.ownersBeneath(f.path, ours.txnIds);
      await probe.look(f.path, { children: true });
    }
    if (purge && f.conffile) for (const c of conffileCompanions(f.path)) await probe.look(c);
  }
}

/** Where the directories the archives ship land, as the planner counts them (plan.ts wantedDirs). */
function shippedDirectories(installs: readonly InstallRequest[]): Set<RootPath> {
  const out = new Set<RootPath>();
  for (const r of installs) {
    const m = r.staged.entries;
    for (let k = 0; k < m.length; k++) {
      const { type, filtered } = m.kindAt(k);
      if (type !== 'directory' || filtered) continue;
      const p = m.pathAt(k);
      out.add(r.resolved.get(p) ?? p);
    }
  }
  return out;
}
