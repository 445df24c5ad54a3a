import { formatRelations, parseRelations } from '../control/relations';
import { checkVersion, type Version } from '../control/version';
import type { ByteString } from './bytes';
import { parseConffiles } from './conffiles-field';
import {
  CHAR_FIELDS,
  DEP_FIELDS,
  EFLAGS,
  MULTI_ARCHS,
  PRIORITIES,
  STATES,
  WANTS,
  stateIndex,
  type CharField,
  type Conffile,
  type DepField,
  type MultiArch,
  type PkgEntry,
  type StatusTriple,
} from './model';
import type { RawStanza, StanzaProblem } from './stanza';

/**
 * One stanza of status or of an update entry read into a PkgEntry, with the checks and the quiet repairs
 * dpkg makes on reading (lib/dpkg/parse.c pkg_parse_field + pkg_parse_verify, fields.c). Pure.
 *
 * `kind` matters as it does to dpkg: a not-installed selection without architecture is dropped when it comes
 * from status only. Errors are `EntryError`s with the line; warnings are returned.
 */
export type StanzaKind = 'status' | 'update';

export class EntryError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`);
  }
}

export interface ReadEntry {
  readonly entry: PkgEntry;
  readonly warnings: StanzaProblem[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Draft = Mutable<Omit<PkgEntry, 'text' | 'depends' | 'arbitrary'>> & {
  text: Partial<Record<CharField, ByteString>>;
  depends: Partial<Record<DepField, ByteString>>;
  arbitrary: Array<readonly [ByteString, ByteString]>;
  hasArch: boolean;
  explicitConfigVersion: boolean;
};

type FieldReader = (d: Draft, value: ByteString, ctx: FieldContext) => void;
/** The field being read, for messages. One object per stanza, moved from field to field. */
class FieldContext {
  line = 0;
  fieldName = '';
  constructor(private readonly warnings: StanzaProblem[]) {}
  warn(message: string): void {
    this.warnings.push({ line: this.line, message });
  }
}

/** The fields dpkg knows, by lower-case name (lib/dpkg/parse.c fieldinfos). */
const KNOWN: ReadonlyMap<string, FieldReader> = new Map<string, FieldReader>([
  ['package', readName],
  ['essential', (d, v, c) => (d.essential = readBoolean(v, c, d.essential))],
  ['protected', (d, v, c) => (d.protected = readBoolean(v, c, d.protected))],
  ['status', readStatus],
  ['priority', readPriority],
  ['section', (d, v) => v !== '' && (d.section = v)],
  ...CHAR_FIELDS.map((f): [string, FieldReader] => [f.toLowerCase(), (d, v) => v !== '' && (d.text[f] = v)]),
  ['architecture', (d, v) => ((d.arch = v), (d.hasArch = true))],
  ['multi-arch', readMultiArch],
  ['version', (d, v, c) => (d.version = readVersion(v, c))],
  ['config-version', (d, v, c) => ((d.configVersion = readVersion(v, c)), (d.explicitConfigVersion = true))],
  ...DEP_FIELDS.map((f): [string, FieldReader] => [f.toLowerCase(), (d, v, c) => readDepends(d, f, v, c)]),
  ['conffiles', readConffiles],
  // Archive fields belong to the available file; in status dpkg parses and then forgets them.
  ['filename', () => undefined],
  ['size', () => undefined],
  ['md5sum', () => undefined],
  ['msdos-filename', () => undefined],
  ['triggers-pending', readTriggersPending],
  ['triggers-awaited', readTriggersAwaited],
  // Obsolete fields, mapped to their modern forms (and never written back under the old name).
  ['recommended', (d, v, c) => readDepends(d, 'Recommends', v, c)],
  ['optional', (d, v, c) => readDepends(d, 'Suggests', v, c)],
  ['class', (d, v, c) => (c.warn(`obsolete '${c.fieldName}' field used`), readPriority(d, v, c))],
  ['revision', readObsoleteRevision],
  ['package-revision', readObsoleteRevision],
  ['package_revision', readObsoleteRevision],
]);

export function readEntry(stanza: RawStanza, kind: StanzaKind): ReadEntry {
  const warnings: StanzaProblem[] = stanza.warnings.length > 0 ? [...stanza.warnings] : [];
  const d = blankDraft();
  const seen = new Set<string>();
  const ctx = new FieldContext(warnings);
  for (const field of stanza.fields) {
    const lower = field.name.toLowerCase();
    ctx.line = field.line;
    ctx.fieldName = field.name;
    const reader = KNOWN.get(lower);
    if (seen.has(lower)) {
      throw new EntryError(field.line, reader ? `duplicate value for '${field.name}' field` : `duplicate value for user-defined field '${field.name}'`);
    }
    seen.add(lower);
    if (reader) {
      reader(d, field.value, ctx);
    } else {
      if (field.name.length < 2) throw new EntryError(field.line, `user-defined field name '${field.name}' too short`);
      d.arbitrary.push([field.name, field.value]);
    }
  }
  const normalised = verify(d, kind, stanza.line, warnings);
  return { entry: finish(d, normalised ? undefined : stanza.text), warnings };
}

function blankDraft(): Draft {
  return {
    name: '' as ByteString,
    arch: '' as ByteString,
    hasArch: false,
    multiArch: 'no',
    status: { want: 'unknown', flag: 'ok', state: 'not-installed' },
    essential: false,
    protected: false,
    text: {},
    depends: {},
    conffiles: [],
    triggersPending: [],
    triggersAwaited: [],
    arbitrary: [],
    explicitConfigVersion: false,
  };
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

function readName(d: Draft, value: ByteString, c: FieldContext): void {
  const problem = packageNameProblem(value);
  if (problem) throw new EntryError(c.line, `invalid package name in '${c.fieldName}' field: ${problem}`);
  d.name = value.toLowerCase() as ByteString;
}

/** dpkg's pkg_name_is_illegal: a letter or digit first, then letters, digits and `-+._`. */
export function packageNameProblem(name: string): string | undefined {
  if (name === '') return 'may not be empty string';
  if (!/^[A-Za-z0-9]/.test(name)) return 'must start with an alphanumeric character';
  const bad = /[^A-Za-z0-9+._-]/.exec(name);
  return bad ? `character '${bad[0]}' not allowed (only letters, digits and characters '-+._')` : undefined;
}

/**
 * dpkg's parse_nv: the value must start with one of `names` (any case); after a match, blanks are skipped,
 * and for the last word of a field nothing may follow. Returns the name and what follows it.
 */
function matchWord<T extends string>(value: string, names: readonly T[]): { name: T; rest: string } | undefined {
  const lower = value.toLowerCase();
  const name = names.find((n) => lower.startsWith(n));
  if (name === undefined) return undefined;
  return { name, rest: value.slice(name.length).replace(/^[\t\n\v\f\r ]+/, '') };
}

function readWord<T extends string>(value: string, names: readonly T[], last: boolean, c: FieldContext, what: string): { name: T; rest: string } {
  if (value === '') throw new EntryError(c.line, `${what} is missing a value`);
  const m = matchWord(value, names);
  if (m === undefined) throw new EntryError(c.line, `${what} has invalid value '${value.slice(0, 50)}'`);
  if (last && m.rest !== '') throw new EntryError(c.line, `${what} has trailing junk`);
  return m;
}

function readStatus(d: Draft, value: ByteString, c: FieldContext): void {
  const want = readWord(value, WANTS, false, c, `first (want) word in '${c.fieldName}' field:`);
  const flag = readWord(want.rest, EFLAGS, false, c, `second (error) word in '${c.fieldName}' field:`);
  const state = readWord(flag.rest, STATES, true, c, `third (status) word in '${c.fieldName}' field:`);
  d.status = { want: want.name, flag: flag.name, state: state.name } satisfies StatusTriple;
}

function readBoolean(value: ByteString, c: FieldContext, current: boolean): boolean {
  if (value === '') return current;
  return readWord(value, ['no', 'yes'] as const, true, c, `boolean (yes/no) '${c.fieldName}' field:`).name === 'yes';
}

function readMultiArch(d: Draft, value: ByteString, c: FieldContext): void {
  if (value === '') return;
  d.multiArch = readWord(value, MULTI_ARCHS, true, c, `quadstate (foreign/allowed/same/no) '${c.fieldName}' field:`).name as MultiArch;
}

function readPriority(d: Draft, value: ByteString, c: FieldContext): void {
  if (value === '') return;
  const m = matchWord(value, PRIORITIES);
  if (m === undefined) {
    d.priority = value;
    return;
  }
  if (m.rest !== '') throw new EntryError(c.line, `word in '${c.fieldName}' field: has trailing junk`);
  d.priority = m.name === 'unknown' ? undefined : (m.name as ByteString);
}

function readVersion(value: ByteString, c: FieldContext): Version {
  // The database's parser is lax: dpkg only warns about a version's bad characters there.
  const { version, problem } = checkVersion(value);
  if (version === undefined) throw new EntryError(c.line, `'${c.fieldName}' field value '${value.slice(0, 250)}': ${problem?.reason}`);
  if (problem) c.warn(`'${c.fieldName}' field value '${value.slice(0, 250)}': ${problem.reason}`);
  return version;
}

function readObsoleteRevision(d: Draft, value: ByteString, c: FieldContext): void {
  c.warn(`obsolete '${c.fieldName}' field used`);
  if (value === '') return;
  const v = d.version ?? { epoch: 0, upstream: '', revision: '' };
  const upstream = v.revision === '' ? v.upstream : `${v.upstream}-${v.revision}`;
  d.version = { epoch: v.epoch, upstream, revision: value };
}

function readDepends(d: Draft, field: DepField, value: ByteString, c: FieldContext): void {
  if (value === '') return;
  const canonical = canonicalRelations(value, field) ?? formatRelationsOf(field, value, c);
  if (canonical === '') return;
  const before = d.depends[field];
  d.depends[field] = (before === undefined ? canonical : `${before}, ${canonical}`) as ByteString;
}

// What dpkg writes: `name[:arch][ (op version)]`, alternatives joined by ' | ', groups by ', '.
const CANONICAL_REL = String.raw`[a-z0-9][a-z0-9+._-]*(?::[A-Za-z0-9][A-Za-z0-9-]*)?(?: \((?:<<|<=|=|>=|>>) ([^ ()]+)\))?`;
const CANONICAL = new RegExp(String.raw`^${CANONICAL_REL}(?: \| ${CANONICAL_REL})*(?:, ${CANONICAL_REL}(?: \| ${CANONICAL_REL})*)*$`);
const VERSION_IN_REL = /\((?:<<|<=|=|>=|>>) ([^ ()]+)\)/g;

/**
 * The value itself when it is already in dpkg's written form (every status dpkg wrote), its versions
 * checked as dpkg's reader checks them; undefined otherwise. Reading a status of thousands of packages
 * then costs a regular expression per field instead of a parse.
 */
function canonicalRelations(value: ByteString, field: DepField): ByteString | undefined {
  if (!CANONICAL.test(value)) return undefined;
  if (value.includes(' | ') && NO_ALTERNATIVES.has(field)) return undefined;
  for (const m of value.matchAll(VERSION_IN_REL)) if (checkVersion(m[1]).version === undefined) return undefined;
  return value;
}

const NO_ALTERNATIVES = new Set<DepField>(['Breaks', 'Conflicts', 'Replaces', 'Provides']);

function formatRelationsOf(field: DepField, value: ByteString, c: FieldContext): ByteString {
  try {
    return formatRelations(parseRelations(field, value, { allowRestrictions: false, laxVersions: true })) as ByteString;
  } catch (err) {
    throw new EntryError(c.line, (err as Error).message);
  }
}

function readConffiles(d: Draft, value: ByteString, c: FieldContext): void {
  try {
    d.conffiles = parseConffiles(value);
  } catch (err) {
    throw new EntryError(c.line, (err as Error).message);
  }
}

function readTriggersPending(d: Draft, value: ByteString, c: FieldContext): void {
  const names: ByteString[] = [];
  for (const word of words(value)) {
    const problem = triggerNameProblem(word);
    if (problem) throw new EntryError(c.line, `illegal pending trigger name '${word.slice(0, 255)}': ${problem}`);
    if (names.includes(word)) throw new EntryError(c.line, `duplicate pending trigger '${word.slice(0, 255)}'`);
    names.push(word);
  }
  d.triggersPending = names;
}

function readTriggersAwaited(d: Draft, value: ByteString, c: FieldContext): void {
  const names: ByteString[] = [];
  for (const word of words(value)) {
    const [name, arch, extra] = word.split(':');
    const problem = packageNameProblem(name) ?? (arch !== undefined && !/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(arch) ? 'invalid architecture name' : undefined);
    if (problem || extra !== undefined) {
      throw new EntryError(c.line, `illegal package name in awaited trigger '${word.slice(0, 255)}': ${problem ?? 'too many colons'}`);
    }
    if (names.includes(word)) throw new EntryError(c.line, `duplicate awaited trigger package '${word.slice(0, 255)}'`);
    names.push(word);
  }
  d.triggersAwaited = names;
}

/** dpkg's trig_name_is_illegal: not empty, printable ASCII without blanks. */
export function triggerNameProblem(name: string): string | undefined {
  if (name === '') return 'empty trigger names are not permitted';
  // eslint-disable-next-line no-control-regex
  if (/[^\x21-\x7e]/.test(name)) return 'trigger name contains invalid character';
  return undefined;
}

function words(value: ByteString): ByteString[] {
  return value.split(/[\t\n\v\f\r ]+/).filter((w) => w !== '') as ByteString[];
}
