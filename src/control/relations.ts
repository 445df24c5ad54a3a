import { OvermergeError } from '../errors';
import { checkVersion, compareVersions, formatVersion, type Version } from './version';

/** The five relation operators. dpkg still reads the obsolete `<` as `<=` and `>` as `>=`. */
export type RelationOp = '<<' | '<=' | '=' | '>=' | '>>';

export interface VersionConstraint {
  readonly op: RelationOp;
  readonly version: Version;
}

/** One name in an `[arch !arch]` list (source-package syntax). */
export interface ArchRestriction {
  readonly arch: string;
  readonly negated: boolean;
}

/** One term of a `<profile !profile>` list; the terms of one list are ANDed, the lists ORed. */
export interface ProfileTerm {
  readonly profile: string;
  readonly negated: boolean;
}

/**
 * One package reference: `name[:arch] [(op version)] [[archs]] [<profiles>...]`. `name` is lower-cased, as
 * dpkg folds it.
 */
export interface Relation {
  readonly name: string;
  /** `any`, `native` or an architecture name, from `name:qualifier`. */
  readonly archQualifier?: string;
  readonly constraint?: VersionConstraint;
  readonly archs?: readonly ArchRestriction[];
  readonly profiles?: readonly (readonly ProfileTerm[])[];
}

/** A field's value: comma-separated groups (all required) of `|`-separated alternatives (any one will do). */
export type RelationGroups = Relation[][];

/** The binary-package relation fields dpkg parses. */
export const RELATION_FIELDS = [
  'Pre-Depends',
  'Depends',
  'Recommends',
  'Suggests',
  'Breaks',
  'Conflicts',
  'Replaces',
  'Provides',
  'Enhances',
] as const;

// dpkg refuses `|` in these: an alternative makes no sense for what a package conflicts with or provides.
const NO_ALTERNATIVES = new Set(['breaks', 'conflicts', 'replaces', 'provides']);

export interface ParseRelationsOptions {
  /**
   * Accept `[arch]` and `<profile>` restrictions. Default true; dpkg refuses them in a binary package's
   * control file, so validation of an archive passes false.
   */
  allowRestrictions?: boolean;
  /** Accept versions dpkg only warns about (as in its own database). Default false, as for an archive. */
  laxVersions?: boolean;
}

/** Reads an operator as dpkg does; the obsolete `<`/`>` become `<=`/`>=`. Undefined if it is not one. */
export function parseOp(text: string): RelationOp | undefined {
  switch (text) {
    case '<<':
    case '<=':
    case '=':
    case '>=':
    case '>>':
      return text;
    case '<':
      return '<=';
    case '>':
      return '>=';
    default:
      return undefined;
  }
}

/** Whether `version` stands in relation `op` to `ref` (e.g. satisfies('1.2', '>=', '1.0') is true). */
export function satisfies(version: Version | string, op: RelationOp, ref: Version | string): boolean {
  const c = compareVersions(version, ref);
  switch (op) {
    case '<<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
      return c >= 0;
    case '>>':
      return c > 0;
  }
}

/** What relationMatches needs to know about a candidate package (installed or being installed). */
export interface PackageFacts {
  readonly name: string;
  readonly version: Version | string;
  readonly architecture: string;
  /** The package's parsed Provides (one relation per group). */
  readonly provides?: readonly Relation[];
}

export interface MatchOptions {
  /** The root's native architecture; needed to resolve `:native` and to treat `all` as native. */
  readonly nativeArch?: string;
}

/**
 * Whether `pkg` satisfies `rel`, directly or through one of its Provides. A versioned relation is satisfied
 * by a Provides only when it provides an exact (`=`) version, as dpkg rules. Without a qualifier the
 * architecture is not checked (multi-arch co-installability is the caller's business); `:any` accepts any
 * architecture; `:native` and `:arch` compare against the package's architecture, `all` counting as native.
 * Arch and profile restrictions (source-package syntax) are not evaluated here.
 */
export function relationMatches(rel: Relation, pkg: PackageFacts, opts: MatchOptions = {}): boolean {
  if (!archMatches(rel.archQualifier, pkg.architecture, opts.nativeArch)) return false;
  if (rel.name === pkg.name.toLowerCase()) {
    return rel.constraint === undefined || satisfies(pkg.version, rel.constraint.op, rel.constraint.version);
  }
  for (const p of pkg.provides ?? []) {
    if (p.name !== rel.name) continue;
    if (rel.constraint === undefined) return true;
    if (p.constraint?.op === '=' && satisfies(p.constraint.version, rel.constraint.op, rel.constraint.version)) {
      return true;
    }
  }
  return false;
}

function archMatches(qualifier: string | undefined, arch: string, nativeArch: string | undefined): boolean {
  if (qualifier === undefined || qualifier === 'any') return true;
  const want = qualifier === 'native' ? nativeArch : qualifier;
  if (want === undefined) return true;
  return arch === want || (arch === 'all' && want === nativeArch);
}

/** Whether any alternative of `group` is satisfied by one of `pkgs`. */
export function groupSatisfiedBy(
  group: readonly Relation[],
  pkgs: readonly PackageFacts[],
  opts?: MatchOptions,
): boolean {
  return group.some((rel) => pkgs.some((p) => relationMatches(rel, p, opts)));
}

/**
 * Parses a relation field (Depends, Pre-Depends, Recommends, Suggests, Breaks, Conflicts, Replaces, Provides,
 * Enhances, or a Build-* field) with dpkg's syntax rules. An empty value is an empty list. Throws
 * OvermergeError('E_BAD_CONTROL') naming the field and the offending reference.
 */
export function parseRelations(field: string, value: string, opts: ParseRelationsOptions = {}): RelationGroups {
  const reader = new RelationReader(field, value, opts);
  return reader.readAll();
}

// dpkg treats any C white space inside a relation field as a separator; continuation lines bring '\n'.
const SPACE = /[ \t\n\v\f\r]/;
// A name ends at white space or at the start of the next syntactic element.
const NAME_END = /[ \t\n\v\f\r:(,|[<]/;
const QUALIFIER_END = /[ \t\n\v\f\r(,|[<]/;
const VERSION_END = /[ \t\n\v\f\r)]/;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

class RelationReader {
  private pos = 0;
  private groupStart = 0;
  private readonly allowAlternatives: boolean;

  constructor(
    private readonly field: string,
    private readonly text: string,
    private readonly opts: ParseRelationsOptions,
  ) {
    this.allowAlternatives = !NO_ALTERNATIVES.has(field.toLowerCase());
  }

  readAll(): RelationGroups {
    const groups: RelationGroups = [];
    this.skipSpace();
    if (this.atEnd()) return groups;
    for (;;) {
      this.groupStart = this.pos;
      const group: Relation[] = [this.readRelation()];
      while (this.peek() === '|') {
        if (!this.allowAlternatives) this.fail(`alternatives ('|') not allowed in '${this.field}' field`);
        this.pos++;
        group.push(this.readRelation());
      }
      groups.push(group);
      if (this.atEnd()) return groups;
      if (this.peek() !== ',') this.fail(`syntax error after reference to package '${group[group.length - 1].name}'`);
      this.pos++;
    }
  }

  /** One reference, leaving the position after the white space that follows it. */
  private readRelation(): Relation {
    this.skipSpace();
    const rawName = this.readUntil(NAME_END);
    if (rawName === '') this.fail('missing package name, or garbage where package name expected');
    const nameProblem = packageNameProblem(rawName);
    if (nameProblem) this.fail(`invalid package name '${rawName}': ${nameProblem}`);
    const name = rawName.toLowerCase();
    const rel: Mutable<Relation> = { name };

    if (this.peek() === ':') {
      this.pos++;
      const qualifier = this.readUntil(QUALIFIER_END);
      if (qualifier === '') this.fail('missing architecture name, or garbage where architecture name expected');
      const archProblem = archNameProblem(qualifier);
      if (archProblem) this.fail(`reference to '${name}': invalid architecture name '${qualifier}': ${archProblem}`);
      rel.archQualifier = qualifier;
    }
    this.skipSpace();
    if (this.peek() === '(') rel.constraint = this.readConstraint(name);
    this.skipSpace();
    if (this.peek() === '[') rel.archs = this.readArchs(name);
    this.skipSpace();
    const profiles: ProfileTerm[][] = [];
    while (this.peek() === '<') {
      profiles.push(this.readProfiles(name));
      this.skipSpace();
    }
    if (profiles.length > 0) rel.profiles = profiles;
    return rel;
  }

  private readConstraint(name: string): VersionConstraint {
    this.pos++; // '('
    this.skipSpace();
    const opText = /^(<<|<=|>=|>>|<|>|=)/.exec(this.text.slice(this.pos, this.pos + 2))?.[1];
    // dpkg reads "(1.0)" as an exact match (and only warns about it).
    const op: RelationOp = opText === undefined ? '=' : parseOp(opText)!;
    this.pos += opText?.length ?? 0;
    this.skipSpace();
    const versionText = this.readUntil(VERSION_END);
    this.skipSpace();
    if (this.atEnd()) this.fail(`reference to '${name}': version unterminated`);
    if (this.peek() !== ')') this.fail(`reference to '${name}': version contains '${this.peek()}' instead of ')'`);
    this.pos++;
    const { version, problem } = checkVersion(versionText);
    if (!version || (problem && !this.opts.laxVersions)) {
      this.fail(`reference to '${name}': version '${versionText}': ${problem?.reason}`);
    }
    return { op, version };
  }

  private readArchs(name: string): ArchRestriction[] {
    if (this.opts.allowRestrictions === false) this.fail(`syntax error after reference to package '${name}'`);
    const words = this.readBracketed(']', name, 'architecture restriction');
    const archs = words.map((w) => ({ arch: w.replace(/^!/, ''), negated: w.startsWith('!') }));
    for (const a of archs) {
      const problem = archNameProblem(a.arch);
      if (problem) this.fail(`reference to '${name}': invalid architecture name '${a.arch}': ${problem}`);
    }
    if (archs.some((a) => a.negated) && archs.some((a) => !a.negated)) {
      this.fail(`reference to '${name}': architecture restriction mixes negated and plain names`);
    }
    return archs;
  }

  private readProfiles(name: string): ProfileTerm[] {
    if (this.opts.allowRestrictions === false) this.fail(`syntax error after reference to package '${name}'`);
    const words = this.readBracketed('>', name, 'profile restriction');
    return words.map((w) => {
      const profile = w.replace(/^!/, '');
      if (!/^[a-z0-9][a-z0-9.+-]*$/.test(profile)) {
        this.fail(`reference to '${name}': invalid build profile name '${profile}'`);
      }
      return { profile, negated: w.startsWith('!') };
    });
  }

  /** The white-space-separated words between the current opening bracket and `close`. */
  private readBracketed(close: string, name: string, what: string): string[] {
    const end = this.text.indexOf(close, this.pos + 1);
    if (end < 0) this.fail(`reference to '${name}': ${what} unterminated`);
    const words = this.text
      .slice(this.pos + 1, end)
      .split(/[ \t\n\v\f\r]+/)
      .filter((w) => w !== '');
    if (words.length === 0) this.fail(`reference to '${name}': empty ${what}`);
    this.pos = end + 1;
    return words;
  }

  private readUntil(stop: RegExp): string {
    const start = this.pos;
    while (!this.atEnd() && !stop.test(this.text[this.pos])) this.pos++;
    return this.text.slice(start, this.pos);
  }

  private skipSpace(): void {
    while (!this.atEnd() && SPACE.test(this.text[this.pos])) this.pos++;
  }

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  private atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  private fail(reason: string): never {
    throw new OvermergeError('E_BAD_CONTROL', `invalid ${this.field} field "${this.excerpt()}": ${reason}`, {
      op: 'parse relations',
    });
  }

  /** The group being read, on one line and cut short: the whole value can be thousands of names. */
  private excerpt(): string {
    const comma = this.text.indexOf(',', this.pos);
    const raw = this.text.slice(this.groupStart, comma < 0 ? undefined : comma);
    const line = raw.replace(/[ \t\n\v\f\r]+/g, ' ').trim();
    return line.length > 80 ? `${line.slice(0, 77)}...` : line;
  }
}

/**
 * dpkg's rule for a package name in a relation: starts with a letter or digit, then letters, digits and
 * `-+._`. (Names in relations are folded to lower case; a package's own Package field is held to the
 * stricter rule in fields.ts.) Undefined if the name is fine.
 */
export function packageNameProblem(name: string): string | undefined {
  if (name === '') return 'may not be empty string';
  if (!/^[A-Za-z0-9]/.test(name)) return 'must start with an alphanumeric character';
  const bad = /[^A-Za-z0-9+._-]/.exec(name);
  if (bad) return `character '${bad[0]}' not allowed (only letters, digits and characters '-+._')`;
  return undefined;
}

/** dpkg's rule for an architecture name: starts with a letter or digit, then letters, digits and `-`. */
export function archNameProblem(arch: string): string | undefined {
  if (arch === '') return 'may not be empty string';
  if (!/^[A-Za-z0-9]/.test(arch)) return 'must start with an alphanumeric';
  const bad = /[^A-Za-z0-9-]/.exec(arch);
  if (bad) return `character '${bad[0]}' not allowed (only letters, digits and characters '-')`;
  return undefined;
}

/** One reference as dpkg writes it: `name:arch (op version) [archs] <profiles>`. */
export function formatRelation(rel: Relation): string {
  let out = rel.archQualifier === undefined ? rel.name : `${rel.name}:${rel.archQualifier}`;
  if (rel.constraint) out += ` (${rel.constraint.op} ${formatVersion(rel.constraint.version)})`;
  if (rel.archs) out += ` [${rel.archs.map((a) => (a.negated ? `!${a.arch}` : a.arch)).join(' ')}]`;
  for (const list of rel.profiles ?? []) {
    out += ` <${list.map((t) => (t.negated ? `!${t.profile}` : t.profile)).join(' ')}>`;
  }
  return out;
}

/** A whole field value: groups joined by `, `, alternatives by ` | `. */
export function formatRelations(groups: readonly (readonly Relation[])[]): string {
  return groups.map((g) => g.map(formatRelation).join(' | ')).join(', ');
}
