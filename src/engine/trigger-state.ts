import { parseRelations, type Relation, type RelationGroups } from '../control/relations';
import type { Paragraph } from '../control/paragraph';
import type { DpkgDb, DpkgPackage } from '../dpkg/dpkg-db';
import {
  emptyTriggerState,
  formatExplicitInterests,
  formatFileInterests,
  formatUnincorp,
  NO_DECLARATIONS,
  parseExplicitInterests,
  parseFileInterests,
  parseTriggersControl,
  parseUnincorp,
  type TriggerDeclarations,
  type TriggerPackage,
  type TriggerState,
  type UnincorpEntry,
} from '../dpkg/triggers';
import type { DpkgIntent } from './steps/dpkg-change';

/**
 * dpkg's trigger bookkeeping as the trigger logic (src/dpkg/triggers) works on it, read from dpkg's
 * database, and the database changes that bring dpkg's database to a state the logic reached. The
 * package key is dpkg's name for the instance (`name`, or `name:arch` where dpkg qualifies it), as
 * Triggers-Awaited and the interest files spell it.
 */
export interface TriggerSnapshot {
  state: TriggerState;
  /** triggers/Unincorp: activations by dpkg-trigger not yet handed to the interested packages. */
  unincorp: UnincorpEntry[];
  /** The instance each key names (to write its stanza). */
  refs: Map<string, { name: string; arch: string }>;
}

export function readTriggerSnapshot(dpkg: DpkgDb): TriggerSnapshot {
  const state = emptyTriggerState();
  const refs = new Map<string, { name: string; arch: string }>();
  const infoFiles = dpkg.infoFilesLister();
  for (const p of dpkg.packages()) {
    if (p.status.state === 'not-installed') continue;
    const key = p.displayName;
    refs.set(key, { name: p.name, arch: p.arch });
    state.packages[key] = packageOf(dpkg, p, key, infoFiles({ name: p.name, arch: p.arch }));
  }
  const files = dpkg.triggers;
  const text = (name: string): string => files.get(name)?.toString('latin1') ?? '';
  state.interests.file = parseFileInterests(text('File'));
  for (const name of files.keys()) {
    if (name === 'File' || name === 'Unincorp' || name.startsWith('/')) continue;
    const lines = parseExplicitInterests(text(name), `triggers/${name}`);
    if (lines.length > 0) state.interests.explicit[name] = lines;
  }
  return { state, unincorp: parseUnincorp(text('Unincorp')), refs };
}

/** `infoFiles`: the types of the package's info files (info/ listed once for every package). */
function packageOf(dpkg: DpkgDb, p: DpkgPackage, key: string, infoFiles: readonly string[]): TriggerPackage {
  const { depends, provides } = relationsOf(p.paragraph);
  return {
    name: key,
    status: p.status.state,
    want: p.status.want,
    // The status file holds dpkg's in-memory order reversed: dpkg prepends each name as it reads the field.
    pending: [...p.triggersPending].reverse(),
    awaited: [...p.triggersAwaited],
    version: p.version,
    architecture: p.arch,
    depends,
    hasPostinst: infoFiles.includes('postinst'),
    provides,
    declarations: infoFiles.includes('triggers') ? installedDeclarations(dpkg.readInfoFile({ name: p.name, arch: p.arch }, 'triggers'), `${key} triggers`) : NO_DECLARATIONS,
  };
}

/**
 * Memos of what a snapshot parses, by the very object parsed: a status paragraph is made once per
 * stanza and frozen (package-view.ts), an info file held under dpkg's lock is the same buffer until it is
 * written. Every transaction and configure turn takes a snapshot of every installed package (about 40
 * of 88 packages in a bootstrap), and the results are only read (depcheck.ts, dep-cycles.ts).
 */
const parsedRelations = new WeakMap<Paragraph, { depends: RelationGroups; provides: Relation[] }>();
const parsedDeclarations = new WeakMap<Buffer, TriggerDeclarations>();

function relationsOf(para: Paragraph): { depends: RelationGroups; provides: Relation[] } {
  let parsed = parsedRelations.get(para);
  if (parsed === undefined) {
    const depends: RelationGroups = [];
    for (const field of ['Pre-Depends', 'Depends']) {
      const v = para.get(field);
      if (v !== undefined && v.trim() !== '') depends.push(...parseRelations(field, v));
    }
    const provides: Relation[] = (para.get('Provides') ?? '').trim() === '' ? [] : parseRelations('Provides', para.get('Provides') as string).flat();
    parsed = { depends, provides };
    parsedRelations.set(para, parsed);
  }
  return parsed;
}

function installedDeclarations(bytes: Buffer | undefined, source: string): TriggerDeclarations {
  if (bytes === undefined) return NO_DECLARATIONS;
  let parsed = parsedDeclarations.get(bytes);
  if (parsed === undefined) {
    parsed = declarationsOf(bytes, source);
    parsedDeclarations.set(bytes, parsed);
  }
  return parsed;
}

/** A `triggers` control file's directives (an installed one from info/, a new one from the archive). */
export function declarationsOf(bytes: Buffer | undefined, source: string): TriggerDeclarations {
  return bytes === undefined ? NO_DECLARATIONS : parseTriggersControl(bytes, { source });
}

/**
 * The database changes from `before` to `after`: each package whose state or trigger fields differ
 * (but those in `skip`, whose stanzas the caller writes), then the triggers/ files that differ. Pure.
 */
export function triggerWrites(before: TriggerSnapshot, after: TriggerState, afterUnincorp: readonly UnincorpEntry[], skip: ReadonlySet<string> = new Set()): DpkgIntent[] {
  const out: DpkgIntent[] = [];
  for (const [key, p] of Object.entries(after.packages)) {
    const ref = before.refs.get(key);
    if (ref === undefined || skip.has(key)) continue;
    const was = before.state.packages[key];
    if (was.status === p.status && same(was.pending, p.pending) && same(was.awaited, p.awaited)) continue;
    out.push({ op: 'trigger-fields', name: ref.name, arch: ref.arch, state: p.status, pending: p.pending, awaited: p.awaited });
  }
  const files: Record<string, string | null> = {};
  const fileBefore = formatFileInterests(before.state.interests.file);
  const fileAfter = formatFileInterests(after.interests.file);
  if (fileBefore !== fileAfter) files.File = fileAfter === '' ? null : fileAfter;
  const names = new Set([...Object.keys(before.state.interests.explicit), ...Object.keys(after.interests.explicit)]);
  for (const name of names) {
    const a = formatExplicitInterests(before.state.interests.explicit[name] ?? []);
    const b = formatExplicitInterests(after.interests.explicit[name] ?? []);
    if (a !== b) files[name] = b === '' ? null : b;
  }
  if (formatUnincorp(before.unincorp) !== formatUnincorp(afterUnincorp)) files.Unincorp = formatUnincorp(afterUnincorp);
  if (Object.keys(files).length > 0) out.push({ op: 'trigger-files', files });
  return out;
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
