import type { Paragraph } from '../control/paragraph';
import type { RootPath } from '../fs/rootpath';
import type { Manifest } from './manifest';

/** One archive (or anything shaped like one: a rollback's snapshot) staged for a transaction. */
export interface StagedPackage {
  /** Names the source in messages: the archive's path, or what stands for it. */
  archive: string;
  name: string;
  version: string;
  architecture: string;
  control: Paragraph;
  controlText: string;
  /** Regular files of control.tar (scripts, md5sums, conffiles, ...) by name. */
  controlFiles: Map<string, Buffer>;
  /** Shipped paths of the conffiles this version declares. */
  conffiles: RootPath[];
  /** Its members in archive order (manifest.ts: held as records, not objects). */
  entries: Manifest;
  /** Sum of staged regular file sizes, for the space check. */
  bytes: number;
  /** Its files were written and hashed on a worker thread (src/stage/native-tar.ts), not by the JavaScript reader. */
  byWorker?: true;
}
