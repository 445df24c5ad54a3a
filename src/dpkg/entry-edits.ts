import { parseVersion } from '../control/version';
import { fromText, type ByteString } from './bytes';
import { formatStanza } from './dump';
import { stateIndex, type MultiArch, type PkgEntry, type StatusTriple } from './model';

/**
 * The changes dpkg makes to one package's record, as pure functions of the record. Pure.
 */
export interface StatusOptions {
  /** Config-Version to record (null: none); default: keep what the instance has. */
  readonly configVersion?: string | null;
  readonly triggersPending?: readonly string[];
  readonly triggersAwaited?: readonly string[];
  /**
   * Section and Priority (default: keep). dpkg holds them per package, shared by the installed and the
   * available half, so a dpkg command that reads `available` (--set-selections) writes status with the
   * available file's classification.
   */
  readonly section?: string;
  readonly priority?: string;
}

/**
 * A new Status, as dpkg's modstatdb_note records it: pending triggers are dropped unless the state is
 * triggers-pending or triggers-awaited, awaited ones when the state is config-files or below. The
 * Config-Version is kept (dpkg fills it in from Version for installed packages, so an installed package
 * going back to unpacked shows the version it was configured at).
 */
export function withStatus(e: PkgEntry, status: StatusTriple, options: StatusOptions = {}): PkgEntry {
  const { raw: _raw, ...rest } = e;
  const configVersion =
    options.configVersion === undefined ? e.configVersion : options.configVersion === null ? undefined : parseVersion(options.configVersion);
  let triggersPending = (options.triggersPending ?? e.triggersPending).map(fromText);
  let triggersAwaited = (options.triggersAwaited ?? e.triggersAwaited).map(fromText);
  if (status.state !== 'triggers-pending' && status.state !== 'triggers-awaited') triggersPending = [];
  if (stateIndex(status.state) <= stateIndex('config-files')) triggersAwaited = [];
  const section = options.section === undefined ? e.section : fromText(options.section);
  const priority = options.priority === undefined ? e.priority : fromText(options.priority);
  return { ...rest, status, configVersion, triggersPending, triggersAwaited, section, priority };
}

/**
 * The end of a purge (src/main/remove.c): `unknown ok not-installed`, the binary part blanked, nothing
 * left but the name, architecture, Multi-Arch, Section and Priority. dpkg writes it as an update entry;
 * the next checkpoint leaves it out of status.
 */
export function forgotten(e: Pick<PkgEntry, 'name' | 'arch' | 'multiArch'> & Partial<Pick<PkgEntry, 'priority' | 'section'>>): PkgEntry {
  return {
    name: e.name,
    arch: e.arch,
    multiArch: e.multiArch,
    status: { want: 'unknown', flag: 'ok', state: 'not-installed' },
    essential: false,
    protected: false,
    priority: e.priority,
    section: e.section,
    text: {},
    depends: {},
    conffiles: [],
    triggersPending: [],
    triggersAwaited: [],
    arbitrary: [],
  };
}

/** The "forget it" stanza for an instance known only by its identity (the undo of its creation). */
export function forgetStanza(name: string, arch: string, multiArch: MultiArch): ByteString {
  return formatStanza(forgotten({ name: name as ByteString, arch: arch as ByteString, multiArch }));
}
