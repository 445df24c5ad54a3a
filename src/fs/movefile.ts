/**
 * movefile: every change the install engine makes to a root goes through here.
 *  - moveAside / restoreBackup / discardBackup: get an existing path out of the way and back, recoverable
 *    from any instant (overlayfs lower directories included, by a journaled copy-and-remove).
 *  - planPlace / place / undoPlace: put a staged entry at its target atomically (rename, copy, hardlink).
 *  - copyTree: the faithful copy both fall back to.
 *  - SyncBatch: durability paid once per journal record.
 * Handles and plans are plain JSON so that a new process can finish or undo them after a crash.
 */
export {
  planMoveAside,
  moveAside,
  restoreBackup,
  discardBackup,
  backupState,
  type BackupHandle,
  type BackupMethod,
  type BackupState,
  type MoveAsideOptions,
  type PlanMoveAsideOptions,
  type RecoverOptions,
} from './move-aside';
export {
  planPlace,
  place,
  preparePlace,
  commitPlace,
  undoPlace,
  type PlaceMode,
  type PlacePlan,
  type PlaceOptions,
  type PlaceResult,
  type PlaceMethod,
  type UndoPlaceOptions,
} from './place';
export { copyTree, copyEntry, type CopyOptions, type CopyResult } from './copytree';
export { sameEntry, sameMetadata, sameInode, kindOf, type EntryKind } from './metadata';
export { SyncBatch, fsyncFile, fsyncDir, syncFilesystem, type SyncBatchOptions } from './sync';
export { parseTempName, tempSibling, TEMP_PREFIX, type TempKind } from './tempname';
export { type StepHooks, type StepDetail } from './steps';
