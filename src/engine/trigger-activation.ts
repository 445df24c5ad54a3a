import { parseRelations, type Relation, type RelationGroups } from '../control/relations';
import type { DpkgDb } from '../dpkg/dpkg-db';
import { activate, parseUnincorp, removeEvents, startRun, unpackEvents, type TriggerEvent, type TriggerState } from '../dpkg/triggers';
import { displayPath } from '../fs/rootpath';
import type { PackageRef } from '../model/package';
import type { Plan } from './plan-model';
import type { DpkgIntent } from './steps/dpkg-change';
import { declarationsOf, triggerWrites, type TriggerSnapshot } from './trigger-state';

/**
 * The triggers a transaction's unpacks and removals activate, as dpkg activates them (each unpacked
 * member's file-trigger interests, the old version's vanished paths and their parents, both versions'
 * `activate` lines, a removed package's paths), and what that does to dpkg's database: interested
 * packages become triggers-pending, awaiting ones triggers-awaited, the interest files follow the new
 * `triggers` control files, Unincorp is taken in. The database changes go into the commit's epilogue,
 * journaled with it; the state is where the configure queue starts after the commit.
 *
 * `before` is dpkg's trigger bookkeeping as the transaction found it; `unincorp` what dpkg-trigger left
 * by now (maintainer scripts before the files may have called it). Reads dpkg's database for the old
 * file lists and `triggers` files (the epilogue has not replaced them yet); changes nothing.
 */
export interface Activation {
  state: TriggerState;
  /** Changes for packages outside the transaction, and triggers/ files. */
  writes: DpkgIntent[];
  /** Trigger fields of the transaction's own packages, for their stanzas (by fieldsKey). */
  fields: Map<string, TriggerFields>;
}

/** Triggers-Pending (dpkg's in-memory order) and Triggers-Awaited of one package. */
export interface TriggerFields {
  pending: readonly string[];
  awaited: readonly string[];
}

export function fieldsKey(ref: Pick<PackageRef, 'name' | 'architecture'>): string {
  return `${ref.name}\u0000${ref.architecture}`;
}

export function activationFor(plan: Plan, dpkg: DpkgDb, before: TriggerSnapshot, noTriggers: boolean): Activation {
  const unincorp = parseUnincorp(dpkg.triggers.get('Unincorp')?.toString('latin1') ?? '');
  const started = startRun(before.state, unincorp, { noTriggers });
  const events: TriggerEvent[] = [];
  const touched = new Set<string>();
  for (const rec of plan.records) {
    const now = dpkg.get(rec.ref.name, rec.ref.architecture);
    const key = keyOf(before, rec.ref, now?.displayName);
    touched.add(key);
    const status = before.state.packages[key]?.status ?? 'not-installed';
    const oldFiles = now && status !== 'not-installed' ? dpkg.files({ name: now.name, arch: now.arch }) : [];
    const oldDeclarations = now && status !== 'not-installed' ? declarationsOf(dpkg.readInfoFile({ name: now.name, arch: now.arch }, 'triggers'), `${key} triggers`) : undefined;
    if (rec.staged) {
      const members = rec.staged.entries.paths().map(displayPath).filter((p) => p !== '/.');
      const shipped = new Set(members);
      const control = rec.staged.control;
      events.push(
        ...unpackEvents({
          package: key,
          status,
          oldDeclarations,
          newDeclarations: declarationsOf(rec.staged.controlFiles.get('triggers'), `${rec.staged.archive} triggers`),
          members,
          removedPaths: oldFiles.filter((p) => p !== '/.' && !shipped.has(p)).reverse(),
          info: {
            version: rec.staged.version,
            architecture: rec.staged.architecture,
            depends: relationsOf(control.get('Pre-Depends'), 'Pre-Depends').concat(relationsOf(control.get('Depends'), 'Depends')),
            provides: relationsOf(control.get('Provides'), 'Provides').flat() as Relation[],
          },
        }),
      );
    } else if (status !== 'not-installed' && (rec.status === 'config-files' || rec.status === 'half-installed')) {
      const left = new Set(rec.files.map((f) => displayPath(f.path)));
      events.push(...removeEvents({ package: key, status, declarations: oldDeclarations, removedPaths: oldFiles.filter((p) => p !== '/.' && !left.has(p)).reverse() }));
    }
  }
  for (const ref of plan.deleted) {
    const now = dpkg.get(ref.name, ref.architecture);
    const key = keyOf(before, ref, now?.displayName);
    const status = before.state.packages[key]?.status;
    if (now === undefined || status === undefined || status === 'not-installed' || touched.has(key)) continue;
    touched.add(key);
    events.push(
      ...removeEvents({
        package: key,
        status,
        declarations: declarationsOf(dpkg.readInfoFile({ name: now.name, arch: now.arch }, 'triggers'), `${key} triggers`),
        removedPaths: dpkg.files({ name: now.name, arch: now.arch }).filter((p) => p !== '/.').reverse(),
        finalStatus: 'not-installed',
      }),
    );
  }
  const { state } = activate(started.state, events, { noTriggers });
  // Unincorp is emptied: what it held is in the state now. The packages of this run carry their trigger
  // fields in the stanza the export writes for them (fieldsOf); the others get theirs updated.
  const writes = triggerWrites({ ...before, unincorp }, state, [], touched);
  // dpkg-trigger records nothing where Unincorp is missing (triggers "never set up"); dpkg makes it on its
  // first run, and so does overmerge, or a postinst's dpkg-trigger on a new root would be lost.
  if (!dpkg.triggers.has('Unincorp') && !writes.some((w) => w.op === 'trigger-files' && 'Unincorp' in w.files)) writes.push({ op: 'trigger-files', files: { Unincorp: '' } });
  const fields = new Map<string, TriggerFields>();
  for (const rec of plan.records) {
    const p = state.packages[keyOf(before, rec.ref, dpkg.get(rec.ref.name, rec.ref.architecture)?.displayName)];
    if (p !== undefined) fields.set(fieldsKey(rec.ref), { pending: p.pending, awaited: p.awaited });
  }
  return { state, writes, fields };
}

function keyOf(before: TriggerSnapshot, ref: Pick<PackageRef, 'name' | 'architecture'>, displayName: string | undefined): string {
  if (displayName !== undefined) return displayName;
  for (const [key, r] of before.refs) if (r.name === ref.name && r.arch === ref.architecture) return key;
  return ref.name;
}

function relationsOf(value: string | undefined, field: string): RelationGroups {
  return value === undefined || value.trim() === '' ? [] : parseRelations(field, value);
}
