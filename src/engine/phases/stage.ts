import { makePrivateDirectory } from '../../fs/entries';
import { FileWrites } from '../../fs/file-writes';
import { hostJoin, type HostPath } from '../../fs/host-path';
import { DEFAULT_MAX_MEMBERS, stageArchive, stageLate, type InstalledLookup } from '../../stage/stage';
import type { CrashPoints } from '../crash';
import type { LaidFiles } from '../laid-files';
import type { RootPath } from '../../fs/rootpath';
import { stagedContent, type ManifestEntry } from '../../model/entry';
import type { StagedPackage } from '../../model/staged-package';
import type { InstalledFile, InstalledPackage } from '../../model/package';
import { pathOfRow } from '../../model/installed-files';
import { PathIndex } from '../../model/path-index';
import type { InstallRequest, Plan } from '../plan-model';
import type { Probe } from '../probe';
import { collectGarbage, GarbageCadence, LARGE_TRANSACTION, releaseFreedMemory } from '../memory-bounds';
import { freeSpace } from '../space';
import { OvermergeError } from '../../errors';
import type { PathFilter } from '../../model/path-filter';
import type { ReadArchive } from './read';
import type { StagedAhead } from '../staged-ahead';

export interface StageOptions {
  asRoot: boolean;
  /** Members the archives of one transaction may have in all (default DEFAULT_MAX_MEMBERS). */
  maxMembers?: number;
  crash: CrashPoints;
  progress?: (phase: string, done: number, total: number) => void;
  /** dpkg's --path-exclude / --path-include: what of the archives stays out of the root. */
  pathFilters?: readonly PathFilter[];
  /** Files this process laid from these archives (a bootstrap's extraction): claimed rather than staged again. */
  laid?: LaidFiles;
  /**
   * The claims of `laid` are checked by restageChanged after the scripts that run before the files (and
   * not here): the caller runs those scripts, then calls it.
   */
  claimsCheckedLater?: boolean;
  /** Archives this process staged (or decoded) ahead of time (a bootstrap's later groups). */
  ahead?: StagedAhead;
  /**
   * Members identical to the installed version's file at their path are not written (stage.ts,
   * StageOptions.installed): the caller stages what its plan places of them with stagePlaced.
   */
  reuseInstalled?: boolean;
  /**
   * Which xz data members the worker thread decodes itself (native-tar.ts): 'small' (the default) those
   * under 1 MiB, the larger ones in the host's `xz`, their dictionary outside this process (issue 14's
   * bound on memory); 'all' every one, for a bootstrap, whose heap is let grow anyway (about 0.15 s quicker).
   */
  xzInProcess?: 'small' | 'all';
}

/**
 * The stage phase of an install: each archive's data streamed into its own folder of the transaction's
 * staging area, where its paths land in the root (directory symlinks followed), and the installed
 * version it replaces. Nothing in the root changes here. Without `stagingDir` (a preview) nothing is
 * written anywhere: the manifests are measured, not staged.
 *
 * Two archives are staged at once (three where each lane decodes its xz itself: LANES_DECODING). Staging
 * one leaves a core idle half the time — its decoder (an `xz` process, or lzma-native's thread) waits
 * while the main thread creates and writes files (about a millisecond per new inode on a busy ext4), the
 * main thread waits while the decoder works — so a second archive's decoding fills those gaps. The
 * requests come back in the archives' order, as staging them one by one gives, and a lane that fails
 * stops the other at its next archive: both have stopped before the failure is thrown, so the
 * transaction removes its staging area with nothing still writing into it.
 */
export async function stageArchives(
  archives: readonly ReadArchive[],
  probe: Probe,
  stagingDir: HostPath | undefined,
  status: string,
  opts: StageOptions,
): Promise<InstallRequest[]> {
  const installs: InstallRequest[] = new Array(archives.length);
  const memberLimit = opts.maxMembers ?? DEFAULT_MAX_MEMBERS;
  let members = 0;
  let started = 0;
  let done = 0;
  let failed = false;
  const one = async (i: number, writes: FileWrites | undefined): Promise<void> => {
    const a = archives[i];
    const dir = stagingDir === undefined ? undefined : hostJoin(stagingDir, String(i));
    // The installed version, read before staging: its unchanged files need not be written again.
    const old = probe.installed(a.control.fields.get('Package') ?? '', a.control.fields.get('Architecture') ?? '');
    // Staged ahead only as a fresh install is staged (nothing installed to leave unwritten), into its folder.
    const early = dir !== undefined && old === undefined ? await takeStagedAhead(a, probe, dir, opts) : undefined;
    if (dir !== undefined && early === undefined) await makePrivateDirectory(dir, 'create staging folder');
    const ready = early ?? (await opts.laid?.claim(a.path, probe, { checkedLater: opts.claimsCheckedLater }));
    const installed = dir !== undefined && opts.reuseInstalled ? installedFiles(old) : undefined;
    // What is left of the member limit; the other lane's archive in flight counts when it is done.
    const left = Math.max(1, memberLimit - members);
    const { staged, resolved } = ready ?? (await stageOne(a, probe, dir, left, { ...opts, installed, writes }));
    members += staged.entries.length;
    installs[i] = { staged, resolved, old, status };
  };
  const order = largestFirst(archives);
  const lane = async (): Promise<void> => {
    // Each lane's small files are written on the thread pool, in order, while it decodes its next archive.
    const writes = stagingDir === undefined ? undefined : new FileWrites(opts.asRoot);
    try {
      for (let k = started++; k < archives.length && !failed; k = started++) {
        if (stagingDir !== undefined) opts.progress?.('stage', done, archives.length);
        await one(order[k], writes);
        done++;
      }
      await writes?.drain();
    } catch (err) {
      failed = true;
      await writes?.settle();
      throw err;
    }
  };
  // A preview writes nothing and waits on no decoder's output for long: one lane, in order.
  const lanes = stagingDir === undefined ? 1 : Math.min(opts.xzInProcess === 'all' ? LANES_DECODING : LANES, archives.length);
  const ended = await Promise.allSettled(Array.from({ length: lanes }, lane));
  const failure = ended.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
  if (members > memberLimit) {
    throw new OvermergeError(
      'E_BAD_ARCHIVE',
      `the archives of this transaction have ${members} members, more than the ${memberLimit} one transaction may unpack; refusing them (--max-members sets the limit)`,
      { op: 'stage' },
    );
  }
  if (stagingDir !== undefined) opts.progress?.('stage', archives.length, archives.length);
  return installs;
}

/**
 * The order in which the lanes take the archives: the largest (Installed-Size) first, those without last.
 * Taken in the call's order, the lane that gets a large archive late (coreutils, libc6 in a bootstrap's
 * extraction) is still decoding it when the other has finished, with one core idle.
 */
function largestFirst(archives: readonly ReadArchive[]): number[] {
  return archives.map((_, i) => i).sort((x, y) => (archives[y].limit ?? 0) - (archives[x].limit ?? 0) || x - y);
}

/** `a` as staged ahead (staged-ahead.ts), moved into `dir`, and where its members land; undefined when it was not. */
async function takeStagedAhead(a: ReadArchive, probe: Probe, dir: HostPath, opts: StageOptions): Promise<{ staged: StagedPackage; resolved: Map<RootPath, RootPath> } | undefined> {
  const staged = await opts.ahead?.take(a.path, dir);
  if (staged === undefined) return undefined;
  // Where a staging writes, as stageOne: the same crash point.
  opts.crash.tick();
  return { staged, resolved: await probe.resolveAll(staged) };
}

/** Archives staged at once: two keep both of a two-core machine's cores busy (the decoders run apart). */
const LANES = 2;
/**
 * ... and where every member is decoded on its lane's worker thread (a bootstrap): that thread waits while
 * this one takes in each batch it made, so a third lane fills the time. A bootstrap's extraction, 8
 * alternated pairs: 1.24 -> 1.21 s median, the bootstrap 4.50 -> 4.35 s (quicker in 7). A lane costs a
 * decoder's dictionary (8 MiB) more, which is why unpack's default (memory bound) keeps two.
 */
const LANES_DECODING = 3;

/**
 * After the maintainer scripts that run before the files: each archive whose files were claimed as laid
 * (laid-files.ts) and no longer are as laid is staged from its archive after all, into its own folder.
 * `installs` are the requests of stageArchives (in any order), their paths resolved again.
 */
export async function restageChanged(
  installs: readonly InstallRequest[],
  archives: readonly ReadArchive[],
  probe: Probe,
  stagingDir: HostPath,
  opts: StageOptions,
): Promise<void> {
  const laid = opts.laid;
  if (laid === undefined) return;
  for (const install of installs) {
    if (!laid.isClaim(install.staged) || (await laid.holds(install.staged, install.resolved, probe))) continue;
    const i = archives.findIndex((a) => a.path === install.staged.archive);
    const fresh = await stageOne(archives[i], probe, hostJoin(stagingDir, String(i)), opts.maxMembers ?? DEFAULT_MAX_MEMBERS, opts);
    // The same package object (the scripts' flows hold it): only its files change.
    install.staged.entries = fresh.staged.entries;
    install.staged.bytes = fresh.staged.bytes;
    install.resolved = fresh.resolved;
  }
}

/**
 * The installed version's regular files by path (what staging may leave unwritten), if it has rows: found
 * through a PathIndex over its rows, not a Map of them (116,010 rows: a table of 3.5 MiB, and every row
 * kept as an object while staging).
 */
function installedFiles(old: InstalledPackage | undefined): InstalledLookup | undefined {
  if (old === undefined || old.status === 'config-files' || old.files.length === 0) return undefined;
  const rows = old.files;
  const index = new PathIndex(rows.length, (i) => pathOfRow(rows, i));
  return {
    size: rows.length,
    get(p: RootPath): InstalledFile | undefined {
      const i = index.find(p);
      const f = i < 0 ? undefined : rows.at(i);
      return f !== undefined && f.type === 'file' && !f.conffile && f.sha256 !== undefined ? f : undefined;
    },
  };
}

/**
 * After planning: each file the plan places whose content staging left unwritten (identical to the
 * installed file at its path, which the plan normally leaves alone; here the root's copy differed, or the
 * path landed elsewhere) is staged now from its archive, into a folder of its own beside the archive's, so
 * that every placement has its content before the first step runs.
 */
export async function stagePlaced(
  plan: Plan,
  installs: readonly InstallRequest[],
  stagingDir: HostPath,
  opts: StageOptions,
): Promise<void> {
  // By install: the manifest index of each entry to stage, with the plan's objects of it.
  const wanted = installs.map(() => new Map<number, ManifestEntry[]>());
  const want = (install: number, index: number, e?: ManifestEntry): void => {
    let objects = wanted[install].get(index);
    if (objects === undefined) wanted[install].set(index, (objects = []));
    if (e !== undefined) objects.push(e);
  };
  // The plan's own step objects of entries without content, by shipped path (few: see stageArchive).
  const stepObjects = new Map<RootPath, ManifestEntry[]>();
  for (const s of plan.steps) {
    if (s.kind === 'place-files') {
      // Runs of fresh files included: an unwritten member whose installed copy is gone from the root is
      // fresh. Their steps are made from the manifest when they run, so the manifest is what changes.
      const install = installs.findIndex((r) => r.staged.entries === s.entries);
      for (let k = s.from; k < s.to; k++) if (lacksContent(s.entries.at(k))) want(install, k);
    } else if (s.kind === 'place-file' && lacksContent(s.entry)) {
      const objects = stepObjects.get(s.entry.path);
      if (objects === undefined) stepObjects.set(s.entry.path, [s.entry]);
      else objects.push(s.entry);
    }
  }
  // Each to the archive that ships its entry (two of one transaction may ship a path: told apart by content).
  for (let i = 0; i < installs.length && stepObjects.size > 0; i++) {
    const m = installs[i].staged.entries;
    for (let k = 0; k < m.length; k++) {
      const e = m.at(k);
      const objects = stepObjects.get(e.path);
      if (objects === undefined || !lacksContent(e)) continue;
      const mine = objects.filter((o) => sameContent(e, o));
      for (const o of mine) want(i, k, o);
      const left = objects.filter((o) => !mine.includes(o));
      if (left.length === 0) stepObjects.delete(e.path);
      else stepObjects.set(e.path, left);
    }
  }
  const [unplaced] = stepObjects.keys();
  if (unplaced !== undefined) throw new OvermergeError('E_INTERNAL', `no archive of the transaction ships '${unplaced}' as planned`, { op: 'stage', path: unplaced });
  for (let i = 0; i < installs.length; i++) {
    if (wanted[i].size === 0) continue;
    const dir = hostJoin(stagingDir, `late-${i}`);
    await makePrivateDirectory(dir, 'create staging folder');
    await stageLate(installs[i].staged.archive, dir, installs[i].staged.entries, wanted[i], opts.asRoot);
    opts.crash.tick();
  }
}

/** A regular file the plan places whose content is in no staging folder. */
function lacksContent(e: ManifestEntry): boolean {
  return e.type === 'file' && !e.claimsExisting && !e.filtered && stagedContent(e) === undefined;
}

/**
 * The same member, told apart from another archive's member at the same path (two packages of one
 * transaction may ship a path, one replacing the other) by what staging it would write.
 */
function sameContent(a: ManifestEntry, b: ManifestEntry): boolean {
  return a.sha256 === b.sha256 && a.size === b.size && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.mtime === b.mtime;
}

/** One archive's data staged into `dir` (measured, without it), and where its members land. */
async function stageOne(
  a: ReadArchive,
  probe: Probe,
  dir: HostPath | undefined,
  membersLeft: number,
  opts: StageOptions & { installed?: InstalledLookup; writes?: FileWrites },
): Promise<{ staged: StagedPackage; resolved: Map<RootPath, RootPath> }> {
  const memberLimit = opts.maxMembers ?? DEFAULT_MAX_MEMBERS;
  // Without Installed-Size the free space is the only bound on what the archive may unpack.
  const freeBytes = a.limit === undefined ? await freeSpace(probe.root.host) : undefined;
  const cadence = new GarbageCadence();
  const staged = await stageArchive(a.path, a.control, dir, {
    asRoot: opts.asRoot,
    maxBytes: a.limit,
    freeBytes,
    members: { left: membersLeft, limit: memberLimit },
    pathFilters: opts.pathFilters,
    onMember: () => cadence.tick(),
    installed: opts.installed,
    writes: opts.writes,
    // A preview reads the archive itself: what was decoded ahead is for the staging that writes.
    ahead: dir === undefined ? undefined : opts.ahead?.decoded,
    xzInProcess: opts.xzInProcess,
  });
  // A crash point only where something was written: a preview (no folder) comes before any transaction.
  if (dir !== undefined) opts.crash.tick();
  const resolved = await probe.resolveAll(staged);
  // What staging and resolving made per member is garbage now, before the probe makes its own.
  if (staged.entries.length >= LARGE_TRANSACTION) collectGarbage();
  // The archive's decoder and buffers are freed by now: let their pages go before the next one's.
  releaseFreedMemory();
  return { staged, resolved };
}
