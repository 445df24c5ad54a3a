import type { PackageRef, RelationsPlan } from '../../dpkg/relations';

/**
 * Where one install must become several transactions: a package that pre-depends on another of the same
 * call needs that one configured — its postinst run — before its own preinst runs. overmerge runs every
 * postinst after its transaction's commit, so the pre-dependency (and what the planner configures with
 * it) is installed by a transaction of its own first, as apt runs `dpkg -i` on it first. Pure.
 *
 * The planner marks those configurations (`forPreDependsOf`): each run of them is a stage, holding the
 * archives it configured, in the order they were unpacked; every other archive goes to the last stage, in
 * its unpack order. Without such a run there is one stage: the whole call, one transaction; and so without
 * `preDependsFirst`, as dpkg itself unpacks one call (TxnOptions.preDependsFirst).
 */
export function unpackStages<A>(
  plan: RelationsPlan,
  archives: readonly A[],
  refOf: (a: A) => { name: string; architecture: string },
  preDependsFirst = true,
): A[][] {
  const key = (r: { name: string; architecture: string }): string => `${r.name}:${r.architecture}`;
  const byKey = new Map(archives.map((a) => [key(refOf(a)), a]));
  const unpackOrder = plan.steps.filter((s) => s.op === 'unpack').map((s) => key(s.pkg));
  const early: Array<Set<string>> = [];
  let run: Set<string> | undefined;
  for (const s of plan.steps) {
    if (preDependsFirst && s.op === 'configure' && s.forPreDependsOf !== undefined) {
      (run ??= new Set()).add(key(s.pkg));
      continue;
    }
    if (run) early.push(run);
    run = undefined;
  }
  if (run) early.push(run);
  const placed = new Set(early.flatMap((s) => [...s]));
  const stages = [...early.map((s) => unpackOrder.filter((k) => s.has(k))), unpackOrder.filter((k) => !placed.has(k))];
  // Archives the plan does not unpack (none, once it has no problem) go with the last stage.
  const listed = new Set(unpackOrder);
  const rest = archives.filter((a) => !listed.has(key(refOf(a))));
  const out = stages.map((ks) => ks.map((k) => byKey.get(k)).filter((a): a is A => a !== undefined)).filter((s) => s.length > 0);
  if (out.length === 0) return [[...archives]];
  out[out.length - 1].push(...rest);
  return out;
}

/** The packages the plan configures, in its order (what the post-commit queue follows). */
export function configureOrder(plan: RelationsPlan): PackageRef[] {
  return plan.steps.filter((s) => s.op === 'configure').map((s) => s.pkg);
}

/**
 * A stage cut where an archive's scripts must run before its files and after the files of the archives
 * before it. dpkg unpacks one archive at a time, so base-passwd's preinst (`cat > $DPKG_ROOT/etc/passwd`)
 * finds the /etc that base-files, earlier on the command line, shipped. overmerge runs the scripts of a
 * transaction before any of its files, so such an archive starts a transaction of its own: the scripts of
 * each transaction see everything unpacked before it, as under dpkg. Archives without such scripts stay
 * with the one before them (a call without any is one transaction). Pure.
 */
export function cutAtScripts<A>(stage: readonly A[], scriptsFirst: (a: A) => boolean): A[][] {
  const out: A[][] = [];
  for (const a of stage) {
    if (out.length === 0 || scriptsFirst(a)) out.push([a]);
    else out[out.length - 1].push(a);
  }
  return out;
}
