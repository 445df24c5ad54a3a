import type { DpkgPackage, StatusTriple } from '../dpkg/dpkg-db';
import { installedScriptPath } from '../dpkg/script-runner';
import {
  packageKey,
  planScripts,
  type CallSpec,
  type DpkgStatus,
  type InstalledRef,
  type MaintScript,
  type PackageRef,
  type ScriptOperation,
  type StateChange,
} from '../dpkg/script-protocol';
import type { ScriptCall } from '../dpkg/script-sequence';
import { joinRootPath, type RootPath } from '../fs/rootpath';
import type { StagedPackage } from '../model/staged-package';
import type { ScriptTarget } from './script-session';
import type { DpkgChangeStep, DpkgIntent } from './steps/dpkg-change';
import type { RunScriptStep } from './steps/run-script';

/**
 * dpkg's maintainer-script protocol (src/dpkg/script-protocol.ts) laid onto a transaction. For each
 * package the protocol's frames are cut where the transaction cuts them:
 *
 *   pre  — the scripts and state changes before the files (prerm upgrade, preinst ...), journaled steps
 *          whose undo is the abort call dpkg makes;
 *   post — after the files, up to dpkg's first checkpoint (postrm upgrade): still undone on failure;
 *   tail — after the commit, which stands where dpkg's checkpoint stands: the removal calls dpkg never
 *          unwinds (postrm remove, postrm purge), each followed by the state it leads to. Configuring
 *          (postinst configure) is the configure queue's, after the tail (configure-run.ts).
 *
 * `commitStatus` is the state both databases record at the commit: the state dpkg has at that point
 * (unpacked for what is then configured, half-installed while the postrm is still to run). Pure: what is
 * installed comes from dpkg's database, read by the caller.
 */
export interface PackageScripts {
  key: string;
  pre: Array<RunScriptStep | DpkgChangeStep>;
  post: Array<RunScriptStep | DpkgChangeStep>;
  tail: TailItem[];
  commitStatus?: DpkgStatus;
  /** The frame where the cut stopped (dpkg's checkpoint, or a removal's files). */
  stoppedAt?: number;
}

/** One thing to do after the commit: a script call, or the state a package reaches once it succeeded. */
export type TailItem =
  | { kind: 'script'; target: ScriptTarget }
  | { kind: 'state'; name: string; arch: string; key: string; status: DpkgStatus; want: StatusTriple['want'] }
  | { kind: 'forget'; name: string; arch: string; key: string };

export interface ScriptPlanContext {
  nativeArch: string;
  /** dpkg's admin folder inside the root, where installed scripts are (info/PKG.SCRIPT). */
  admindir: RootPath;
  /** Other instances (architectures) of each name that are installed: DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT. */
  otherInstances(name: string, arch: string): number;
}

/** An archive being unpacked: where its control scripts were staged inside the root, and whether it is then configured. */
export interface UnpackInput {
  staged: StagedPackage;
  /** The folder inside the root holding the archive's scripts (the staging area's copy). */
  newScripts: RootPath;
  installed?: DpkgPackage;
  configure: boolean;
}

export function unpackScripts(u: UnpackInput, ctx: ScriptPlanContext): PackageScripts {
  const pkg: PackageRef = {
    name: u.staged.name,
    arch: u.staged.architecture,
    version: u.staged.version,
    multiArchSame: (u.staged.control.get('Multi-Arch') ?? '').toLowerCase() === 'same',
    otherInstances: ctx.otherInstances(u.staged.name, u.staged.architecture),
  };
  const installed = u.installed && u.installed.status.state !== 'not-installed' ? installedRef(u.installed, pkg.otherInstances ?? 0) : undefined;
  const op: ScriptOperation = { op: 'unpack', package: pkg, installed, nativeArch: ctx.nativeArch };
  const out = cut(op, 'install', u, ctx);
  // Configure follows (install = unpack + configure): the commit records the package unpacked, as dpkg
  // has it at that point, and the configure queue after the commit (configure-run.ts) runs its postinst.
  if (u.configure) out.commitStatus = 'unpacked';
  return out;
}

/**
 * A package being removed (or purged): its prerm before the files go; after the commit, dpkg's frames from
 * its checkpoint on — the postrm remove, the state it leads to, the postrm purge, the package forgotten.
 * The commit records the state dpkg has when its files go (half-installed, or config-files for the purge
 * of what a removal left).
 */
export function removalScripts(installed: DpkgPackage, purge: boolean, hasPostrm: boolean, hasConffiles: boolean, ctx: ScriptPlanContext): PackageScripts {
  const ref = installedRef(installed, ctx.otherInstances(installed.name, installed.arch));
  const leavesConfig = hasConffiles || hasPostrm;
  const op: ScriptOperation = { op: purge ? 'purge' : 'remove', package: ref, leavesConfig, nativeArch: ctx.nativeArch };
  const want: StatusTriple['want'] = purge ? 'purge' : 'deinstall';
  const out = cut(op, want, undefined, ctx);
  if (!hasPostrm) {
    // Nothing runs after the files: the commit records where dpkg ends (config-files, or forgotten).
    out.commitStatus = undefined;
    return out;
  }
  let state = out.commitStatus;
  const seq = planScripts(op);
  const refcount = 1 + (ref.otherInstances ?? 0);
  for (const f of seq.frames.slice(out.stoppedAt)) {
    if (f.kind === 'script') out.tail.push({ kind: 'script', target: target(f.call, undefined, ctx, refcount) });
    const changes = f.kind === 'state' ? f.changes : f.kind === 'checkpoint' ? [] : f.after;
    for (const ch of changes) {
      if (ch.key !== out.key || ch.status === undefined || ch.status === state) continue;
      state = ch.status;
      out.tail.push(
        state === 'not-installed'
          ? { kind: 'forget', name: ref.name, arch: ref.arch, key: out.key }
          : { kind: 'state', name: ref.name, arch: ref.arch, key: out.key, status: state, want },
      );
    }
  }
  return out;
}

function installedRef(p: DpkgPackage, otherInstances: number): InstalledRef {
  return {
    name: p.name,
    arch: p.arch,
    version: p.version ?? '',
    multiArchSame: p.multiArch === 'same',
    otherInstances,
    status: p.status.state as DpkgStatus,
    reinstreq: p.status.flag === 'reinstreq',
  };
}

/**
 * The frames of `op` up to dpkg's first checkpoint, as journal steps: scripts (with their fallback and
 * abort call) and the state changes around them, in pre (before the files frame) and post (after it).
 */
function cut(op: ScriptOperation, want: StatusTriple['want'], u: UnpackInput | undefined, ctx: ScriptPlanContext): PackageScripts {
  const seq = planScripts(op);
  const key = op.op === 'unpack' ? packageKey(op.package) : packageKey(op.package);
  const out: PackageScripts = { key, pre: [], post: [], tail: [] };
  const states = new Map(Object.entries(seq.initial).map(([k, s]) => [k, { ...s }]));
  const exists = new Set(Object.entries(seq.initial).filter(([, s]) => s.status !== 'not-installed').map(([k]) => k));
  let into = out.pre;
  let at = 0;
  const change = (changes: readonly StateChange[]): void => {
    for (const ch of changes) {
      const was = states.get(ch.key) ?? { status: 'not-installed' as DpkgStatus, reinstreq: false };
      const now = { status: ch.status ?? was.status, reinstreq: ch.reinstreq ?? was.reinstreq };
      states.set(ch.key, now);
      const triple: StatusTriple = { want, flag: now.reinstreq ? 'reinstreq' : 'ok', state: now.status as StatusTriple['state'] };
      const p = op.op === 'unpack' ? op.package : op.package;
      const intent: DpkgIntent = exists.has(ch.key)
        ? { op: 'status', name: p.name, arch: p.arch, status: triple }
        : { op: 'package', fields: [['Package', p.name], ['Status', `${triple.want} ${triple.flag} ${triple.state}`], ['Architecture', p.arch], ['Version', p.version]], selected: true };
      exists.add(ch.key);
      into.push({ kind: 'dpkg-change', intent, pkg: ch.key });
    }
  };
  for (; at < seq.frames.length; at++) {
    const f = seq.frames[at];
    if (f.kind === 'checkpoint') break;
    if (f.kind === 'state') {
      change(f.changes);
      continue;
    }
    // A removal's files go after dpkg's checkpoint: its scripts from there on belong to the tail.
    if (f.kind === 'files' && op.op !== 'unpack') break;
    change(f.before);
    if (f.kind === 'files') {
      into = out.post;
    } else if (!(absentFromArchive(f.call, u) && (f.fallback === undefined || absentFromArchive(f.fallback, u)) && (f.cleanup === undefined || absentFromArchive(f.cleanup.call, u)))) {
      const refcount = (seq.otherInstances[f.call.key] ?? 0) + (states.get(f.call.key)?.status === 'not-installed' ? 0 : 1);
      into.push({
        kind: 'run-script',
        target: target(f.call, u, ctx, refcount),
        ...(f.fallback ? { fallback: target(f.fallback, u, ctx, refcount) } : {}),
        ...(f.cleanup ? { cleanup: { ...target(f.cleanup.call, u, ctx, refcount), group: f.cleanup.group } } : {}),
      });
    }
    change(f.after);
  }
  out.stoppedAt = at;
  // The package's state where the cut stopped: what the commit records, unless configure follows.
  if (op.op !== 'unpack') out.commitStatus = states.get(key)?.status;
  return out;
}

/**
 * A call of the archive's own script that its control part does not have, where a missing script is a
 * success: the call does nothing, and its step is left out — a step that does nothing either way (an
 * absent preinst whose abort call, postrm abort-install, is absent too) still cost a journal intent of its
 * own, written alone and synced, for most packages of a bootstrap.
 */
function absentFromArchive(call: CallSpec, u: UnpackInput | undefined): boolean {
  return call.source === 'new' && u !== undefined && call.ifAbsent === 'ok' && !u.staged.controlFiles.has(call.script);
}

function target(call: CallSpec, u: UnpackInput | undefined, ctx: ScriptPlanContext, refcount: number): ScriptTarget {
  const made: ScriptCall = { ...call, refcount };
  const script =
    call.source === 'new' && u !== undefined ? joinRootPath(u.newScripts, call.script) : installedScriptPath(call.key, call.script as MaintScript, ctx.admindir);
  return { call: made, script };
}
