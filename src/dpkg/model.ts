import type { Version } from '../control/version';
import type { ByteString } from './bytes';

/**
 * What dpkg keeps about one installed package instance (its `pkginfo` with the `installed` half), in the
 * words of lib/dpkg/pkg-namevalue.c. The lists below are in dpkg's order: that order is meaningful
 * (`state <= config-files` means "no files of it are installed").
 */
export const WANTS = ['unknown', 'install', 'hold', 'deinstall', 'purge'] as const;
export const EFLAGS = ['ok', 'reinstreq'] as const;
export const STATES = [
  'not-installed',
  'config-files',
  'half-installed',
  'unpacked',
  'half-configured',
  'triggers-awaited',
  'triggers-pending',
  'installed',
] as const;
export const MULTI_ARCHS = ['no', 'same', 'allowed', 'foreign'] as const;
/**
 * The priorities dpkg knows by name. Its table also lists 'unknown', but after a gap its lookup never
 * reaches (the table is indexed by value and 'other' has none), so 'unknown' is read as any other word
 * and written back as spelled.
 */
export const PRIORITIES = ['required', 'important', 'standard', 'optional', 'extra'] as const;

export type Want = (typeof WANTS)[number];
export type EFlag = (typeof EFLAGS)[number];
export type PkgState = (typeof STATES)[number];
export type MultiArch = (typeof MULTI_ARCHS)[number];

/** The three words of the Status field: what is wanted, the error flag, the current state. */
export interface StatusTriple {
  readonly want: Want;
  readonly flag: EFlag;
  readonly state: PkgState;
}

export function stateIndex(state: PkgState): number {
  return STATES.indexOf(state);
}

/** One line of the Conffiles field: `path hash [obsolete] [remove-on-upgrade]`. */
export interface Conffile {
  readonly path: ByteString;
  /** An MD5 in hex, or dpkg's placeholders `newconffile` (not yet configured) and `-` (empty hash). */
  readonly hash: ByteString;
  readonly obsolete: boolean;
  readonly removeOnUpgrade: boolean;
}

/** The single-valued text fields dpkg stores verbatim (`f_charfield`). */
export const CHAR_FIELDS = ['Installed-Size', 'Origin', 'Maintainer', 'Bugs', 'Source', 'Description'] as const;
export type CharField = (typeof CHAR_FIELDS)[number];

/** The relation fields, in the order dpkg writes them (lib/dpkg/parse.c fieldinfos). */
export const DEP_FIELDS = ['Replaces', 'Provides', 'Depends', 'Pre-Depends', 'Recommends', 'Suggests', 'Breaks', 'Conflicts', 'Enhances'] as const;
export type DepField = (typeof DEP_FIELDS)[number];

/**
 * One package instance as read from (or to be written to) status or an update entry. Byte strings
 * throughout: this is the database's own representation, converted for the engine in dpkg-db.ts.
 */
export interface PkgEntry {
  /** Lower case, as dpkg folds it. */
  readonly name: ByteString;
  /** '' when the stanza has none (only for not-installed / half-installed packages, or very old ones). */
  readonly arch: ByteString;
  readonly multiArch: MultiArch;
  readonly status: StatusTriple;
  readonly essential: boolean;
  readonly protected: boolean;
  /** A known priority in dpkg's spelling, or another word as written. */
  readonly priority?: ByteString;
  readonly section?: ByteString;
  readonly text: Readonly<Partial<Record<CharField, ByteString>>>;
  readonly version?: Version;
  /** Explicit Config-Version, or (installed, triggers-pending) the Version, as dpkg fills it in on reading. */
  readonly configVersion?: Version;
  /** Each relation field in dpkg's written form (`a (>= 1) | b, c:any`), checked when read. */
  readonly depends: Readonly<Partial<Record<DepField, ByteString>>>;
  readonly conffiles: readonly Conffile[];
  readonly triggersPending: readonly ByteString[];
  readonly triggersAwaited: readonly ByteString[];
  /** Fields dpkg does not know, with their names as written and raw values, in their order. */
  readonly arbitrary: readonly (readonly [ByteString, ByteString])[];
  /**
   * The stanza's text as it was read, when dpkg would keep every bit of it (nothing was normalised on
   * reading). Written back as is, so an untouched package stays byte-identical even if its text is not in
   * dpkg's canonical form.
   */
  readonly raw?: ByteString;
}

/** An instance's identity in the database: its name and architecture ('' when it has none). */
export interface PkgKey {
  readonly name: string;
  readonly arch: string;
}

export function keyString(name: string, arch: string): string {
  return `${name}:${arch}`;
}
