import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { buildDeb } from '../../src/archive/build';
import { parseParagraphs } from '../../src/control/deb822';
import { planRelations } from '../../src/dpkg/relations';
import type {
  ForceOption,
  InstalledPackage,
  MultiArch,
  PackageData,
  PackageStatus,
  PlanStep,
  RelationProblem,
  RelationsPlan,
  Selection,
  TransactionItem,
} from '../../src/dpkg/relations';
import { FIXTURE_EPOCH } from './fixtures';
import { withTempDir } from './temp';

const execFileP = promisify(execFile);

/**
 * Real dpkg as the oracle of the relations planner: small packages built in code, installed with
 * `dpkg --root R --force-script-chrootless` into a temporary root, and what dpkg did read back — its
 * "Unpacking/Setting up/Removing ..." lines, where it broke dependency cycles (its depcon debug output,
 * -D40), its errors, the states dpkg-query reports, and the order in which postinsts ran. The packages'
 * only maintainer script is a postinst that appends "NAME configure" to ROOT/log, so running it on the
 * host (chrootless) touches nothing outside the root.
 */

/** Why dpkg cannot be run as an oracle here, or undefined when it can. */
export async function cannotRunDpkgOracle(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (dpkg --root)';
  for (const tool of ['dpkg', 'dpkg-query']) {
    try {
      await execFileP('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `needs ${tool} on PATH`;
    }
  }
  return undefined;
}

export interface OraclePackage {
  readonly name: string;
  readonly version: string;
  /** Default `all`. */
  readonly architecture?: string;
  /** Control fields: Depends, Pre-Depends, Conflicts, Breaks, Replaces, Provides, Multi-Arch, Essential, ... */
  readonly fields?: Readonly<Record<string, string>>;
  /** Ship a postinst that logs "NAME configure" (default true). */
  readonly postinst?: boolean;
  /** Regular files to ship (paths without a leading slash); each holds the package's name. */
  readonly files?: readonly string[];
  /** Empty folders to ship. */
  readonly folders?: readonly string[];
}

/** The archive's file name, as the oracle passes it to dpkg (so dpkg's messages name it so). */
export function debName(p: OraclePackage): string {
  return `${p.name}_${p.version}_${p.architecture ?? 'all'}.deb`;
}

/** The planner's view of an archive built from `p` (what the engine reads from the real archive). */
export function packageData(p: OraclePackage): PackageData {
  const f = p.fields ?? {};
  return {
    name: p.name,
    version: p.version,
    architecture: p.architecture ?? 'all',
    multiArch: (f['Multi-Arch'] as MultiArch | undefined) ?? 'no',
    essential: f.Essential === 'yes',
    protected: f.Protected === 'yes',
    preDepends: f['Pre-Depends'],
    depends: f.Depends,
    recommends: f.Recommends,
    breaks: f.Breaks,
    conflicts: f.Conflicts,
    replaces: f.Replaces,
    provides: f.Provides,
    fieldOrder: Object.keys(f),
    hasPostinst: p.postinst ?? true,
    files: packagePaths(p),
    archive: debName(p),
  };
}

/** Every path dpkg lists for the package: `/.`, the folders, the files. */
function packagePaths(p: OraclePackage): string[] {
  const out = new Set<string>(['/.']);
  for (const f of [...(p.folders ?? []), ...(p.files ?? [])]) {
    const parts = f.split('/');
    for (let i = 1; i < parts.length; i++) out.add(`/${parts.slice(0, i).join('/')}`);
    out.add(`/${f}`);
  }
  return [...out];
}

export async function buildOracleDeb(workDir: string, p: OraclePackage): Promise<string> {
  const tree = await fsp.mkdtemp(path.join(workDir, 'tree-'));
  await fsp.chmod(tree, 0o755);
  await fsp.mkdir(path.join(tree, 'DEBIAN'), { mode: 0o755 });
  const fields: Record<string, string> = {
    Package: p.name,
    Version: p.version,
    Architecture: p.architecture ?? 'all',
    Maintainer: 'overmerge tests <tests@overmerge.invalid>',
    ...p.fields,
    Description: `${p.name} ${p.version} (relations oracle)`,
  };
  await fsp.writeFile(path.join(tree, 'DEBIAN', 'control'), Object.entries(fields).map(([k, v]) => `${k}: ${v}\n`).join(''));
  if (p.postinst ?? true) {
    const script = `#!/bin/sh\nset -e\necho "${p.name} $1" >> "$DPKG_ROOT/log"\n`;
    await fsp.writeFile(path.join(tree, 'DEBIAN', 'postinst'), script, { mode: 0o755 });
    await fsp.chmod(path.join(tree, 'DEBIAN', 'postinst'), 0o755);
  }
  for (const d of p.folders ?? []) await fsp.mkdir(path.join(tree, d), { recursive: true, mode: 0o755 });
  for (const f of p.files ?? []) {
    await fsp.mkdir(path.dirname(path.join(tree, f)), { recursive: true, mode: 0o755 });
    await fsp.writeFile(path.join(tree, f), `${p.name}\n`, { mode: 0o644 });
  }
  const deb = path.join(workDir, debName(p));
  await buildDeb(tree, deb, { compression: 'gzip', sourceDateEpoch: FIXTURE_EPOCH });
  await fsp.rm(tree, { recursive: true, force: true });
  return deb;
}

/** One thing dpkg reported doing, in the planner's words. */
export interface DpkgEvent {
  readonly op: 'unpack' | 'configure' | 'remove' | 'deconfigure' | 'disappear';
  /** The name as dpkg printed it (`name` or `name:arch`). */
  readonly pkg: string;
}

export interface DpkgRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly events: readonly DpkgEvent[];
  /** "a -> b" for each "cycle broken at a:all -> b" line (the architecture left out). */
  readonly cycleBreaks: readonly string[];
}

/** A dpkg root in a temporary folder. */
export class DpkgRoot {
  constructor(
    readonly root: string,
    readonly debDir: string,
  ) {}

  static async create(dir: string, foreignArchs: readonly string[] = []): Promise<DpkgRoot> {
    const root = path.join(dir, 'root');
    const admin = path.join(root, 'var/lib/dpkg');
    for (const d of ['info', 'updates', 'triggers']) await fsp.mkdir(path.join(admin, d), { recursive: true, mode: 0o755 });
    for (const f of ['status', 'available']) await fsp.writeFile(path.join(admin, f), '');
    const debDir = path.join(dir, 'debs');
    await fsp.mkdir(debDir, { recursive: true });
    const r = new DpkgRoot(root, debDir);
    for (const a of foreignArchs) await r.dpkg(['--add-architecture', a]);
    return r;
  }

  /** Builds the packages into the deb folder; returns their file names (relative: dpkg runs there). */
  async build(pkgs: readonly OraclePackage[]): Promise<string[]> {
    const names: string[] = [];
    for (const p of pkgs) {
      await buildOracleDeb(this.debDir, p);
      names.push(debName(p));
    }
    return names;
  }

  /** Runs dpkg on the root (in the deb folder) with the depcon debug channel on. */
  dpkg(args: readonly string[]): Promise<DpkgRun> {
    const argv = ['-D40', `--root=${this.root}`, '--force-script-chrootless', '--log=/dev/null', ...args];
    return new Promise((resolve, reject) => {
      const child = spawn('dpkg', argv, {
        cwd: this.debDir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on('close', (code) => {
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8');
        resolve({ status: code ?? 1, stdout, stderr, events: parseEvents(stdout), cycleBreaks: parseCycleBreaks(stderr) });
      });
    });
  }

  /** Installs packages as the starting state (`dpkg -i`), insisting that dpkg succeeds. */
  async setUp(pkgs: readonly OraclePackage[], how: '--install' | '--unpack' = '--install'): Promise<void> {
    const debs = await this.build(pkgs);
    const r = await this.dpkg([how, ...debs]);
    if (r.status !== 0) throw new Error(`oracle set-up failed: ${r.stderr}`);
  }

  /** `dpkg --set-selections` (e.g. { x: 'deinstall' }), as apt marks a package for removal. */
  async setSelections(selections: Readonly<Record<string, string>>): Promise<void> {
    const text = Object.entries(selections).map(([n, w]) => `${n} ${w}\n`).join('');
    await new Promise<void>((resolve, reject) => {
      const child = spawn('dpkg', [`--root=${this.root}`, '--set-selections'], { stdio: ['pipe', 'ignore', 'inherit'] });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`dpkg --set-selections exited ${code}`))));
      child.stdin.end(text);
    });
  }

  /** `${Package}:${Architecture} ${db:Status-Abbrev}` for every package dpkg knows, sorted. */
  async states(): Promise<string[]> {
    const { stdout } = await execFileP('dpkg-query', [
      `--root=${this.root}`,
      '-W',
      '-f',
      '${Package}:${Architecture} ${db:Status-Abbrev}\n',
    ]);
    return stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.trim())
      .sort();
  }

  /** What the postinsts logged, in order ("NAME configure"). */
  async log(): Promise<string[]> {
    const text = await fsp.readFile(path.join(this.root, 'log'), 'utf8').catch(() => '');
    return text.split('\n').filter((l) => l !== '');
  }

  /** dpkg's database as the planner reads it (what the engine's import of dpkg's status will give). */
  async installed(): Promise<InstalledPackage[]> {
    const admin = path.join(this.root, 'var/lib/dpkg');
    const text = await fsp.readFile(path.join(admin, 'status'), 'utf8');
    const out: InstalledPackage[] = [];
    for (const p of parseParagraphs(text, { source: 'status' })) {
      const [want, , status] = (p.get('Status') ?? '').split(' ');
      const name = p.get('Package')!;
      const arch = p.get('Architecture') ?? 'all';
      const ma = (p.get('Multi-Arch') as MultiArch | undefined) ?? 'no';
      const infoName = ma === 'same' ? `${name}:${arch}` : name;
      const list = await fsp.readFile(path.join(admin, 'info', `${infoName}.list`), 'utf8').catch(() => '');
      out.push({
        name,
        version: p.get('Version') ?? '',
        architecture: arch,
        multiArch: ma,
        essential: p.get('Essential') === 'yes',
        protected: p.get('Protected') === 'yes',
        preDepends: p.get('Pre-Depends'),
        depends: p.get('Depends'),
        recommends: p.get('Recommends'),
        breaks: p.get('Breaks'),
        conflicts: p.get('Conflicts'),
        replaces: p.get('Replaces'),
        provides: p.get('Provides'),
        hasPostinst: existsSync(path.join(admin, 'info', `${infoName}.postinst`)),
        hasConffiles: (p.get('Conffiles') ?? '').trim() !== '',
        files: list.split('\n').filter((l) => l !== ''),
        status: status as PackageStatus,
        want: want as Selection,
        configVersion: p.get('Config-Version'),
      });
    }
    return out;
  }
}

const EVENT_LINES: Array<[RegExp, DpkgEvent['op']]> = [
  [/^Unpacking (\S+) \(/, 'unpack'],
  [/^Setting up (\S+) \(/, 'configure'],
  [/^Removing (\S+) \(/, 'remove'],
  [/^De-configuring (\S+) \(/, 'deconfigure'],
  [/^\(Noting disappearance of (\S+), which/, 'disappear'],
];

function parseEvents(stdout: string): DpkgEvent[] {
  const events: DpkgEvent[] = [];
  for (const line of stdout.split('\n')) {
    for (const [re, op] of EVENT_LINES) {
      const m = re.exec(line);
      if (m) events.push({ op, pkg: m[1] });
    }
  }
  return events;
}

function parseCycleBreaks(stderr: string): string[] {
  const out: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /cycle broken at (\S+) -> (\S+)/.exec(line);
    if (m) out.push(`${m[1].replace(/:[^:]*$/, '')} -> ${m[2]}`);
  }
  return out;
}

/** The plan's steps as the events dpkg would print for them. */
export function planEvents(plan: RelationsPlan): DpkgEvent[] {
  return plan.steps.map((s: PlanStep) => ({ op: s.op, pkg: s.pkg.label }));
}

export function eventText(events: readonly DpkgEvent[]): string[] {
  return events.map((e) => `${e.op} ${e.pkg}`);
}

/** dpkg's stderr without its debug lines and "dpkg: " prefixes, for comparing with the plan's wording. */
export function dpkgMessages(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !/^D\d{6}:/.test(l))
    .map((l) => l.replace(/^dpkg: (warning: )?/, ''))
    .join('\n');
}

// ---- Scenarios: set up with dpkg, plan, run the same with dpkg, compare. ----

export const NATIVE = 'amd64';

export interface Scenario {
  readonly foreign?: readonly string[];
  /** dpkg -i calls that make the starting state. */
  readonly setup?: ReadonlyArray<readonly OraclePackage[]>;
  /** Selections to set after the set-up (`dpkg --set-selections`). */
  readonly selections?: Readonly<Record<string, string>>;
  /** The transaction, as dpkg runs it: one action over archives or names. */
  readonly action: '--install' | '--unpack' | '--remove' | '--purge' | '--configure';
  readonly archives?: readonly OraclePackage[];
  readonly names?: readonly string[];
  readonly autoDeconfigure?: boolean;
  readonly force?: readonly ForceOption[];
  /** Extra planner items before the transaction's own (e.g. the removals a selection stands for). */
  readonly extraItems?: readonly TransactionItem[];
}

export interface Outcome {
  readonly plan: RelationsPlan;
  readonly dpkg: DpkgRun;
  readonly states: string[];
  readonly log: string[];
}

const STATUS_CHAR: Record<string, string> = {
  'not-installed': 'n',
  'config-files': 'c',
  'half-installed': 'H',
  unpacked: 'U',
  'half-configured': 'F',
  'triggers-awaited': 'W',
  'triggers-pending': 't',
  installed: 'i',
};

export async function runScenario(s: Scenario): Promise<Outcome> {
  return withTempDir('relations-oracle', async (dir) => {
    const root = await DpkgRoot.create(dir, s.foreign);
    for (const batch of s.setup ?? []) await root.setUp(batch);
    if (s.selections) await root.setSelections(s.selections);
    const installed = await root.installed();
    const items: TransactionItem[] = [...(s.extraItems ?? [])];
    if (s.archives) {
      const action = s.action === '--unpack' ? 'unpack' : 'install';
      for (const p of s.archives) items.push({ action, package: packageData(p) });
    }
    for (const n of s.names ?? []) {
      const action = s.action === '--remove' ? 'remove' : s.action === '--purge' ? 'purge' : 'configure';
      items.push({ action, name: n });
    }
    const plan = planRelations({
      items,
      installed,
      nativeArch: NATIVE,
      foreignArchs: s.foreign,
      force: s.force,
      autoDeconfigure: s.autoDeconfigure,
    });
    const debs = s.archives ? await root.build(s.archives) : [];
    const flags = [...(s.autoDeconfigure ? ['--auto-deconfigure'] : []), ...(s.force ?? []).map((f) => `--force-${f}`)];
    const dpkg = await root.dpkg([...flags, s.action, ...debs, ...(s.names ?? [])]);
    return { plan, dpkg, states: await root.states(), log: await root.log() };
  });
}

/** The plan's end states as dpkg-query prints the package and the state letter of db:Status-Abbrev. */
export function planStates(plan: RelationsPlan): string[] {
  return plan.states.map((st) => `${st.pkg.name}:${st.pkg.architecture} ${STATUS_CHAR[st.status]}`).sort();
}

/** dpkg-query's lines reduced the same way (packages it lists as not-installed are left out). */
export function dpkgStates(states: readonly string[]): string[] {
  return states
    .map((l) => {
      const [pkg, abbrev] = l.split(' ');
      return `${pkg} ${abbrev[1]}`;
    })
    .filter((l) => !l.endsWith(' n'))
    .sort();
}

/** Every line of the problem's explanation appears in dpkg's messages, in order. */
export function assertDpkgSaid(dpkg: DpkgRun, p: RelationProblem): void {
  const said = dpkgMessages(dpkg.stderr).split('\n');
  let at = 0;
  // dpkg prints the error after "error processing ...:" with one space before its first line only.
  for (const line of [...p.detail.split('\n'), ...` ${p.error}`.split('\n')]) {
    if (line.trim() === '') continue;
    const found = said.indexOf(line, at);
    assert.ok(found >= 0, `dpkg did not say ${JSON.stringify(line)} (after line ${at}); dpkg said:\n${said.join('\n')}`);
    at = found + 1;
  }
}

/** The planner predicts exactly what dpkg did. */
export function assertSame(o: Outcome): void {
  assert.deepEqual(eventText(planEvents(o.plan)), eventText(o.dpkg.events), `steps differ; dpkg said:\n${o.dpkg.stdout}${o.dpkg.stderr}`);
  assert.deepEqual(
    o.plan.cycleBreaks.map((c) => `${c.pkg.name} -> ${c.dependsOn}`),
    o.dpkg.cycleBreaks,
    'cycle breaks differ',
  );
  assert.deepEqual(planStates(o.plan), dpkgStates(o.states), 'end states differ');
  assert.equal(o.plan.problems.length > 0, o.dpkg.status !== 0, `dpkg exit ${o.dpkg.status}, plan problems ${o.plan.problems.length}:\n${o.dpkg.stderr}`);
  // dpkg stops checking an archive at its first problem (in control-file field order); the planner lists
  // them all, on purpose. So of the problems it lists for one package, one must be what dpkg said.
  const byPkg = new Map<string, RelationProblem[]>();
  for (const p of o.plan.problems) byPkg.set(p.pkg, [...(byPkg.get(p.pkg) ?? []), p]);
  for (const group of byPkg.values()) {
    const failures: string[] = [];
    for (const p of group) {
      try {
        assertDpkgSaid(o.dpkg, p);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    assert.ok(failures.length < group.length, failures.join('\n---\n'));
  }
}
