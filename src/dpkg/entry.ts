import type { ByteString } from './bytes';
import { blankDraft, EntryError, FIELD_READERS, FieldContext, type Draft } from './field-readers';
import { stateIndex, type PkgEntry } from './model';
import type { RawStanza, StanzaProblem } from './stanza';

/**
 * One stanza of status or of an update entry read into a PkgEntry, with the checks and the quiet repairs
 * dpkg makes on reading (lib/dpkg/parse.c pkg_parse_field + pkg_parse_verify, fields.c). Pure.
 *
 * `kind` matters as it does to dpkg: a not-installed selection without architecture is dropped when it comes
 * from status only. Errors are `EntryError`s with the line; warnings are returned.
 */
export type StanzaKind = 'status' | 'update';

export { EntryError };

export interface ReadEntry {
  readonly entry: PkgEntry;
  readonly warnings: StanzaProblem[];
}

export function readEntry(stanza: RawStanza, kind: StanzaKind): ReadEntry {
  const warnings: StanzaProblem[] = stanza.warnings.length > 0 ? [...stanza.warnings] : [];
  const d = blankDraft();
  const seen = new Set<string>();
  const ctx = new FieldContext(warnings);
  for (const field of stanza.fields) {
    const lower = field.name.toLowerCase();
    ctx.line = field.line;
    ctx.fieldName = field.name;
    const reader = FIELD_READERS.get(lower);
    if (seen.has(lower)) {
      throw new EntryError(field.line, reader ? `duplicate value for '${field.name}' field` : `duplicate value for user-defined field '${field.name}'`);
    }
    seen.add(lower);
    // dpkg hands values (and writes names) on as C strings: whatever follows a NUL byte is lost.
    const value = cutAtNul(field.value);
    if (reader) {
      reader(d, value, ctx);
    } else {
      if (field.name.length < 2) throw new EntryError(field.line, `user-defined field name '${field.name}' too short`);
      d.arbitrary.push([cutAtNul(field.name), value]);
    }
  }
  const normalised = verify(d, kind, stanza.line, warnings);
  // A stanza ended by ^Z instead of a newline, or cut by a NUL, cannot be written back as it stands:
  // dpkg's form it is.
  const keepsText = !normalised && stanza.text.endsWith('\n') && !/[\x00\x1a]/.test(stanza.text);
  return { entry: finish(d, keepsText ? stanza.text : undefined), warnings };
}

function cutAtNul(s: ByteString): ByteString {
  const nul = s.indexOf('\0');
  return nul < 0 ? s : (s.slice(0, nul) as ByteString);
}

/** A package known only by name, in dpkg's blank state (what a selection or a new name starts from). */
export function blankEntry(name: ByteString): PkgEntry {
  return finish({ ...blankDraft(), name }, undefined);
}

function finish(d: Draft, raw: ByteString | undefined): PkgEntry {
  const { hasArch: _a, explicitConfigVersion: _c, ...entry } = d;
  return raw === undefined ? entry : { ...entry, raw };
}

/**
 * pkg_parse_verify: refuses what would break the database, and repairs what dpkg repairs silently.
 * Returns whether anything was repaired (then the stanza's text no longer says what dpkg would write).
 */
function verify(d: Draft, kind: StanzaKind, line: number, warnings: StanzaProblem[]): boolean {
  const fail = (problem: string): never => {
    throw new EntryError(line, problem);
  };
  const warn = (message: string): void => {
    warnings.push({ line, message });
  };
  const state = stateIndex(d.status.state);
  if (d.name === '') fail(`missing 'Package' field`);
  if (d.status.state !== 'not-installed' && d.status.state !== 'half-installed') {
    if (d.text.Description === undefined) warn(`missing 'Description' field`);
    if (d.text.Maintainer === undefined) warn(`missing 'Maintainer' field`);
    if (d.version === undefined) fail(`missing 'Version' field`);
  }
  if (state > stateIndex('half-installed')) {
    if (!d.hasArch) warn(`missing 'Architecture' field`);
    else if (d.arch === '') warn(`empty value for 'Architecture' field`);
  }
  if (d.multiArch === 'same' && d.arch === '') fail(`package has 'Multi-Arch: same' field but is missing architecture`);
  if (d.multiArch === 'same' && d.arch === 'all') fail(`package has 'Multi-Arch: same' field but is architecture 'all'`);

  const configured = d.status.state === 'installed' || d.status.state === 'triggers-pending';
  if (d.explicitConfigVersion) {
    if (configured || d.status.state === 'not-installed') fail(`'Config-Version' field present for package with inappropriate 'Status' field`);
  } else if (configured) {
    d.configVersion = d.version;
  }

  if (d.triggersAwaited.length > 0 && (state <= stateIndex('config-files') || state >= stateIndex('triggers-pending'))) {
    fail(`package has status ${d.status.state} but triggers are awaited`);
  } else if (d.status.state === 'triggers-awaited' && d.triggersAwaited.length === 0) {
    fail(`package has status triggers-awaited but no triggers awaited`);
  }
  if (d.triggersPending.length > 0 && d.status.state !== 'triggers-pending' && d.status.state !== 'triggers-awaited') {
    fail(`package has status ${d.status.state} but triggers are pending`);
  } else if (d.status.state === 'triggers-pending' && d.triggersPending.length === 0) {
    fail(`package has status triggers-pending but no triggers pending`);
  }
  return repair(d, kind, warn);
}

/** The repairs of pkg_parse_verify, in its order. */
function repair(d: Draft, kind: StanzaKind, warn: (m: string) => void): boolean {
  let repaired = false;
  const notInstalledOk = d.status.state === 'not-installed' && d.status.flag === 'ok';
  if (d.status.state === 'not-installed' && d.conffiles.length > 0) {
    warn(`package has status not-installed and has conffiles, forgetting them`);
    d.conffiles = [];
    repaired = true;
  }
  // A removed or purged package that is gone is forgotten: its selection is reset.
  if (notInstalledOk && (d.status.want === 'purge' || d.status.want === 'deinstall')) {
    d.status = { ...d.status, want: 'unknown' };
    repaired = true;
  }
  // A selection without architecture cannot be told apart from the multiarch instances: dropped.
  if (kind === 'status' && notInstalledOk && d.status.want === 'install' && d.arch === '') {
    d.status = { ...d.status, want: 'unknown' };
    repaired = true;
  }
  if (notInstalledOk && d.status.want === 'unknown' && blankBinary(d)) repaired = true;
  return repaired;
}

/** pkgbin_blank: forgets what a package that is not there at all still had. Whether anything was there. */
function blankBinary(d: Draft): boolean {
  const had =
    d.essential ||
    d.protected ||
    Object.keys(d.depends).length > 0 ||
    Object.keys(d.text).length > 0 ||
    d.version !== undefined ||
    d.conffiles.length > 0 ||
    d.arbitrary.length > 0;
  d.essential = false;
  d.protected = false;
  d.depends = {};
  d.text = {};
  d.version = undefined;
  d.conffiles = [];
  d.arbitrary = [];
  return had;
}

/** Whether dpkg writes this instance into status at all (lib/dpkg/pkg.c pkg_is_informative). */
export function isInformative(e: PkgEntry): boolean {
  const s = e.status;
  if (s.want !== 'unknown' || s.flag !== 'ok' || s.state !== 'not-installed' || e.configVersion !== undefined) return true;
  return (
    Object.keys(e.depends).length > 0 ||
    Object.keys(e.text).length > 0 ||
    e.version !== undefined ||
    e.conffiles.length > 0 ||
    e.arbitrary.length > 0
  );
}
