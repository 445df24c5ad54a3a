import * as fs from 'node:fs';
import type { Db } from '../db/db';
import { openDatabase } from '../db/open';
import { OvermergeError } from '../errors';
import type { BlobStore } from '../fs/blob-store';
import { ensureFoldersSync } from '../fs/entries';
import { hostJoin, resolveHostPath, type HostPath } from '../fs/host-path';
import type { Lock } from '../fs/lock';
import { fsyncFoldersUpSync } from '../fs/sync';
import { hostPath, openRoot, parseRootPath, type Root } from '../fs/rootpath';
import type { DpkgDb } from '../dpkg/dpkg-db';
import { ADMIN_DIR } from './admin-dir';
import { boundMemory, type HeapPolicy } from './memory-bounds';

/* eslint-disable @typescript-eslint/no-require-imports */
// dpkg's database, the locks and the backup store are loaded by the writers that use them: a reading
// command (`overmerge list`) starts without them (a third of its module loading).

/** The writer lock's file in the admin folder (an fcntl lock on it; the file itself stays, empty). */
const LOCK_FILE = 'lock';

export interface Locations {
  root: Root;
  /** Host path of ROOT/var/lib/overmerge. */
  adminDir: HostPath;
  dbFile: HostPath;
  /** Where transactions stage archives (one subfolder each). */
  stagingBase: HostPath;
  /**
   * dpkg's database, kept in step with overmerge's: --admindir, or ROOT/var/lib/dpkg when the root has
   * that folder (a Debian root); undefined for a root without one (overmerge's own database only).
   */
  dpkgAdmin?: HostPath;
}

export interface LocationArgs {
  root: string;
  db?: string;
  staging?: string;
  admindir?: string;
}

export async function locate(args: LocationArgs): Promise<Locations> {
  const root = await openRoot(args.root);
  const adminDir = hostPath(root, parseRootPath(`/${ADMIN_DIR}`));
  return {
    root,
    adminDir,
    dbFile: args.db !== undefined ? resolveHostPath(args.db) : hostJoin(adminDir, 'db.sqlite'),
    stagingBase: args.staging !== undefined ? resolveHostPath(args.staging) : hostJoin(adminDir, 'staging'),
    dpkgAdmin: args.admindir !== undefined ? resolveHostPath(args.admindir) : existingFolder(hostPath(root, parseRootPath('/var/lib/dpkg'))),
  };
}

function existingFolder(p: HostPath): HostPath | undefined {
  return fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ? p : undefined;
}

/** A database for a reading command, or undefined when nothing was ever installed (nothing is created). */
export function openForReading(loc: Locations): Db | undefined {
  if (!fs.existsSync(loc.dbFile)) return undefined;
  return openDatabase(loc.dbFile, { readonly: true });
}

export interface Writer {
  loc: Locations;
  db: Db;
  /** dpkg's database, opened under dpkg's locks, when the root has one (Locations.dpkgAdmin). */
  dpkg?: DpkgDb;
  /** Releases the locks and closes the databases. */
  close(): void;
}

/**
 * Opens a root for writing: the writer lock first (one writer per root), then the database. The admin
 * folder is created inside the root; a root whose admin path is a symlink is refused, so the lock and the
 * database can never land outside it. The lock is the kernel's: whatever ends this process (an error, a
 * signal, kill -9) releases it, so nothing here has to on exit.
 */
export async function openForWriting(args: LocationArgs & { lockWait: number; heap?: HeapPolicy }): Promise<Writer> {
  const { releaseLocks, takeDpkgLocks } = require('../dpkg/locks') as typeof import('../dpkg/locks');
  const { acquireLock } = require('../fs/lock') as typeof import('../fs/lock');
  const { DpkgDb } = require('../dpkg/dpkg-db') as typeof import('../dpkg/dpkg-db');
  // Before any archive is decoded: malloc's arenas are made as threads first allocate.
  boundMemory(args.heap);
  const loc = await locate(args);
  ensureAdminDir(loc);
  // dpkg's locks first, as apt and dpkg take them, then overmerge's own: one order for every writer.
  const locks: Lock[] = loc.dpkgAdmin ? await takeDpkgLocks(loc.dpkgAdmin, args.lockWait) : [];
  let db: Db | undefined;
  let dpkg: DpkgDb | undefined;
  try {
    locks.push(await acquireLock(hostJoin(loc.adminDir, LOCK_FILE), { waitSeconds: args.lockWait, label: loc.root.host }));
    db = openDatabase(loc.dbFile);
    if (loc.dpkgAdmin) dpkg = DpkgDb.open(loc.dpkgAdmin, { exclusive: true });
  } catch (err) {
    db?.close();
    releaseLocks(locks);
    throw err;
  }
  const opened = db;
  return {
    loc,
    db: opened,
    dpkg,
    close() {
      opened.close();
      dpkg?.close();
      releaseLocks(locks);
    },
  };
}

function ensureAdminDir(loc: Locations): void {
  const fresh = !fs.existsSync(loc.adminDir);
  // 0755 whatever the umask: a package's /var and /var/lib find these existing and leave them as they are.
  ensureFoldersSync(loc.root.host, ADMIN_DIR.split('/'), 0o755, (dir) =>
    new OvermergeError('E_UNSAFE_PATH', `${dir} is not a directory; refusing to use it as overmerge's admin folder`, {
      op: 'open root',
      path: dir,
    }),
  );
  // A new root's admin folder durable before the database in it commits anything: a small transaction
  // syncs only what its steps touched (transaction.ts), not the whole filesystem.
  if (fresh) fsyncFoldersUpSync(loc.adminDir, loc.root.host);
}

/**
 * Ends a writing command: dpkg's update entries folded into its status file (apt reads status alone, and
 * refuses to run while updates/ holds entries), then the locks released and the databases closed. With
 * no entry to fold in, status is left as it is: a command that changed nothing (refused, say) writes
 * nothing — on an overlay root it does not even copy status up.
 */
export function closeWriter(w: Writer): void {
  try {
    if (w.dpkg) {
      w.dpkg.refresh();
      if (w.dpkg.pendingUpdates > 0) w.dpkg.checkpoint();
    }
  } finally {
    w.close();
  }
}

/** Where `--keep-backups` keeps replaced contents, by hash. */
export function blobStore(loc: Locations): BlobStore {
  const { BlobStore } = require('../fs/blob-store') as typeof import('../fs/blob-store');
  return new BlobStore(hostJoin(loc.adminDir, 'backups'));
}
