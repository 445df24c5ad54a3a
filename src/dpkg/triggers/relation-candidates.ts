import type { TriggerPackage } from './model';

/**
 * The packages a relation's name can be satisfied by, looked up instead of searched for: dpkg follows a
 * name to the packages of that name and to those providing it (`relationMatches` matches nothing else), and
 * the configure queue asks that for every dependency of every package it tries, each time round. In the
 * record's order, each package once per name, as a walk over the whole record would meet them. Pure.
 */
export class RelationCandidates {
  private readonly byName = new Map<string, TriggerPackage[]>();
  private readonly byOwnName = new Map<string, TriggerPackage[]>();

  constructor(packages: Readonly<Record<string, TriggerPackage>>) {
    for (const p of Object.values(packages)) {
      const own = baseName(p);
      add(this.byOwnName, own, p);
      add(this.byName, own, p);
      for (const pr of p.provides ?? []) if (pr.name !== own && !this.byName.get(pr.name)?.includes(p)) add(this.byName, pr.name, p);
    }
  }

  /** The packages named `name` or providing it. */
  of(name: string): readonly TriggerPackage[] {
    return this.byName.get(name) ?? [];
  }

  /** The packages named `name` (architecture qualifier aside). */
  named(name: string): readonly TriggerPackage[] {
    return this.byOwnName.get(name) ?? [];
  }
}

/** A package's name without its architecture qualifier, as relations name it. */
export function baseName(p: TriggerPackage): string {
  return p.name.split(':')[0].toLowerCase();
}

function add(map: Map<string, TriggerPackage[]>, name: string, p: TriggerPackage): void {
  const list = map.get(name);
  if (list) list.push(p);
  else map.set(name, [p]);
}
