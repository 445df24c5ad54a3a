import type { PackageScripts } from '../script-plan';
import { refKey, type RelationEffects } from './effects';

/**
 * The transaction's script flows in the order their post-commit parts run (the engine runs each flow's
 * tail in turn, then the configure queue): what dpkg does during each unpack — a disappearing package's
 * `postrm disappear`, a conflictor's `postrm remove` — archive by archive in unpack order, then the
 * archives' own flows in the planner's configure order. Pure.
 *
 * Each flow's `post` (the old version's `postrm upgrade`, before the commit) belongs to its unpack, not to
 * its configuration: they are all carried by the first flow, in unpack order, so that reordering the
 * tails leaves them where dpkg runs them.
 */
export function orderFlows(
  effects: RelationEffects,
  /** The archives' own flows, by `name:arch`, in unpack order. */
  own: ReadonlyMap<string, PackageScripts>,
  unpackTails: ReadonlyMap<string, readonly PackageScripts[]>,
): PackageScripts[] {
  const out: PackageScripts[] = [];
  const placed = new Set<PackageScripts>();
  const place = (f: PackageScripts | undefined): void => {
    if (f === undefined || placed.has(f)) return;
    placed.add(f);
    out.push(f);
  };
  for (const a of effects.archives) for (const f of unpackTails.get(refKey(a.pkg)) ?? []) place(f);
  for (const r of effects.configureOrder) place(own.get(refKey(r)));
  for (const f of own.values()) place(f);
  const posts = [...own.values()].flatMap((f) => f.post);
  if (posts.length === 0 || out.length === 0) return out;
  return out.map((f, i) => ({ ...f, post: i === 0 ? posts : [] }));
}
