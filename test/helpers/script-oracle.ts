import { execFile } from 'node:child_process';
import { promises as fsp, openSync, closeSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { buildDeb } from '../../src/archive/build';
import { readDebControl } from '../../src/archive/deb';
import { DPKG_DEFAULT_FORCES, dpkgForceString, type ScriptRunMode } from '../../src/dpkg/script-env';
import {
  packageKey,
  planScripts,
  type ConflictorRef,
  type DpkgStatus,
  type InstalledRef,
  type MaintScript,
  type PackageState,
  type ScriptOperation,
} from '../../src/dpkg/script-protocol';
import { installedScriptPath, runScript } from '../../src/dpkg/script-runner';
import { advance, begin, currentStep, type Step, type StepResult } from '../../src/dpkg/script-sequence';
import { openRoot, parseRootPath, type Root } from '../../src/fs/rootpath';
import { FIXTURE_EPOCH } from './fixtures';
import { prepareDpkgAdmin } from './dpkg-unpack';

const execFileP = promisify(execFile);

/**
 * Real dpkg as the oracle for the maintainer-script protocol. Every fixture script appends one line to
 * ROOT/scripts.log naming itself (package_version), $0, its arguments, the current directory and umask,
 * followed by its whole exported environment; it fails (exit 1) when ROOT/fail/PKG_VERSION.SCRIPT.ACTION
 * exists. The scripts use shell builtins only, so a chroot needs nothing but /bin/sh and its libraries.
 * dpkg runs on one root; overmerge's protocol and runner on a copy of it taken just before; the two logs
 * must be equal line for line (the root's host path written as <ROOT> in both).
 */

export const SCRIPTS: readonly MaintScript[] = ['preinst', 'postinst', 'prerm', 'postrm'];
export const LOG = 'scripts.log';
/** Where dpkg unpacks an archive's control area; our driver puts the new scripts there too, so $0 agrees. */
export const NEW_SCRIPTS_DIR = 'var/lib/dpkg/tmp.ci';

/** A clean environment for both dpkg and our runner (dpkg reads DPKG_* itself, so none of those). */
export const BASE_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
  HOME: '/root',
});

export interface LoggingPackage {
  name: string;
  version: string;
  arch?: string;
  /** File name tag when two builds share name and version. */
  tag?: string;
  /** Payload: path (no leading slash) → content. */
  files?: Record<string, string>;
  fields?: Record<string, string>;
  /** Scripts the package does not have. */
  omit?: MaintScript[];
  /** Other control members (e.g. `triggers`), name → content. */
  control?: Record<string, string>;
  /** Shell lines a script runs after logging its call (e.g. a dpkg-trigger call). */
  extra?: Partial<Record<MaintScript, string>>;
}

export function loggingScript(self: string, extra = ''): string {
  return [
    '#!/bin/sh',
    `# maintainer script of ${self} that logs every call (overmerge tests)`,
    `self='${self}'`,
    '{',
    `  printf '%s %s [%s]' "$self" "$0" "$#"`,
    `  for a in "$@"; do printf ' <%s>' "$a"; done`,
    `  printf ' cwd=%s umask=%s\\n' "$(pwd)" "$(umask)"`,
    `  export -p | while IFS= read -r line; do printf '    %s\\n' "$line"; done`,
    `} >> "$DPKG_ROOT/${LOG}"`,
    'if [ -e "$DPKG_ROOT/fail/$self.$DPKG_MAINTSCRIPT_NAME.$1" ]; then',
    `  echo "$self $DPKG_MAINTSCRIPT_NAME $1: failing on purpose" >&2`,
    '  exit 1',
    'fi',
    'if [ -e "$DPKG_ROOT/kill/$self.$DPKG_MAINTSCRIPT_NAME.$1" ]; then kill -TERM $$; fi',
    ...(extra === '' ? [] : [extra]),
    'exit 0',
    '',
  ].join('\n');
}

/** Builds a package whose scripts log (see loggingScript) into workDir/NAME_VERSION[_TAG].deb. */
export async function buildLoggingDeb(workDir: string, pkg: LoggingPackage): Promise<string> {
  const tree = await fsp.mkdtemp(path.join(workDir, `tree-${pkg.name}-`));
  await fsp.chmod(tree, 0o755);
  const debian = path.join(tree, 'DEBIAN');
  await fsp.mkdir(debian, { mode: 0o755 });
  await fsp.chmod(debian, 0o755);
  const fields = {
    Package: pkg.name,
    Version: pkg.version,
    Architecture: pkg.arch ?? 'all',
    Maintainer: 'overmerge tests <tests@overmerge.invalid>',
    ...pkg.fields,
    Description: `${pkg.name} ${pkg.version} with logging maintainer scripts`,
  };
  await fsp.writeFile(path.join(debian, 'control'), Object.entries(fields).map(([k, v]) => `${k}: ${v}\n`).join(''));
  for (const s of SCRIPTS) {
    if (pkg.omit?.includes(s)) continue;
    await fsp.writeFile(path.join(debian, s), loggingScript(`${pkg.name}_${pkg.version}`, pkg.extra?.[s]));
    await fsp.chmod(path.join(debian, s), 0o755);
  }
  for (const [name, content] of Object.entries(pkg.control ?? {})) await fsp.writeFile(path.join(debian, name), content, { mode: 0o644 });
  for (const [rel, content] of Object.entries(pkg.files ?? { [`opt/${pkg.name}/file`]: `${pkg.name} ${pkg.version}\n` })) {
    const at = path.join(tree, rel);
    await fsp.mkdir(path.dirname(at), { recursive: true, mode: 0o755 });
    await fsp.writeFile(at, content);
    await fsp.chmod(at, 0o644);
  }
  // mkdir's mode is filtered by the umask, and dpkg-deb records what is on disk.
  await chmodDirs(tree);
  const out = path.join(workDir, `${pkg.name}_${pkg.version}${pkg.tag ? `_${pkg.tag}` : ''}.deb`);
  await buildDeb(tree, out, { compression: 'gzip', sourceDateEpoch: FIXTURE_EPOCH });
  await fsp.rm(tree, { recursive: true, force: true });
  return out;
}

async function chmodDirs(dir: string): Promise<void> {
  await fsp.chmod(dir, 0o755);
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) if (e.isDirectory()) await chmodDirs(path.join(dir, e.name));
}

/** Why the oracle cannot run here, or undefined. */
export async function cannotRunScriptOracle(mode: ScriptRunMode): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (dpkg --root, chroot)';
  for (const tool of ['dpkg', 'dpkg-deb', 'cp', ...(mode === 'chroot' ? ['chroot', 'ldd'] : [])]) {
    try {
      await execFileP('sh', ['-c', `command -v ${tool}`], { env: BASE_ENV });
    } catch {
      return `needs ${tool} on PATH`;
    }
  }
  return undefined;
}

/** A fresh root with dpkg's admin folder; for chroot mode also /bin/sh and the libraries it loads. */
export async function prepareScriptRoot(root: string, mode: ScriptRunMode): Promise<void> {
  await fsp.mkdir(root, { recursive: true, mode: 0o755 });
  await fsp.chmod(root, 0o755);
  await prepareDpkgAdmin(root);
  if (mode === 'chroot') await copyShell(root);
}

/** The host's /bin/sh and what `ldd` says it loads, at the same paths inside the root. */
async function copyShell(root: string): Promise<void> {
  const sh = await fsp.realpath('/bin/sh');
  const { stdout } = await execFileP('ldd', [sh], { env: BASE_ENV });
  const libs = [...stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]);
  for (const [from, to] of [[sh, '/bin/sh'], ...libs.map((l) => [l, l])]) {
    const at = path.join(root, to);
    await fsp.mkdir(path.dirname(at), { recursive: true, mode: 0o755 });
    await fsp.copyFile(await fsp.realpath(from), at);
    await fsp.chmod(at, 0o755);
  }
}

/** The force options the host's dpkg configuration enables (they show in DPKG_FORCE, whatever the root). */
export async function hostConfigForces(): Promise<string[]> {
  const files = ['/etc/dpkg/dpkg.cfg'];
  for (const f of await fsp.readdir('/etc/dpkg/dpkg.cfg.d').catch(() => [] as string[])) files.push(path.join('/etc/dpkg/dpkg.cfg.d', f));
  const forces: string[] = [];
  for (const f of files) {
    const text = await fsp.readFile(f, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const m = line.trim().match(/^force-([a-z,-]+)$/);
      if (m) forces.push(...m[1].split(','));
    }
  }
  return forces;
}

export interface DpkgRun {
  status: number;
  output: string;
}

/** `dpkg --root=ROOT ARGS`, chrooted scripts or chrootless, the host's log left alone. */
export async function runDpkg(root: string, mode: ScriptRunMode, args: string[]): Promise<DpkgRun> {
  const argv = [`--root=${root}`, '--log=/dev/null', ...(mode === 'chrootless' ? ['--force-script-chrootless'] : []), ...args];
  try {
    const r = await execFileP('dpkg', argv, { env: BASE_ENV, maxBuffer: 16 * 1024 * 1024 });
    return { status: 0, output: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { status: e.code, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** The script log, the root's host path replaced by <ROOT>. */
export async function readLog(root: string): Promise<string[]> {
  const text = await fsp.readFile(path.join(root, LOG), 'utf8').catch(() => '');
  return text.split(root).join('<ROOT>').split('\n').filter((l) => l !== '');
}

/** Just the call lines of a log (no environment). */
export function callLines(log: string[]): string[] {
  return log.filter((l) => !l.startsWith(' '));
}

export interface DbEntry {
  /** name, or name:arch for Multi-Arch: same (packageKey). */
  key: string;
  name: string;
  multiArchSame: boolean;
  version: string;
  arch: string;
  status: DpkgStatus;
  reinstreq: boolean;
  configVersion?: string;
  conffiles: boolean;
}

/** The packages in ROOT/var/lib/dpkg/status (a stanza reader good enough for what dpkg writes there). */
export async function readDpkgDb(root: string): Promise<Map<string, DbEntry>> {
  const text = await fsp.readFile(path.join(root, 'var/lib/dpkg/status'), 'utf8');
  const db = new Map<string, DbEntry>();
  for (const stanza of text.split(/\n\n+/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of stanza.split('\n')) {
      if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)}\n${line}`);
      else {
        const m = line.match(/^([^:]+):\s*(.*)$/);
        if (m) fields.set((last = m[1].toLowerCase()), m[2]);
      }
    }
    const name = fields.get('package');
    if (!name) continue;
    const [, eflag, status] = (fields.get('status') ?? '').split(' ');
    const multiArchSame = fields.get('multi-arch') === 'same';
    const key = packageKey({ name, arch: fields.get('architecture') ?? '', multiArchSame });
    db.set(key, {
      key,
      name,
      multiArchSame,
      version: fields.get('version') ?? '',
      arch: fields.get('architecture') ?? '',
      status: status as DpkgStatus,
      reinstreq: eflag === 'reinstreq',
      configVersion: fields.get('config-version'),
      conffiles: fields.has('conffiles'),
    });
  }
  return db;
}

/** A package's state as dpkg's database shows it (absent: not-installed); `key` as packageKey. */
export function dbState(db: Map<string, DbEntry>, key: string): PackageState {
  const e = db.get(key);
  return e ? { status: e.status, reinstreq: e.reinstreq } : { status: 'not-installed', reinstreq: false };
}

// ---------------------------------------------------------------------------------------------------------
// Our side: operations described by name, filled in from dpkg's database on the copied root (as the engine
// will fill them from the database it imports), walked by script-sequence, each script run by the runner.

export type OurOp =
  | {
      unpack: string; // a key of the debs map
      deconfigure?: { name: string; removing?: string }[];
      conflictors?: string[];
      disappear?: string[];
      /** The unpack of the files fails (what dpkg hits as a file conflict). */
      unpackFails?: boolean;
    }
  | { configure: string }
  | { remove: string }
  | { purge: string };

export interface OursResult {
  /** Whether every operation went through (none unwound or failed). */
  ok: boolean;
  states: Map<string, PackageState>;
  /** Every step taken, for messages. */
  steps: string[];
  notices: string[];
}

interface Known extends InstalledRef {
  configVersion?: string;
  conffiles: boolean;
}

export async function runOurs(
  rootDir: string,
  mode: ScriptRunMode,
  ops: OurOp[],
  debs: Record<string, string>,
  options: { forces: string[]; nativeArch: string; outputFile: string },
): Promise<OursResult> {
  const root = await openRoot(rootDir);
  const known = new Map<string, Known>();
  for (const e of (await readDpkgDb(rootDir)).values()) {
    if (e.status === 'not-installed') continue;
    const configVersion = e.status === 'installed' || e.status === 'triggers-pending' ? e.version : e.configVersion;
    known.set(e.key, {
      name: e.name,
      arch: e.arch,
      version: e.version,
      multiArchSame: e.multiArchSame,
      status: e.status,
      reinstreq: e.reinstreq,
      configVersion,
      conffiles: e.conffiles,
    });
  }
  const force = dpkgForceString([...DPKG_DEFAULT_FORCES, ...options.forces, ...(mode === 'chrootless' ? ['script-chrootless'] : [])]);
  const out = openSync(options.outputFile, 'a');
  const result: OursResult = { ok: true, states: new Map(), steps: [], notices: [] };
  try {
    for (const op of ops) {
      if (!result.ok) break; // like dpkg -i: a package that failed to unpack is not configured
      const { operation, newDeb } = await operationFor(op, known, debs, root, options.nativeArch);
      if (newDeb) await placeNewScripts(rootDir, newDeb);
      const seq = planScripts(operation);
      let c = begin(seq);
      for (let step = currentStep(seq, c); step !== undefined; step = currentStep(seq, c)) {
        const r = await doStep(step, op, rootDir, async (s) => {
          const run = await runScript({
            root,
            mode,
            call: s.call,
            script: s.call.source === 'installed' ? installedScriptPath(s.call.key, s.call.script) : parseRootPath(`${NEW_SCRIPTS_DIR}/${s.call.script}`),
            force,
            env: BASE_ENV,
            stdio: ['ignore', out, out],
          });
          if (run.status === 'skipped') result.notices.push(run.notice);
          if (run.status === 'failed') result.notices.push(run.error.message);
          return run.status === 'failed' ? 'failed' : run.status === 'absent' ? 'absent' : 'ok';
        });
        result.steps.push(`${describeStep(step)} -> ${r}`);
        c = advance(seq, c, r);
      }
      if (newDeb) await fsp.rm(path.join(rootDir, NEW_SCRIPTS_DIR), { recursive: true, force: true });
      for (const [key, state] of Object.entries(c.states)) {
        result.states.set(key, state);
        remember(known, key, state, operation, c.outcome === 'succeeded');
      }
      if (c.outcome !== 'succeeded') result.ok = false;
    }
  } finally {
    closeSync(out);
  }
  return result;
}

export function describeStep(step: Step): string {
  if (step.kind === 'files') return `${step.role} ${step.files} ${step.key}`;
  return `${step.role} ${step.call.package} ${step.call.source} ${step.call.script} ${step.call.args.map((a) => `<${a}>`).join(' ')}`;
}

async function operationFor(
  op: OurOp,
  known: Map<string, Known>,
  debs: Record<string, string>,
  root: Root,
  nativeArch: string,
): Promise<{ operation: ScriptOperation; newDeb?: string }> {
  const need = (key: string): Known => {
    const k = known.get(key) ?? fail(`${key} is not installed`);
    return { ...k, otherInstances: [...known.values()].filter((o) => o.name === k.name && o.arch !== k.arch).length };
  };
  if ('unpack' in op) {
    const deb = debs[op.unpack] ?? fail(`no deb ${op.unpack}`);
    const control = await readDebControl(deb);
    const name = control.fields.get('Package')!;
    const arch = control.fields.get('Architecture')!;
    const multiArchSame = control.fields.get('Multi-Arch') === 'same';
    // DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT counts the other architectures' instances too.
    const otherInstances = [...known.values()].filter((k) => k.name === name && k.arch !== arch).length;
    const pkg = { name, version: control.fields.get('Version')!, arch, multiArchSame, otherInstances };
    const installed = known.get(packageKey(pkg));
    const conflictors: ConflictorRef[] = [];
    for (const c of op.conflictors ?? []) {
      const k = need(c);
      const hasPostrm = await fsp.lstat(path.join(root.host, installedScriptPath(c, 'postrm'))).then(() => true, () => false);
      conflictors.push({ ...k, leavesConfig: k.conffiles || hasPostrm });
    }
    return {
      newDeb: deb,
      operation: {
        op: 'unpack',
        package: pkg,
        installed: installed && { ...installed, otherInstances },
        deconfigure: (op.deconfigure ?? []).map((d) => ({ package: need(d.name), removing: d.removing === undefined ? undefined : need(d.removing) })),
        conflictors,
        disappear: (op.disappear ?? []).map(need),
        nativeArch,
      },
    };
  }
  if ('configure' in op) {
    const k = need(op.configure);
    return { operation: { op: 'configure', package: k, configVersion: k.configVersion, nativeArch } };
  }
  const name = 'remove' in op ? op.remove : op.purge;
  const k = need(name);
  const hasPostrm = await fsp.lstat(path.join(root.host, installedScriptPath(name, 'postrm'))).then(() => true, () => false);
  return { operation: { op: 'remove' in op ? 'remove' : 'purge', package: k, leavesConfig: k.conffiles || hasPostrm, nativeArch } };
}

/** Runs a step: scripts through `script`; files steps only move the control scripts as dpkg would. */
async function doStep(step: Step, op: OurOp, rootDir: string, script: (s: Extract<Step, { kind: 'script' }>) => Promise<StepResult>): Promise<StepResult> {
  if (step.kind === 'script') return script(step);
  if (step.role === 'undo') return 'ok';
  switch (step.files) {
    case 'unpack':
      return 'unpackFails' in op && op.unpackFails ? 'failed' : 'ok';
    case 'finish-unpack':
      await installNewScripts(rootDir, step.key);
      return 'ok';
    case 'remove-control-files':
      for (const s of SCRIPTS) if (s !== 'postrm') await fsp.rm(path.join(rootDir, installedScriptPath(step.key, s)), { force: true });
      return 'ok';
    default:
      return 'ok';
  }
}

async function placeNewScripts(rootDir: string, deb: string): Promise<void> {
  const dir = path.join(rootDir, NEW_SCRIPTS_DIR);
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  const control = await readDebControl(deb);
  for (const s of SCRIPTS) {
    const body = control.files.get(s);
    if (body === undefined) continue;
    await fsp.writeFile(path.join(dir, s), body, { mode: 0o755 });
    await fsp.chmod(path.join(dir, s), 0o755);
  }
}

/** dpkg's pkg_infodb_update: the new control scripts replace the installed ones, which are removed. */
async function installNewScripts(rootDir: string, key: string): Promise<void> {
  for (const s of SCRIPTS) {
    const from = path.join(rootDir, NEW_SCRIPTS_DIR, s);
    const to = path.join(rootDir, installedScriptPath(key, s));
    await fsp.rm(to, { force: true });
    await fsp.copyFile(from, to).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await fsp.chmod(to, 0o755).catch(() => {});
  }
}

/** Our in-memory view of dpkg's database after an operation (what the engine would write back). */
function remember(known: Map<string, Known>, key: string, state: PackageState, op: ScriptOperation, succeeded: boolean): void {
  if (state.status === 'not-installed') {
    known.delete(key);
    return;
  }
  const was = known.get(key);
  if (op.op === 'unpack' && key === packageKey(op.package) && (succeeded || was === undefined)) {
    const base = was ?? { ...op.package, status: state.status, conffiles: false };
    known.set(key, { ...base, version: op.package.version, arch: op.package.arch, status: state.status, reinstreq: state.reinstreq });
    return;
  }
  if (!was) return;
  const configVersion = op.op === 'configure' && state.status === 'installed' ? was.version : was.configVersion;
  known.set(key, { ...was, status: state.status, reinstreq: state.reinstreq, configVersion });
}

/** Creates the marker files that make the named calls fail (PKG_VERSION.SCRIPT.ACTION). */
export async function makeFail(root: string, markers: string[], dir = 'fail'): Promise<void> {
  if (markers.length === 0) return;
  await fsp.mkdir(path.join(root, dir), { recursive: true });
  for (const m of markers) await fsp.writeFile(path.join(root, dir, m), '');
}

/** `cp -a`: the copy our side works on. */
export async function copyRoot(from: string, to: string): Promise<void> {
  await execFileP('cp', ['-a', from, to], { env: BASE_ENV });
}

function fail(message: string): never {
  throw new Error(`script oracle: ${message}`);
}
