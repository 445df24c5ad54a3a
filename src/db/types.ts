import type { EntryType } from '../model/entry';
import type { ChangeAction } from '../model/package';

/**
 * The shapes the database hands out and accepts. Paths are root-relative strings (`usr/bin/x`, no leading
 * slash, no `.`/`..` segments, the root itself is ''); callers holding a branded RootPath pass it as is.
 * Timestamps are milliseconds since the epoch, except file mtimes, which are seconds as tar records them.
 */

/** dpkg's package states; overmerge uses a subset today but stores any of them. */
export type PackageStatus =
  | 'not-installed'
  | 'config-files'
  | 'half-installed'
  | 'unpacked'
  | 'half-configured'
  | 'triggers-awaited'
  | 'triggers-pending'
  | 'installed';

export const PACKAGE_STATUSES: readonly PackageStatus[] = [
  'not-installed',
  'config-files',
  'half-installed',
  'unpacked',
  'half-configured',
  'triggers-awaited',
  'triggers-pending',
  'installed',
];

export interface PackageInput {
  name: string;
  architecture: string;
  version: string;
  status: PackageStatus;
  /** The whole control paragraph as text, every field kept. */
  control: string;
  /** Installed-Size in KiB, as the control file states it. */
  installedSize?: number | null;
}

export interface PackageRow {
  id: number;
  name: string;
  architecture: string;
  version: string;
  status: PackageStatus;
  control: string;
  installedSize: number | null;
  /** When this name/architecture was first recorded. */
  installedAt: number;
  /** When the row last changed (version, status or control). */
  changedAt: number;
  /** The overmerge transaction that last changed the row. */
  txnId: number | null;
}

/** A row's type is an entry type: the model says what a file can be. */
export type FileType = EntryType;

export interface FileInput {
  path: string;
  type: FileType;
  /** Permission bits including setuid/setgid/sticky (07777); the type lives in `type`. */
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  /** Hex sha256 of a regular file's content. */
  sha256?: string | null;
  /** Hex md5 as dpkg's md5sums lists it. */
  md5?: string | null;
  /** Seconds since the epoch. */
  mtime?: number | null;
  /** Symlink target as stored in the archive, or the root path a hardlink points to. */
  linkTarget?: string | null;
  devMajor?: number | null;
  devMinor?: number | null;
  conffile?: boolean;
  /** The conffile's hash as the package shipped it (dpkg's Conffiles md5), to detect local edits. */
  conffileHash?: string | null;
}

export interface FileRow {
  id: number;
  packageId: number;
  path: string;
  type: FileType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sha256: string | null;
  md5: string | null;
  mtime: number | null;
  linkTarget: string | null;
  devMajor: number | null;
  devMinor: number | null;
  conffile: boolean;
  conffileHash: string | null;
}

/** One package owning one path, as the files table answers (the model's Owner adds the version). */
export interface OwnerRow {
  packageId: number;
  name: string;
  architecture: string;
  path: string;
  type: FileType;
}

/** What an overmerge transaction was started for. */
export type TxnKind = 'install' | 'remove' | 'purge' | 'rollback' | 'recover' | 'configure' | 'reconcile';

/**
 * open: running or crashed (needs `recover`); committed: the commit record is written; aborted: failed and
 * undone by the process that ran it; recovered-old / recovered-new: `recover` put the old state back or
 * finished the new one; rolled-back: a committed transaction later reverted by `rollback`.
 */
export type TxnState = 'open' | 'committed' | 'aborted' | 'recovered-old' | 'recovered-new' | 'rolled-back';

export const TXN_STATES: readonly TxnState[] = [
  'open',
  'committed',
  'aborted',
  'recovered-old',
  'recovered-new',
  'rolled-back',
];

export interface TxnRow {
  id: number;
  kind: TxnKind;
  /** The command's arguments as the user gave them (archive paths, package names). */
  args: string[];
  state: TxnState;
  startedAt: number;
  finishedAt: number | null;
  /** Whether the replaced content was kept in the backup store, so `rollback` can restore it. */
  backupsKept: boolean;
  /** The process that began the transaction. */
  pid: number | null;
  /** For rollback/recover: the transaction acted upon. */
  targetTxn: number | null;
  /** Why the transaction ended without committing, when it did. */
  error: string | null;
}

export interface BeginOptions {
  backupsKept?: boolean;
  targetTxn?: number | null;
  pid?: number;
}

export type PackageAction = ChangeAction;

export interface PackageChangeRow {
  txnId: number;
  seq: number;
  name: string;
  architecture: string;
  action: PackageAction;
  oldVersion: string | null;
  newVersion: string | null;
}

/**
 * The kind of a journal step: the name a step kind registers under (engine/steps/registry.ts). The column
 * is free text, so a new kind needs no migration.
 */
export type JournalKind = string;

export type StepState = 'intent' | 'done' | 'undone';

/**
 * A step's payload: paths, backup handles, whatever the step needs to undo or finish itself. Plain JSON,
 * opaque here: its shape is the business of the step kind named beside it (engine/steps/).
 */
export type JournalData = Record<string, unknown>;

export interface JournalStep {
  id: number;
  txnId: number;
  seq: number;
  kind: JournalKind;
  data: JournalData;
  state: StepState;
}

export interface StepInput {
  kind: JournalKind;
  /** Any JSON object; it comes back as JournalData. */
  data: object;
}

/** One piece of replaced content a transaction kept in the content-addressed backup store. */
export interface BackupRef {
  txnId: number;
  path: string;
  sha256: string;
  size: number;
}
