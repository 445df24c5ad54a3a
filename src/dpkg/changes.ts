import type { InfoState } from './info-files';
import type { MultiArch } from './model';

/**
 * What each change to dpkg's database is, as plain JSON data: the engine journals a change (its intent)
 * before applying it, and its undo is the same data read the other way. Applying either side twice is
 * the same as applying it once, so recovery may repeat whichever step it was in.
 *
 * Byte strings (one character per byte, see bytes.ts) hold the stanzas and files: JSON keeps them intact.
 */
export type DbChange = PackageChange | InfoChange | FileChange | TriggersChange;

/**
 * What undoing a change needs: the change without its `after`. The journal keeps only this much (an
 * install's info files and file lists are most of a `after`: 3.4 MB of a bootstrap's journal).
 */
export type Reversal = Omit<PackageChange, 'after'> | Omit<InfoChange, 'after'> | Omit<FileChange, 'after'> | Omit<TriggersChange, 'after'>;

/** `change` without its `after`. Pure. */
export function reversalOf(change: DbChange): Reversal {
  const { after: _after, ...reversal } = change;
  return reversal;
}

/** One package instance's stanza: `after` is written as an update entry; undo writes `before`. */
export interface PackageChange {
  readonly kind: 'package';
  readonly name: string;
  readonly arch: string;
  readonly multiArch: MultiArch;
  /**
   * The stanza of the instance the new one replaces (another architecture for a cross-grade), or null
   * when there was none: then the undo writes dpkg's "forget it" stanza (`unknown ok not-installed`),
   * which leaves nothing at the next checkpoint.
   */
  readonly before: string | null;
  readonly after: string;
}

/** Files of info/: the complete content of every name touched, before and after. */
export interface InfoChange {
  readonly kind: 'info';
  readonly before: InfoState;
  readonly after: InfoState;
}

/** A whole-file database (diversions, statoverride), replaced as dpkg-divert / dpkg-statoverride do. */
export interface FileChange {
  readonly kind: 'file';
  readonly file: 'diversions' | 'statoverride';
  /** The previous bytes (byte string), or null when the file did not exist. */
  readonly before: string | null;
  readonly after: string;
}

/**
 * Files of triggers/ (File, Unincorp, an explicit trigger's interest file): the bytes of every name
 * touched, before and after, null where there is no file. dpkg deletes an interest file left without lines.
 */
export interface TriggersChange {
  readonly kind: 'triggers';
  readonly before: Readonly<Record<string, string | null>>;
  readonly after: Readonly<Record<string, string | null>>;
}
