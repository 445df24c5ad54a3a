import type { DpkgDb, DpkgPackage, StatusTriple } from '../../dpkg/dpkg-db';
import {
  packageKey,
  planScripts,
  type CallSpec,
  type ConflictorRef,
  type DpkgStatus,
  type Frame,
  type InstalledRef,
  type PackageRef as ProtocolRef,
  type StateChange,
} from '../../dpkg/script-protocol';
import { installedScriptPath } from '../../dpkg/script-runner';
import type { StagedPackage } from '../../model/staged-package';
import { removalScripts, type PackageScripts, type ScriptPlanContext, type TailItem } from '../script-plan';
import type { ScriptTarget } from '../script-session';
import type { DpkgChangeStep } from '../steps/dpkg-change';
import type { RunScriptStep } from '../steps/run-script';
import type { ArchiveEffects } from './effects';

/**
 * The maintainer scripts dpkg runs for the *other* packages an unpack touches (script-protocol.ts's
 * UNPACK_TABLE, the per-package blocks), laid onto overmerge's transaction beside the archive's own flow
 * (script-plan.ts unpackScripts):
 *
 * - before the archive's preinst: `prerm deconfigure in-favour P V [removing R RV]` for each package
 *   deconfigured, `prerm remove in-favour P V` for each conflictor, with their state changes and abort
 *   calls (journaled steps, undone as dpkg unwinds them);
 * - after the commit, before the configure queue: a conflictor's `postrm remove` and the state it ends
 *   in (its files go with the transaction's, as a removal), and a package that disappears given
 *   `postrm disappear P V`, then forgotten.
 *
 * A deconfigured package is left half-configured at the commit; the configure queue (configure-run.ts)
 * configures it again, in the planner's order (Planned.configureOrder names it).
 */

type PreStep = RunScriptStep | DpkgChangeStep;

export interface RelationScripts {
  /** Steps to run just before the archive's preinst (its flow's pre holds them once spliced). */
  readonly before: PreStep[];
  /** One flow per conflictor and per disappearing package: their post-commit calls (`pre` empty). */
  readonly unpackTails: PackageScripts[];
}

export interface ArchiveScriptInput {
  readonly staged: StagedPackage;
  readonly effects: ArchiveEffects;
}

export function relationScripts(dpkg: DpkgDb, ctx: ScriptPlanContext, a: ArchiveScriptInput): RelationScripts {
  const get = (r: { name: string; architecture: string }): DpkgPackage | undefined => dpkg.get(r.name, r.architecture);
  const present = (p: DpkgPackage | undefined): p is DpkgPackage => p !== undefined && p.status.state !== 'not-installed';
  const deconfigure = a.effects.deconfigure.flatMap((d) => {
    const now = get(d.pkg);
    const removing = d.removing && get(d.removing);
    return present(now) ? [{ now, removing: present(removing) ? removing : undefined }] : [];
  });
  const conflictors = a.effects.conflictors.map(get).filter(present);
  const disappear = a.effects.disappear.map(get).filter(present);
  const out: RelationScripts = { before: [], unpackTails: [] };
  if (deconfigure.length + conflictors.length + disappear.length === 0) return out;

  const pkg = protocolRef(a.staged, ctx);
  const installed = get({ name: a.staged.name, architecture: a.staged.architecture });
  const seq = planScripts({
    op: 'unpack',
    package: pkg,
    installed: present(installed) ? installedRef(installed, ctx) : undefined,
    deconfigure: deconfigure.map((d) => ({ package: installedRef(d.now, ctx), ...(d.removing ? { removing: installedRef(d.removing, ctx) } : {}) })),
    conflictors: conflictors.map((c) => conflictorRef(c, dpkg, ctx)),
    disappear: disappear.map((d) => installedRef(d, ctx)),
    nativeArch: ctx.nativeArch,
  });
  const self = packageKey(pkg);
  const others = new Map<string, DpkgPackage>([...deconfigure.map((d) => d.now), ...conflictors, ...disappear].map((p) => [keyOf(p), p]));
  out.before.push(...beforeUnpack(seq.frames, seq.initial, seq.otherInstances, self, others, ctx));

  for (const d of disappear) {
    const call = seq.frames.find((f): f is Extract<Frame, { kind: 'script' }> => f.kind === 'script' && f.call.key === keyOf(d) && f.row === 'postrm disappear');
    const tail: TailItem[] = [];
    if (call) tail.push({ kind: 'script', target: target(call.call, ctx, 1 + ctx.otherInstances(d.name, d.arch)) });
    tail.push({ kind: 'forget', name: d.name, arch: d.arch, key: keyOf(d) });
    out.unpackTails.push({ key: keyOf(d), pre: [], post: [], tail });
  }
  for (const c of conflictors) out.unpackTails.push(conflictorTail(c, dpkg, ctx));
  return out;
}

/**
 * Splices `before` into the archive's flow just ahead of its preinst: after its own prerm upgrade (dpkg
 * runs that first), before the state change that opens the preinst (half-installed, or the new stanza of
 * a package dpkg did not know).
 */
export function spliceBefore(flow: PackageScripts, before: readonly PreStep[]): void {
  if (before.length === 0) return;
  const at = flow.pre.findIndex(
    (s) => s.kind === 'dpkg-change' && s.pkg === flow.key && (s.intent.op === 'package' || (s.intent.op === 'status' && s.intent.status.state === 'half-installed')),
  );
  flow.pre.splice(at < 0 ? flow.pre.length : at, 0, ...before);
}

/** The other packages' frames before the archive's files, as journal steps (as script-plan.ts cuts them). */
function beforeUnpack(
  frames: readonly Frame[],
  initial: Readonly<Record<string, { status: DpkgStatus; reinstreq: boolean }>>,
  otherInstances: Readonly<Record<string, number>>,
  self: string,
  others: ReadonlyMap<string, DpkgPackage>,
  ctx: ScriptPlanContext,
): PreStep[] {
  const states = new Map(Object.entries(initial).map(([k, s]) => [k, { ...s }]));
  const steps: PreStep[] = [];
  const change = (changes: readonly StateChange[]): void => {
    for (const ch of changes) {
      const p = others.get(ch.key);
      if (ch.key === self || p === undefined) continue;
      const was = states.get(ch.key) ?? { status: 'not-installed' as DpkgStatus, reinstreq: false };
      const now = { status: ch.status ?? was.status, reinstreq: ch.reinstreq ?? was.reinstreq };
      states.set(ch.key, now);
      // dpkg leaves the other package's selection as it is (a conflictor removed in favour keeps `install`).
      const status: StatusTriple = { want: p.status.want, flag: now.reinstreq ? 'reinstreq' : 'ok', state: now.status as StatusTriple['state'] };
      steps.push({ kind: 'dpkg-change', intent: { op: 'status', name: p.name, arch: p.arch, status }, pkg: ch.key });
    }
  };
  for (const f of frames) {
    if (f.kind === 'files' || f.kind === 'checkpoint') break;
    if (f.kind === 'state') {
      change(f.changes);
      continue;
    }
    if (f.call.key === self) continue;
    change(f.before);
    const refcount = (otherInstances[f.call.key] ?? 0) + (states.get(f.call.key)?.status === 'not-installed' ? 0 : 1);
    steps.push({
      kind: 'run-script',
      target: target(f.call, ctx, refcount),
      ...(f.cleanup ? { cleanup: { ...target(f.cleanup.call, ctx, refcount), group: f.cleanup.group } } : {}),
    });
    change(f.after);
  }
  return steps;
}

/**
 * A conflictor's post-commit part is a removal's (postrm remove, then config-files or forgotten), with
 * the selection dpkg keeps for it; its prerm ran in favour of the new package (beforeUnpack).
 */
function conflictorTail(c: DpkgPackage, dpkg: DpkgDb, ctx: ScriptPlanContext): PackageScripts {
  const hasPostrm = dpkg.infoFiles({ name: c.name, arch: c.arch }).includes('postrm');
  const flow = removalScripts(c, false, hasPostrm, c.conffiles.length > 0, ctx);
  const tail = flow.tail.map((t): TailItem => (t.kind === 'state' ? { ...t, want: c.status.want } : t));
  const endsWithConfig = hasPostrm || c.conffiles.length > 0;
  // Without a postrm the commit itself records the end state, with a removal's selection: set dpkg's back.
  if (!hasPostrm && endsWithConfig) tail.push({ kind: 'state', name: c.name, arch: c.arch, key: flow.key, status: 'config-files', want: c.status.want });
  return { ...flow, pre: [], post: [], tail };
}

function target(call: CallSpec, ctx: ScriptPlanContext, refcount: number): ScriptTarget {
  // Every call here is of an installed package's own script, in dpkg's info/.
  return { call: { ...call, refcount }, script: installedScriptPath(call.key, call.script, ctx.admindir) };
}

function keyOf(p: DpkgPackage): string {
  return packageKey({ name: p.name, arch: p.arch, multiArchSame: p.multiArch === 'same' });
}

function protocolRef(s: StagedPackage, ctx: ScriptPlanContext): ProtocolRef {
  return {
    name: s.name,
    arch: s.architecture,
    version: s.version,
    multiArchSame: (s.control.get('Multi-Arch') ?? '').toLowerCase() === 'same',
    otherInstances: ctx.otherInstances(s.name, s.architecture),
  };
}

function installedRef(p: DpkgPackage, ctx: ScriptPlanContext): InstalledRef {
  return {
    name: p.name,
    arch: p.arch,
    version: p.version ?? '',
    multiArchSame: p.multiArch === 'same',
    otherInstances: ctx.otherInstances(p.name, p.arch),
    status: p.status.state as DpkgStatus,
    reinstreq: p.status.flag === 'reinstreq',
  };
}

function conflictorRef(p: DpkgPackage, dpkg: DpkgDb, ctx: ScriptPlanContext): ConflictorRef {
  const hasPostrm = dpkg.infoFiles({ name: p.name, arch: p.arch }).includes('postrm');
  return { ...installedRef(p, ctx), leavesConfig: hasPostrm || p.conffiles.length > 0 };
}
