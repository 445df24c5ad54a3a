import type { ByteString } from '../../../dpkg/bytes';
import { EntryError, FIELD_READERS, FieldContext, blankDraft } from '../../../dpkg/field-readers';
import { formatVersion, compareVersions, type Version } from '../../../control/version';
import { DEP_FIELDS, type CharField, type DepField, type MultiArch } from '../../../dpkg/model';
import { scanStanzas, StanzaError, type RawStanza, type StanzaProblem } from '../../../dpkg/stanza';
import { relationNames, RELATION_FIELDS } from './relation-names';

/**
 * dpkg's `available` file: what it knows of packages it could install (Packages-file stanzas merged in by
 * --merge-avail / --update-avail, or by --record-avail from archives). Read as dpkg reads it
 * (pdb_parse_available: lib/dpkg/parse.c, fields.c) and written as dpkg writes it (dump.c with the
 * available half: no Status, Config-Version, Conffiles or Triggers-*; the archive fields Filename, Size,
 * MD5sum and MSDOS-Filename after the relations). Pure: text in, text out.
 */
export const ARCHIVE_FIELDS = ['Filename', 'Size', 'MD5sum', 'MSDOS-Filename'] as const;
export type ArchiveField = (typeof ARCHIVE_FIELDS)[number];

export interface AvailEntry {
  readonly name: ByteString;
  /** '' for a stanza without Architecture (dpkg's "empty" architecture). */
  readonly arch: ByteString;
  readonly multiArch: MultiArch;
  readonly essential: boolean;
  readonly protected: boolean;
  /** Section and Priority belong to the package, not to one half: kept here as read, merged by the caller. */
  readonly section?: ByteString;
  readonly priority?: ByteString;
  readonly text: Readonly<Partial<Record<CharField, ByteString>>>;
  readonly version?: Version;
  readonly depends: Readonly<Partial<Record<DepField, ByteString>>>;
  readonly hasConffiles: boolean;
  /** One row per archive, each with the archive fields given. */
  readonly archives: ReadonlyArray<Readonly<Partial<Record<ArchiveField, ByteString>>>>;
  readonly arbitrary: readonly (readonly [ByteString, ByteString])[];
}

export interface AvailWarning {
  readonly line: number;
  readonly name: string;
  readonly message: string;
}

export class AvailError extends Error {
  /** The warnings dpkg printed before it met the error. */
  warnings: AvailWarning[] = [];

  constructor(
    readonly line: number,
    readonly pkg: string | undefined,
    readonly problem: string,
  ) {
    super(problem);
  }
}

const REJECTED = new Set(['status', 'config-version', 'triggers-pending', 'triggers-awaited']);
const ARCHIVE_BY_LOWER = new Map<string, ArchiveField>(ARCHIVE_FIELDS.map((f) => [f.toLowerCase(), f]));

/** Every stanza of an available (or Packages) file, in order. Throws AvailError. */
export function readAvailable(text: ByteString): { entries: Array<{ entry: AvailEntry; line: number; names: string[] }>; warnings: AvailWarning[] } {
  const warnings: AvailWarning[] = [];
  let stanzas;
  try {
    stanzas = scanStanzas(text, true);
  } catch (err) {
    if (err instanceof StanzaError) throw new AvailError(err.line, undefined, err.problem);
    throw err;
  }
  try {
    return { entries: stanzas.map((stanza) => readOne(stanza, warnings)), warnings };
  } catch (err) {
    if (err instanceof AvailError) err.warnings = warnings;
    throw err;
  }
}

function readOne(stanza: RawStanza, warnings: AvailWarning[]): { entry: AvailEntry; line: number; names: string[] } {
  const problems: StanzaProblem[] = [...stanza.warnings];
  const d = blankDraft();
  const ctx = new FieldContext(problems);
  const seen = new Set<string>();
  const archives: Array<Partial<Record<ArchiveField, ByteString>>> = [];
  const names: string[] = [];
  try {
    for (const field of stanza.fields) {
      const lower = field.name.toLowerCase();
      ctx.line = field.line;
      ctx.fieldName = field.name;
      const known = FIELD_READERS.has(lower);
      if (seen.has(lower)) throw new EntryError(field.line, known ? `duplicate value for '${field.name}' field` : `duplicate value for user-defined field '${field.name}'`);
      seen.add(lower);
      const value = field.value.split('\0')[0] as ByteString;
      if (lower === 'package') names.push(value);
      else if (RELATION_FIELDS.has(lower)) names.push(...relationNames(value));
      if (REJECTED.has(lower)) throw new EntryError(field.line, `value for '${field.name}' field not allowed in this context`);
      const archive = ARCHIVE_BY_LOWER.get(lower);
      if (archive) {
        readArchiveField(archives, archive, value, field.line, field.name);
      } else if (known) {
        FIELD_READERS.get(lower)!(d, value, ctx);
      } else {
        if (field.name.length < 2) throw new EntryError(field.line, `user-defined field name '${field.name}' too short`);
        d.arbitrary.push([field.name.split('\0')[0] as ByteString, value]);
      }
    }
  } catch (err) {
    if (err instanceof EntryError) throw new AvailError(err.line, d.name || undefined, err.problem);
    throw err;
  }
  // dpkg checks the stanza as a whole once it has read it: its line is then the one after the stanza.
  const endLine = stanza.line + (stanza.text.match(/\n/g)?.length ?? 0);
  const fail = (problem: string): never => {
    for (const p of problems) warnings.push({ line: p.line, name: d.name, message: p.message });
    problems.length = 0;
    throw new AvailError(endLine, d.name || undefined, problem);
  };
  if (d.name === '') fail(`missing 'Package' field`);
  const warn = (message: string): void => void problems.push({ line: endLine, message });
  if (d.text.Description === undefined) warn(`missing 'Description' field`);
  if (d.text.Maintainer === undefined) warn(`missing 'Maintainer' field`);
  if (d.version === undefined) fail(`missing 'Version' field`);
  if (!d.hasArch) warn(`missing 'Architecture' field`);
  else if (d.arch === '') warn(`empty value for 'Architecture' field`);
  if (d.multiArch === 'same' && d.arch === '') fail(`package has 'Multi-Arch: same' field but is missing architecture`);
  if (d.multiArch === 'same' && d.arch === 'all') fail(`package has 'Multi-Arch: same' field but is architecture 'all'`);
  for (const p of problems) warnings.push({ line: p.line, name: d.name, message: p.message });
  const entry: AvailEntry = {
    name: d.name,
    arch: d.arch,
    multiArch: d.multiArch,
    essential: d.essential,
    protected: d.protected,
    section: d.section,
    priority: d.priority,
    text: d.text,
    version: d.version,
    depends: d.depends,
    hasConffiles: d.conffiles.length > 0,
    archives,
    arbitrary: d.arbitrary,
  };
  return { entry, line: stanza.line, names };
}

/** f_archives(): the field's words fill one column of the archive rows; every column has as many. */
function readArchiveField(rows: Array<Partial<Record<ArchiveField, ByteString>>>, field: ArchiveField, value: ByteString, line: number, name: string): void {
  if (value === '') throw new EntryError(line, `empty archive details '${name}' field`);
  const words = value.split(/[\t\n\v\f\r ]+/).filter((w) => w !== '') as ByteString[];
  const extend = rows.length === 0;
  words.forEach((w, i) => {
    if (i >= rows.length) {
      if (!extend) throw new EntryError(line, `too many values in archive details '${name}' field (compared to others)`);
      rows.push({});
    }
    rows[i][field] = w;
  });
  if (words.length < rows.length) throw new EntryError(line, `too few values in archive details '${name}' field (compared to others)`);
}

/** pkg_is_informative() for the available half. */
export function availIsInformative(e: AvailEntry): boolean {
  return Object.keys(e.depends).length > 0 || Object.values(e.text).some((v) => v !== undefined && v !== '') || e.version !== undefined || e.hasConffiles || e.arbitrary.length > 0;
}

/** Whether an entry of version `v` may replace `existing` (pdb_ignoreolder: never by an older one). */
export function replacesAvail(existing: AvailEntry | undefined, v: Version | undefined): boolean {
  if (!existing?.version || !v) return true;
  return compareVersions(v, existing.version) >= 0;
}

/**
 * One stanza of the available half as dpkg writes it (varbuf_stanza with pkg->available). `section` and
 * `priority` are the package's (shared with the installed half).
 */
export function formatAvailStanza(e: AvailEntry, section: ByteString | undefined, priority: ByteString | undefined): ByteString {
  const lines: string[] = [`Package: ${e.name}`];
  if (e.essential) lines.push('Essential: yes');
  if (e.protected) lines.push('Protected: yes');
  if (priority !== undefined) lines.push(`Priority: ${priority}`);
  if (section !== undefined) lines.push(`Section: ${section}`);
  for (const f of ['Installed-Size', 'Origin', 'Maintainer', 'Bugs'] as const) pushText(lines, e, f);
  if (e.arch !== '') lines.push(`Architecture: ${e.arch}`);
  if (e.multiArch !== 'no') lines.push(`Multi-Arch: ${e.multiArch}`);
  pushText(lines, e, 'Source');
  if (e.version !== undefined) lines.push(`Version: ${formatVersion(e.version)}`);
  for (const f of DEP_FIELDS) {
    const value = e.depends[f];
    if (value) lines.push(`${f}: ${value}`);
  }
  const first = e.archives[0];
  for (const f of ARCHIVE_FIELDS) {
    if (first?.[f] === undefined) continue;
    lines.push(`${f}:${e.archives.map((a) => ` ${a[f] ?? ''}`).join('')}`);
  }
  pushText(lines, e, 'Description');
  for (const [name, value] of e.arbitrary) lines.push(`${name}: ${value}`);
  return `${lines.join('\n')}\n` as ByteString;
}

function pushText(lines: string[], e: AvailEntry, f: CharField): void {
  const v = e.text[f];
  if (v !== undefined && v !== '') lines.push(`${f}: ${v}`);
}

