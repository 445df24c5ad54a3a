import { OvermergeError } from '../errors';
import { formatVersion, parseVersion } from '../control/version';
import { STATES, type PkgState } from './model';

/**
 * Which maintainer scripts dpkg 1.21 runs for an operation, with which arguments, in which order, what each
 * call leaves the package's status at, and what dpkg calls to undo each one when something later fails:
 * Debian Policy chapter 6 as dpkg implements it (src/main/unpack.c process_archive, configure.c
 * deferred_configure, remove.c deferred_remove/removal_bulk, cleanup.c cu_*, script.c maintscript_fallback).
 *
 * The tables below are the whole protocol. Each row is one step of dpkg's forward path; a row may carry the
 * abort call dpkg pushes onto its cleanup stack *before* running the row's script (so a failure of that very
 * script unwinds it too), and a fallback (dpkg's "trying script from the new package instead"). A checkpoint
 * row is dpkg's push_checkpoint: a failure after it unwinds nothing before it. `planScripts` expands a table
 * for one operation into frames; script-sequence.ts walks the frames. Nothing here does I/O.
 */

export type MaintScript = 'preinst' | 'postinst' | 'prerm' | 'postrm';

/** dpkg's words for the scripts, as its messages use them. */
export const SCRIPT_DESCRIPTION: Readonly<Record<MaintScript, string>> = {
  preinst: 'pre-installation',
  postinst: 'post-installation',
  prerm: 'pre-removal',
  postrm: 'post-removal',
};

/** dpkg's package statuses, in dpkg's order (enum pkgstatus). */
export const DPKG_STATUSES = STATES;
export type DpkgStatus = PkgState;

/** A status and dpkg's reinst-required flag ("reinstreq" in the Status field). */
export interface PackageState {
  readonly status: DpkgStatus;
  readonly reinstreq: boolean;
}

/**
 * Where a script is taken from: the installed package's copy in the info database
 * (/var/lib/dpkg/info/PKG.SCRIPT), or the control area of the archive being unpacked (dpkg's tmp.ci).
 * The new package's scripts replace the installed ones only after the old postrm ran.
 */
export type ScriptSource = 'installed' | 'new';

/** A package as the protocol needs it. Versions are normalised as dpkg prints them (no `0:` epoch). */
export interface PackageRef {
  readonly name: string;
  readonly arch: string;
  readonly version: string;
  /** Multi-Arch: same. Such a package is named `name:arch` in arguments and keyed so in states. */
  readonly multiArchSame?: boolean;
  /** Instances of the same name for other architectures that are not `not-installed` (for the refcount). */
  readonly otherInstances?: number;
}

/** An installed package and its status (before the operation). */
export interface InstalledRef extends PackageRef {
  readonly status: DpkgStatus;
  readonly reinstreq?: boolean;
}

/** An installed package removed at the end of an unpack because the new one conflicts with it. */
export interface ConflictorRef extends InstalledRef {
  /** It has conffiles or a postrm: dpkg leaves it in config-files; otherwise it goes to not-installed. */
  readonly leavesConfig: boolean;
}

/** Unpack an archive: fresh install, install over config-files, upgrade, reinstall, downgrade. */
export interface UnpackOperation {
  readonly op: 'unpack';
  /** The package in the archive, with its (new) version and architecture. */
  readonly package: PackageRef;
  /** The same package as installed now; absent means not-installed. */
  readonly installed?: InstalledRef;
  /** Packages deconfigured for this unpack (Breaks, or depending on a conflictor being removed). */
  readonly deconfigure?: readonly { readonly package: InstalledRef; readonly removing?: InstalledRef }[];
  /** Installed packages removed in favour of this one (Conflicts + Replaces). */
  readonly conflictors?: readonly ConflictorRef[];
  /** Installed packages whose every file this one takes over (Replaces): they disappear. */
  readonly disappear?: readonly InstalledRef[];
  /** dpkg's native architecture: a package of another one is named `name:arch` in arguments. */
  readonly nativeArch: string;
}

/** Configure an unpacked (or half-configured) package: `postinst configure LAST-CONFIGURED-VERSION`. */
export interface ConfigureOperation {
  readonly op: 'configure';
  readonly package: InstalledRef;
  /** The version last configured (dpkg's Config-Version); absent when it never was: dpkg then passes ''. */
  readonly configVersion?: string;
  readonly nativeArch: string;
}

/** Remove (keep conffiles) or purge an installed package, or purge one in config-files. */
export interface RemoveOperation {
  readonly op: 'remove' | 'purge';
  readonly package: InstalledRef;
  /** It has conffiles or a postrm (dpkg then stops at config-files on remove). */
  readonly leavesConfig: boolean;
  readonly nativeArch: string;
}

export type ScriptOperation = UnpackOperation | ConfigureOperation | RemoveOperation;

/** One script call as a frame holds it: whose script, from where, which arguments. */
export interface CallSpec {
  /** The key of the package in the states (see packageKey). */
  readonly key: string;
  /** The package name without architecture (DPKG_MAINTSCRIPT_PACKAGE). */
  readonly package: string;
  /** The architecture of the package whose script this is (DPKG_MAINTSCRIPT_ARCH). */
  readonly arch: string;
  /** The version of the package whose script this is. */
  readonly version: string;
  readonly source: ScriptSource;
  readonly script: MaintScript;
  /** The arguments after the script name ($1...). */
  readonly args: readonly string[];
  /**
   * What a missing script means. dpkg treats a missing script as success, except the new package's script
   * tried after the installed one failed: "there is no script in the new version of the package - giving up".
   */
  readonly ifAbsent: 'ok' | 'fail';
}

export interface StateChange {
  readonly key: string;
  readonly status?: DpkgStatus;
  readonly reinstreq?: boolean;
}

/**
 * dpkg skips the remaining abort calls of a group once one of them failed (cleanup_pkg_failed for the
 * package being unpacked or removed, cleanup_conflictor_failed for conflictors; a failed undo of the
 * unpacked files counts against both). `always`: cu_prermdeconfigure, which checks neither.
 */
export type CleanupGroup = 'package' | 'conflictor' | 'always';

export interface ScriptCleanup {
  readonly group: CleanupGroup;
  readonly call: CallSpec;
  /** Applied when the abort call succeeds (or the script is missing). */
  readonly after: readonly StateChange[];
}

/**
 * The filesystem work between scripts, which the engine does and journals. `unpack` (placing the new files)
 * is undone when a later step unwinds; the others come after a checkpoint and are never undone by dpkg.
 */
export type FilesStep =
  | 'unpack' // place the new files (dpkg: tar extraction with .dpkg-new/.dpkg-tmp backups)
  | 'finish-unpack' // remove the old version's files, replace the info database (scripts) with the new one
  | 'configure-conffiles' // install or keep the new conffiles
  | 'remove-files' // remove the package's files (not conffiles)
  | 'remove-control-files' // remove its info files (scripts...) except postrm and the file list
  | 'purge-conffiles'; // remove the conffiles and their backups

export type Frame =
  | {
      readonly kind: 'script';
      /** The row it came from (`prerm upgrade`, ...), for logs and tests. */
      readonly row: string;
      readonly before: readonly StateChange[];
      readonly cleanup?: ScriptCleanup;
      readonly call: CallSpec;
      readonly fallback?: CallSpec;
      readonly after: readonly StateChange[];
    }
  | {
      readonly kind: 'files';
      readonly row: string;
      readonly files: FilesStep;
      readonly key: string;
      readonly before: readonly StateChange[];
      /** Whether a later failure undoes it (its undo is an unwind step, in dpkg's order). */
      readonly undoable: boolean;
      readonly after: readonly StateChange[];
    }
  | { readonly kind: 'state'; readonly row: string; readonly changes: readonly StateChange[] }
  | { readonly kind: 'checkpoint'; readonly row: string };

/** An operation expanded: the frames in forward order and every involved package's state before it. */
export interface ScriptSequence {
  readonly operation: ScriptOperation;
  readonly frames: readonly Frame[];
  readonly initial: Readonly<Record<string, PackageState>>;
  /** Instances of each key's name for other architectures (DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT is this + 1). */
  readonly otherInstances: Readonly<Record<string, number>>;
}

// ---------------------------------------------------------------------------------------------------------
// The tables. Roles: P is the package of the operation, X the other package of a per-other block. Arguments
// in braces are filled in by `planScripts`:
//   {old}        P's installed version            {new}       P's version in the archive
//   {configured} P's last configured version, or '' when it never was (dpkg passes an empty argument)
//   {P}          P's name as dpkg prints it (name:arch for Multi-Arch: same or a foreign architecture)
//   {removing}   nothing, or `removing R R-VERSION` when X is deconfigured because R is being removed
//   {prior}      (a status) P's status just before the row: what dpkg restores on abort
// ---------------------------------------------------------------------------------------------------------

type Role = 'P' | 'X';
type CallRow = readonly [Role, ScriptSource, MaintScript, ...string[]];
type ChangeRow = readonly [Role, DpkgStatus | '{prior}' | '{left}' | undefined, boolean?];

type Condition =
  | 'P not-installed'
  | 'P config-files'
  | 'P present' // half-installed ... installed: an upgrade (reinstall, downgrade)
  | 'P configured' // half-configured ... installed: its prerm runs
  | 'P unpacked'
  | 'X configured'
  | 'P removable' // anything but config-files: files to remove
  | 'purge and leaves config'
  | 'leaves nothing';

interface ScriptRow {
  readonly row: string;
  readonly when?: Condition;
  readonly before?: readonly ChangeRow[];
  readonly cleanup?: { readonly group: CleanupGroup; readonly call: CallRow; readonly after: readonly ChangeRow[] };
  readonly call: CallRow;
  readonly fallback?: CallRow;
  readonly after?: readonly ChangeRow[];
}
interface FilesRow {
  readonly row: string;
  readonly when?: Condition;
  readonly files: FilesStep;
  readonly who: Role;
  readonly before?: readonly ChangeRow[];
  readonly undoable: boolean;
  readonly after?: readonly ChangeRow[];
}
interface StateRow {
  readonly row: string;
  readonly when?: Condition;
  readonly state: readonly ChangeRow[];
}
interface CheckpointRow {
  readonly row: 'checkpoint';
  readonly when?: Condition;
}
interface EachRow {
  readonly each: 'deconfigure' | 'conflictor' | 'disappear';
  readonly rows: readonly Row[];
}
type Row = ScriptRow | FilesRow | StateRow | CheckpointRow | EachRow;

const CHECKPOINT: CheckpointRow = { row: 'checkpoint' };

/** process_archive (unpack.c) with the cu_* handlers of cleanup.c. */
export const UNPACK_TABLE: readonly Row[] = [
  {
    row: 'prerm upgrade',
    when: 'P configured',
    before: [['P', 'half-configured', true]],
    cleanup: { group: 'package', call: ['P', 'installed', 'postinst', 'abort-upgrade', '{new}'], after: [['P', 'installed', false]] },
    call: ['P', 'installed', 'prerm', 'upgrade', '{new}'],
    fallback: ['P', 'new', 'prerm', 'failed-upgrade', '{old}', '{new}'],
    after: [['P', 'unpacked']],
  },
  {
    each: 'deconfigure',
    rows: [
      {
        row: 'prerm deconfigure',
        before: [['X', 'half-configured']],
        cleanup: {
          group: 'always',
          call: ['X', 'installed', 'postinst', 'abort-deconfigure', 'in-favour', '{P}', '{new}', '{removing}'],
          after: [['X', 'installed']],
        },
        call: ['X', 'installed', 'prerm', 'deconfigure', 'in-favour', '{P}', '{new}', '{removing}'],
      },
    ],
  },
  {
    each: 'conflictor',
    rows: [
      {
        row: 'prerm remove in-favour',
        when: 'X configured',
        before: [['X', 'half-configured']],
        cleanup: {
          group: 'conflictor',
          call: ['X', 'installed', 'postinst', 'abort-remove', 'in-favour', '{P}', '{new}'],
          after: [['X', 'installed', false]],
        },
        call: ['X', 'installed', 'prerm', 'remove', 'in-favour', '{P}', '{new}'],
        after: [['X', 'half-installed']],
      },
    ],
  },
  {
    row: 'preinst install',
    when: 'P not-installed',
    before: [['P', 'half-installed', true]],
    cleanup: { group: 'package', call: ['P', 'new', 'postrm', 'abort-install'], after: [['P', 'not-installed', false]] },
    call: ['P', 'new', 'preinst', 'install'],
  },
  {
    row: 'preinst install (over config-files)',
    when: 'P config-files',
    before: [['P', 'half-installed', true]],
    cleanup: {
      group: 'package',
      call: ['P', 'new', 'postrm', 'abort-install', '{old}', '{new}'],
      after: [['P', 'config-files', false]],
    },
    call: ['P', 'new', 'preinst', 'install', '{old}', '{new}'],
  },
  {
    row: 'preinst upgrade',
    when: 'P present',
    before: [['P', 'half-installed', true]],
    cleanup: {
      group: 'package',
      call: ['P', 'new', 'postrm', 'abort-upgrade', '{old}', '{new}'],
      after: [['P', '{prior}', false]],
    },
    call: ['P', 'new', 'preinst', 'upgrade', '{old}', '{new}'],
  },
  { row: 'unpack files', files: 'unpack', who: 'P', undoable: true },
  {
    row: 'postrm upgrade',
    when: 'P present',
    before: [['P', 'half-installed']],
    // The installed preinst is still the old one here: the info database is replaced after this.
    cleanup: { group: 'package', call: ['P', 'installed', 'preinst', 'abort-upgrade', '{new}'], after: [] },
    call: ['P', 'installed', 'postrm', 'upgrade', '{new}'],
    fallback: ['P', 'new', 'postrm', 'failed-upgrade', '{old}', '{new}'],
  },
  CHECKPOINT,
  { row: 'remove old files, install new control files', files: 'finish-unpack', who: 'P', undoable: false },
  {
    each: 'disappear',
    rows: [{ row: 'postrm disappear', call: ['X', 'installed', 'postrm', 'disappear', '{P}', '{new}'], after: [['X', 'not-installed', false]] }],
  },
  { row: 'unpacked', state: [['P', 'unpacked', false]] },
  CHECKPOINT,
  {
    each: 'conflictor',
    rows: [
      { row: 'remove conflictor files', files: 'remove-files', who: 'X', before: [['X', 'half-installed']], undoable: false },
      CHECKPOINT,
      { row: 'postrm remove (conflictor)', call: ['X', 'installed', 'postrm', 'remove'] },
      { row: 'remove conflictor control files', files: 'remove-control-files', who: 'X', undoable: false, after: [['X', '{left}']] },
      CHECKPOINT,
    ],
  },
];

/** deferred_configure (configure.c). A failing postinst leaves the package half-configured: nothing unwinds. */
export const CONFIGURE_TABLE: readonly Row[] = [
  {
    row: 'configure conffiles',
    when: 'P unpacked',
    files: 'configure-conffiles',
    who: 'P',
    undoable: false,
    after: [['P', 'half-configured']],
  },
  { row: 'postinst configure', call: ['P', 'installed', 'postinst', 'configure', '{configured}'], after: [['P', 'installed', false]] },
];

/** deferred_remove and removal_bulk (remove.c). */
export const REMOVE_TABLE: readonly Row[] = [
  {
    row: 'prerm remove',
    when: 'P configured',
    before: [['P', 'half-configured']],
    cleanup: { group: 'package', call: ['P', 'installed', 'postinst', 'abort-remove'], after: [['P', '{prior}', false]] },
    call: ['P', 'installed', 'prerm', 'remove'],
    after: [['P', 'unpacked']],
  },
  { row: 'half-installed', when: 'P removable', state: [['P', 'half-installed']] },
  { ...CHECKPOINT, when: 'P removable' },
  { row: 'remove files', when: 'P removable', files: 'remove-files', who: 'P', undoable: false },
  { row: 'postrm remove', when: 'P removable', call: ['P', 'installed', 'postrm', 'remove'] },
  { row: 'remove control files', when: 'P removable', files: 'remove-control-files', who: 'P', undoable: false, after: [['P', 'config-files']] },
  { ...CHECKPOINT, when: 'P removable' },
  { row: 'purge conffiles', when: 'purge and leaves config', files: 'purge-conffiles', who: 'P', undoable: false },
  { row: 'postrm purge', when: 'purge and leaves config', call: ['P', 'installed', 'postrm', 'purge'], after: [['P', 'not-installed', false]] },
  // No conffiles and no postrm: dpkg purges at once, whatever was asked (removal_bulk).
  { row: 'not-installed', when: 'leaves nothing', state: [['P', 'not-installed', false]] },
];

// ---------------------------------------------------------------------------------------------------------

/** The key of a package in a sequence's states: its name, or name:arch for Multi-Arch: same. */
export function packageKey(p: Pick<PackageRef, 'name' | 'arch' | 'multiArchSame'>): string {
  return p.multiArchSame ? `${p.name}:${p.arch}` : p.name;
}

/** A package's name as dpkg prints it in script arguments (pkg_name(..., pnaw_nonambig)). */
export function nonAmbiguousName(p: Pick<PackageRef, 'name' | 'arch' | 'multiArchSame'>, nativeArch: string): string {
  if (p.arch === '' || p.arch === 'none') return p.name;
  if (p.multiArchSame || (p.arch !== 'all' && p.arch !== nativeArch)) return `${p.name}:${p.arch}`;
  return p.name;
}

/** Expands the table of `op` into frames. Pure; throws E_INTERNAL for an operation that makes no sense. */
export function planScripts(op: ScriptOperation): ScriptSequence {
  const ctx = contextOf(op);
  const frames: Frame[] = [];
  expand(tableOf(op), ctx, undefined, frames);
  return Object.freeze({ operation: op, frames: Object.freeze(frames), initial: Object.freeze(ctx.initial), otherInstances: Object.freeze(ctx.others) });
}

function tableOf(op: ScriptOperation): readonly Row[] {
  switch (op.op) {
    case 'unpack':
      return UNPACK_TABLE;
    case 'configure':
      return CONFIGURE_TABLE;
    case 'remove':
    case 'purge':
      return REMOVE_TABLE;
  }
}

interface Context {
  readonly op: ScriptOperation;
  readonly p: { key: string; installed?: PackageRef; archive?: PackageRef; status: DpkgStatus };
  readonly vars: Readonly<Record<string, string>>;
  readonly initial: Record<string, PackageState>;
  readonly others: Record<string, number>;
  /** P's status as the forward path so far leaves it (for {prior}). */
  pStatus: DpkgStatus;
}

/** Another package of a per-other block. */
interface Other {
  readonly ref: InstalledRef;
  readonly key: string;
  readonly removing?: InstalledRef;
  readonly leavesConfig?: boolean;
}

function contextOf(op: ScriptOperation): Context {
  const initial: Record<string, PackageState> = {};
  const others: Record<string, number> = {};
  const track = (ref: InstalledRef | PackageRef, status: DpkgStatus, reinstreq: boolean) => {
    const key = packageKey(ref);
    if (initial[key] !== undefined) internal(`package ${key} appears twice in one operation`);
    initial[key] = { status, reinstreq };
    others[key] = ref.otherInstances ?? 0;
  };
  if (op.op === 'unpack') {
    const archive = normalised(op.package);
    const installed = op.installed && op.installed.status !== 'not-installed' ? normalised(op.installed) : undefined;
    if (installed && packageKey(installed) !== packageKey(archive)) internal(`unpack of ${packageKey(archive)} over ${packageKey(installed)}`);
    const status = installed ? op.installed!.status : 'not-installed';
    track(archive, status, op.installed?.reinstreq ?? false);
    for (const d of op.deconfigure ?? []) track(d.package, d.package.status, d.package.reinstreq ?? false);
    for (const c of op.conflictors ?? []) track(c, c.status, c.reinstreq ?? false);
    for (const x of op.disappear ?? []) track(x, x.status, x.reinstreq ?? false);
    const vars = { '{old}': installed?.version ?? '', '{new}': archive.version, '{P}': nonAmbiguousName(archive, op.nativeArch) };
    return { op, p: { key: packageKey(archive), installed, archive, status }, vars, initial, others, pStatus: status };
  }
  const pkg = normalised(op.package);
  if (op.package.status === 'not-installed') internal(`${op.op} of ${packageKey(pkg)}, which is not installed`);
  if (op.op === 'configure' && op.package.status !== 'unpacked' && op.package.status !== 'half-configured') {
    internal(`configure of ${packageKey(pkg)} in state ${op.package.status}`);
  }
  track(pkg, op.package.status, op.package.reinstreq ?? false);
  const configured = op.op === 'configure' && op.configVersion !== undefined && op.configVersion !== '' ? version(op.configVersion) : '';
  const vars = { '{old}': pkg.version, '{new}': pkg.version, '{configured}': configured, '{P}': nonAmbiguousName(pkg, op.nativeArch) };
  return { op, p: { key: packageKey(pkg), installed: pkg, status: op.package.status }, vars, initial, others, pStatus: op.package.status };
}

function expand(rows: readonly Row[], ctx: Context, x: Other | undefined, out: Frame[]): void {
  for (const row of rows) {
    if ('each' in row) {
      for (const other of othersOf(ctx.op, row.each)) expand(row.rows, ctx, other, out);
      continue;
    }
    if (row.when !== undefined && !holds(row.when, ctx, x)) continue;
    // P's status before the row: what an abort call of the row restores ({prior}).
    const prior = ctx.pStatus;
    const forward = (rows: readonly ChangeRow[] | undefined) => changes(rows, ctx, x, prior, true);
    if ('state' in row) {
      out.push({ kind: 'state', row: row.row, changes: forward(row.state) });
    } else if ('files' in row) {
      const key = row.who === 'P' ? ctx.p.key : other(x).key;
      const before = forward(row.before);
      out.push({ kind: 'files', row: row.row, files: row.files, key, before, undoable: row.undoable, after: forward(row.after) });
    } else if ('call' in row) {
      const before = forward(row.before);
      const cleanup = row.cleanup && {
        group: row.cleanup.group,
        call: call(row.cleanup.call, ctx, x, 'ok'),
        after: changes(row.cleanup.after, ctx, x, prior, false),
      };
      const frame: Frame = {
        kind: 'script',
        row: row.row,
        before,
        ...(cleanup ? { cleanup } : {}),
        call: call(row.call, ctx, x, 'ok'),
        ...(row.fallback ? { fallback: call(row.fallback, ctx, x, 'fail') } : {}),
        after: forward(row.after),
      };
      out.push(frame);
    } else {
      out.push({ kind: 'checkpoint', row: row.row });
    }
  }
}

function othersOf(op: ScriptOperation, each: EachRow['each']): Other[] {
  if (op.op !== 'unpack') return [];
  switch (each) {
    case 'deconfigure':
      return (op.deconfigure ?? []).map((d) => ({ ref: normalised(d.package), key: packageKey(d.package), removing: d.removing && normalised(d.removing) }));
    case 'conflictor':
      return (op.conflictors ?? []).map((c) => ({ ref: normalised(c), key: packageKey(c), leavesConfig: c.leavesConfig }));
    case 'disappear':
      return (op.disappear ?? []).map((d) => ({ ref: normalised(d), key: packageKey(d) }));
  }
}

const CONFIGURED: ReadonlySet<DpkgStatus> = new Set(['half-configured', 'triggers-awaited', 'triggers-pending', 'installed']);

function holds(cond: Condition, ctx: Context, x: Other | undefined): boolean {
  const s = ctx.p.status;
  switch (cond) {
    case 'P not-installed':
      return s === 'not-installed';
    case 'P config-files':
      return s === 'config-files';
    case 'P present':
      return s !== 'not-installed' && s !== 'config-files';
    case 'P configured':
      return CONFIGURED.has(s);
    case 'P unpacked':
      return s === 'unpacked';
    case 'X configured':
      return CONFIGURED.has(other(x).ref.status);
    case 'P removable':
      return s !== 'config-files';
    case 'purge and leaves config':
      return ctx.op.op === 'purge' && (ctx.op as RemoveOperation).leavesConfig;
    case 'leaves nothing':
      return !(ctx.op as RemoveOperation).leavesConfig;
  }
}

/** The state changes of a row; `track` follows P's status along the forward path (not along aborts). */
function changes(rows: readonly ChangeRow[] | undefined, ctx: Context, x: Other | undefined, prior: DpkgStatus, track: boolean): StateChange[] {
  return (rows ?? []).map(([who, status, reinstreq]) => {
    const key = who === 'P' ? ctx.p.key : other(x).key;
    let s: DpkgStatus | undefined;
    if (status === '{prior}') s = prior;
    else if (status === '{left}') s = other(x).leavesConfig ? 'config-files' : 'not-installed';
    else s = status;
    if (track && who === 'P' && s !== undefined) ctx.pStatus = s;
    return { key, ...(s !== undefined ? { status: s } : {}), ...(reinstreq !== undefined ? { reinstreq } : {}) };
  });
}

function call(row: CallRow, ctx: Context, x: Other | undefined, ifAbsent: 'ok' | 'fail'): CallSpec {
  const [who, source, script, ...templ] = row;
  let ref: PackageRef;
  let key: string;
  if (who === 'P') {
    ref = source === 'new' ? ctx.p.archive! : (ctx.p.installed ?? internal(`no installed ${ctx.p.key} to take a script from`));
    key = ctx.p.key;
  } else {
    ref = other(x).ref;
    key = other(x).key;
  }
  const args: string[] = [];
  for (const t of templ) {
    if (t === '{removing}') {
      const r = other(x).removing;
      if (r) args.push('removing', nonAmbiguousName(r, ctx.op.nativeArch), r.version);
    } else if (t.startsWith('{')) {
      args.push(ctx.vars[t] ?? internal(`no value for ${t}`));
    } else {
      args.push(t);
    }
  }
  return { key, package: ref.name, arch: ref.arch, version: ref.version, source, script, args, ifAbsent };
}

function other(x: Other | undefined): Other {
  return x ?? internal('a per-package row outside its block');
}

function normalised<T extends PackageRef>(ref: T): T {
  return { ...ref, version: version(ref.version) };
}

/** dpkg prints versions without a 0 epoch (versiondescribe, vdew_nonambig); so do its arguments. */
function version(text: string): string {
  return formatVersion(parseVersion(text));
}

function internal(message: string): never {
  throw new OvermergeError('E_INTERNAL', `script protocol: ${message}`, { op: 'plan scripts' });
}
