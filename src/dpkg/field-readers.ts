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
  type CharField,
  type DepField,
  type MultiArch,
  type PkgEntry,
  type StatusTriple,
} from './model';
import { relationFieldValue } from './relations-field';
import type { StanzaProblem } from './stanza';

/**
 * How dpkg reads each field it knows into a package (lib/dpkg/fields.c, the `f_*` functions of
 * parse.c's fieldinfos): the value checked and stored in the form dpkg keeps it. Pure.
 */

/** What dpkg refuses in a stanza, with the line to name. */
export class EntryError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`);
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A package being read: a PkgEntry under construction, plus what the checks after reading need. */
export type Draft = Mutable<Omit<PkgEntry, 'text' | 'depends' | 'arbitrary'>> & {
  text: Partial<Record<CharField, ByteString>>;
  depends: Partial<Record<DepField, ByteString>>;
  arbitrary: Array<readonly [ByteString, ByteString]>;
  hasArch: boolean;
  explicitConfigVersion: boolean;
};

type FieldReader = (d: Draft, value: ByteString, ctx: FieldContext) => void;

/** The field being read, for messages. One object per stanza, moved from field to field. */
export class FieldContext {
  line = 0;
  fieldName = '';
  constructor(private readonly warnings: StanzaProblem[]) {}
  warn(message: string): void {
    this.warnings.push({ line: this.line, message });
  }
}

/** The fields dpkg knows, by lower-case name (lib/dpkg/parse.c fieldinfos). */
export const FIELD_READERS: ReadonlyMap<string, FieldReader> = new Map<string, FieldReader>([
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
  // Archive fields belong to the available file: dpkg refuses them in status and update entries.
  ...['filename', 'size', 'md5sum', 'msdos-filename'].map((f): [string, FieldReader] => [f, readArchiveField]),
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

/** A package with nothing read yet: dpkg's blank pkginfo. */
export function blankDraft(): Draft {
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
  d.priority = m.name as ByteString;
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
  let canonical: ByteString;
  try {
    canonical = relationFieldValue(field, value);
  } catch (err) {
    throw new EntryError(c.line, (err as Error).message);
  }
  if (canonical === '') return;
  const before = d.depends[field];
  d.depends[field] = (before === undefined ? canonical : `${before}, ${canonical}`) as ByteString;
}

function readArchiveField(_d: Draft, value: ByteString, c: FieldContext): void {
  if (value === '') throw new EntryError(c.line, `empty archive details '${c.fieldName}' field`);
  throw new EntryError(c.line, `archive details '${c.fieldName}' field not allowed in status file`);
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
