import { atomicWrite, type DeferredSyncs } from '../fs/atomic-file';
import { ensureAdminDir, MAX_UPDATES, statusPath, UPDATE_NAME_DIGITS, updatesPath, type AdminDir } from './admindir';
import { byteString, bytesOf, type ByteString } from './bytes';
import { stanzaText } from './dump';
import { isInformative } from './entry';
import { identityOf, sameIdentity, type Identity } from './identity';
import { keyString, type PkgEntry } from './model';
import { PackageTable } from './package-table';
import { formatStatus, loadStatus, loadUpdate, type Warning } from './status-file';
import { pin, readTracked, recheckDir, release, UNPINNED, type Pinned } from './tracked';
import { listUpdates, removeUpdates, writeUpdate } from './updates';

/**
 * The package half of dpkg's database: `status` plus the entries of `updates/`, held as one table in
 * memory, kept in step with the disk cheaply, and written the way dpkg writes it. Not thread-safe and
 * not locked: the engine holds dpkg's locks while it writes (see admindir.ts).
 */
export interface RefreshOutcome {
  /** status itself changed (dpkg or apt checkpointed): everything was read again. */
  readonly reloaded: boolean;
  /** Update entries read (all of them after a reload, else only new ones). */
  readonly updatesRead: number;
  /** `name:arch` of every instance whose stanza changed, appeared or went. */
  readonly changed: string[];
}

export interface CheckpointOutcome {
  readonly statusBytes: number;
  readonly updatesRemoved: number;
}

export class PackageStore {
  table: PackageTable;
  warnings: Warning[] = [];
  private status: Pinned = UNPINNED;
  /** Names of the update entries the table holds, in order (ours included). */
  private applied: string[] = [];
  private updatesDir: Identity | null = null;

  /** `exclusive`: held under dpkg's lock, the only writer of updates/ (see DpkgDbOptions.exclusive). */
  constructor(
    private readonly admin: AdminDir,
    private readonly nativeArch: string,
    private readonly exclusive = false,
  ) {
    this.table = new PackageTable(nativeArch);
    this.reload();
  }

  /** Lets go of the status file held open. The store must not be used afterwards. */
  close(): void {
    release(this.status);
    this.status = UNPINNED;
  }

  /** Update entries not yet incorporated into status. */
  get pendingUpdates(): number {
    return this.applied.length;
  }

  /** Reads status and every update entry again, as dpkg does when it opens the database. */
  reload(): number {
    const updatesDir = identityOf(updatesPath(this.admin));
    const { pinned, bytes } = pin(statusPath(this.admin), true);
    const table = new PackageTable(this.nativeArch);
    const warnings: Warning[] = [];
    const applied: string[] = [];
    try {
      warnings.push(...loadStatus(table, byteString(bytes ?? Buffer.alloc(0)), statusPath(this.admin)));
      for (const { name } of listUpdates(this.admin)) {
        this.applyUpdateFile(table, name, warnings);
        applied.push(name);
      }
    } catch (err) {
      release(pinned);
      throw err;
    }
    this.table = table;
    release(this.status);
    this.status = pinned;
    this.applied = applied;
    this.updatesDir = updatesDir;
    this.warnings = warnings;
    return applied.length;
  }

  /** Picks up what changed on disk since we last looked; a few stats when nothing did. */
  refresh(): RefreshOutcome {
    const before = this.table;
    // status is pinned (tracked.ts): its identity alone tells whether it changed. A changed status is
    // kept only once it has been read successfully: one that fails to read must go on failing (and
    // never be checkpointed over).
    if (!sameIdentity(this.status.id, identityOf(statusPath(this.admin)))) {
      return { reloaded: true, updatesRead: this.reload(), changed: diff(before, this.table) };
    }
    const dir = recheckDir(this.updatesDir, updatesPath(this.admin));
    if (!dir.changed || (this.exclusive && sameIdentity(this.updatesDir, dir.now))) return { reloaded: false, updatesRead: 0, changed: [] };
    const names = listUpdates(this.admin).map((u) => u.name);
    if (!this.stillApplied(names)) return { reloaded: true, updatesRead: this.reload(), changed: diff(before, this.table) };
    const fresh = names.slice(this.applied.length);
    if (fresh.length === 0) {
      this.updatesDir = dir.now;
      return { reloaded: false, updatesRead: 0, changed: [] };
    }
    // Only new entries (after ours, in name order): applied on a copy, so that a bad one changes nothing.
    const table = this.table.clone();
    const touched = new Set<string>();
    for (const name of fresh) this.applyUpdateFile(table, name, this.warnings, touched);
    this.table = table;
    this.applied.push(...fresh);
    this.updatesDir = dir.now;
    return { reloaded: false, updatesRead: fresh.length, changed: diff(before, table, touched) };
  }

  /**
   * Writes one instance's stanza as the next update entry and holds `entry` for it in memory (as dpkg
   * holds what it has just written). Checkpoints when dpkg would: after more than 250 entries (durably
   * at once, `defer` or not: the status file then holds the entries it removes).
   */
  write(entry: PkgEntry, text: ByteString, defer?: DeferredSyncs): void {
    this.writeMany([{ entry, text }], defer);
  }

  /**
   * Several instances' stanzas as one update entry, in order (dpkg's reader applies every stanza an
   * entry holds, lib/dpkg/dbmodify.c): they become durable together, with one file's two fsyncs.
   */
  writeMany(stanzas: ReadonlyArray<{ entry: PkgEntry; text: ByteString }>, defer?: DeferredSyncs): void {
    if (stanzas.length === 0) return;
    const number = this.nextUpdateNumber();
    const text = stanzas.map((s) => s.text).join('\n');
    const name = writeUpdate(this.admin, number, bytesOf(text as ByteString), defer);
    this.applied.push(name);
    this.updatesDir = identityOf(updatesPath(this.admin));
    for (const s of stanzas) this.table.replace(s.entry);
    if (number + 1 > MAX_UPDATES) this.checkpoint();
  }

  /**
   * dpkg's checkpoint: status rewritten from memory (status-new, fsync, status-old, rename, fsync of the
   * directory), then the update entries removed. The caller refreshes first so that nothing written
   * behind our back is lost.
   */
  checkpoint(): CheckpointOutcome {
    const text = formatStatus(this.table);
    const file = statusPath(this.admin);
    ensureAdminDir(this.admin);
    const bytes = bytesOf(text);
    atomicWrite(file, bytes, { backup: true });
    const removed = this.applied;
    removeUpdates(this.admin, removed);
    for (const e of this.table.sorted()) if (!isInformative(e)) this.table.delete(e.name, e.arch);
    release(this.status);
    this.status = pin(file, false).pinned;
    this.applied = [];
    this.updatesDir = identityOf(updatesPath(this.admin));
    return { statusBytes: bytes.length, updatesRemoved: removed.length };
  }

  private applyUpdateFile(table: PackageTable, name: string, warnings: Warning[], touched?: Set<string>): void {
    const file = updatesPath(this.admin, name);
    const tracked = readTracked(file);
    // Listed a moment ago and gone now: a checkpoint ran meanwhile; the caller sees status change next.
    if (tracked.bytes === null) return;
    const { landed, warnings: ws } = loadUpdate(table, byteString(tracked.bytes), file);
    warnings.push(...ws);
    for (const { stored, replaced } of landed) for (const e of [stored, replaced]) if (e) touched?.add(keyString(e.name, e.arch));
  }

  /**
   * Whether every entry applied so far is still there and first in `names`. Names suffice: an entry is
   * never rewritten under its name (dpkg incorporates all of them, rewriting status, before it writes
   * any of its own), so a removed or replaced entry always comes with a new status.
   */
  private stillApplied(names: string[]): boolean {
    return this.applied.every((name, i) => names[i] === name);
  }

  /**
   * The number of the next entry. Entries left by someone else are continued (a reader applies all in
   * name order, ours last); names that are not dpkg's four digits, or a run that would outgrow them, are
   * incorporated first, as dpkg incorporates every entry when it opens the database for writing.
   */
  private nextUpdateNumber(): number {
    if (this.applied.length === 0) return 0;
    const last = this.applied[this.applied.length - 1];
    const ok = this.applied.every((name) => name.length === UPDATE_NAME_DIGITS) && Number(last) + 1 < 10 ** UPDATE_NAME_DIGITS;
    if (ok) return Number(last) + 1;
    this.checkpoint();
    return 0;
  }
}

/** Keys of the instances whose stanza differs between two tables (among `only`, when given). */
function diff(a: PackageTable, b: PackageTable, only?: Set<string>): string[] {
  const texts = (t: PackageTable): Map<string, string> => {
    const entries = only ? [...only].map((k) => lookup(t, k)).filter((e): e is PkgEntry => e !== undefined) : t.sorted();
    return new Map(entries.filter(isInformative).map((e) => [keyString(e.name, e.arch), stanzaText(e)]));
  };
  const ta = texts(a);
  const tb = texts(b);
  const out = new Set<string>();
  for (const [k, v] of ta) if (tb.get(k) !== v) out.add(k);
  for (const k of tb.keys()) if (!ta.has(k)) out.add(k);
  return [...out].sort();
}

function lookup(t: PackageTable, key: string): PkgEntry | undefined {
  const colon = key.lastIndexOf(':');
  return t.get(key.slice(0, colon), key.slice(colon + 1));
}
