import { execFile, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { buildDeb } from '../../src/archive/build';
import { parseParagraphs } from '../../src/control/deb822';
import { buildDeb as buildHandMadeDeb, controlFields, controlTar, controlText } from '../../fixtures/hostile/deb';
import { tarArchive, tarFile } from '../../fixtures/hostile/tar-writer';
import { FIXTURE_EPOCH } from './fixtures';

const execFileP = promisify(execFile);

/**
 * Packages for the trigger oracle tests and real dpkg to install them. A fixture declares what its
 * postinst does in terms the model understands too (which dpkg-trigger calls it makes, whether it fails);
 * the script itself also appends `PACKAGE postinst ARGS` to ROOT/log, so dpkg's calls can be compared with
 * the planner's. dpkg runs chrootless on a temporary root (the scripts run on the host but only write
 * inside the root and call dpkg-trigger, which dpkg points at the root's database).
 */
export interface DpkgTriggerCall {
  trigger: string;
  noAwait?: boolean;
}

export interface TriggerFixture {
  name: string;
  version?: string;
  depends?: string;
  /** The DEBIAN/triggers file, verbatim. */
  triggers?: string;
  /** Files of the payload (absolute paths), each holding its own name. */
  files?: string[];
  /** Payload files that are conffiles too. */
  conffiles?: string[];
  /**
   * data.tar holds the files alone, no directory members (dpkg-deb never builds that; a hand-made archive
   * may): the files' folders must then exist already on the root.
   */
  filesOnly?: boolean;
  /** dpkg-trigger calls of `postinst configure`. */
  onConfigure?: DpkgTriggerCall[];
  /** dpkg-trigger calls of `postinst triggered`. */
  onTriggered?: DpkgTriggerCall[];
  /** `postinst triggered` exits 1 (after its dpkg-trigger calls). */
  failTriggered?: boolean;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function triggerCalls(calls: DpkgTriggerCall[] | undefined): string {
  return (calls ?? []).map((c) => `dpkg-trigger ${c.noAwait ? '--no-await ' : ''}${shellQuote(c.trigger)}`).join('; ') || ':';
}

export function postinstText(f: TriggerFixture): string {
  return [
    '#!/bin/sh',
    'set -e',
    'echo "$DPKG_MAINTSCRIPT_PACKAGE postinst $*" >> "$DPKG_ROOT/log"',
    'case "$1" in',
    `  configure) ${triggerCalls(f.onConfigure)} ;;`,
    `  triggered) ${triggerCalls(f.onTriggered)}${f.failTriggered ? '; exit 1' : ''} ;;`,
    'esac',
    'exit 0',
    '',
  ].join('\n');
}

/** Builds `f` into workDir/NAME_VERSION.deb with the project's builder (or by hand, for `filesOnly`). */
export async function buildTriggerDeb(workDir: string, f: TriggerFixture): Promise<string> {
  if (f.filesOnly) return buildFilesOnlyDeb(workDir, f);
  const tree = await fsp.mkdtemp(path.join(workDir, `${f.name}-tree-`));
  await fsp.chmod(tree, 0o755);
  const debian = path.join(tree, 'DEBIAN');
  await fsp.mkdir(debian, { mode: 0o755 });
  await fsp.chmod(debian, 0o755);
  const fields: [string, string][] = [
    ['Package', f.name],
    ['Version', f.version ?? '1'],
    ['Architecture', 'all'],
    ['Maintainer', 'overmerge tests <tests@overmerge.invalid>'],
    ...(f.depends ? ([['Depends', f.depends]] as [string, string][]) : []),
    ['Description', `${f.name} (trigger test)`],
  ];
  await fsp.writeFile(path.join(debian, 'control'), fields.map(([k, v]) => `${k}: ${v}\n`).join(''));
  if (f.triggers !== undefined) await fsp.writeFile(path.join(debian, 'triggers'), f.triggers);
  await fsp.writeFile(path.join(debian, 'postinst'), postinstText(f), { mode: 0o755 });
  await fsp.chmod(path.join(debian, 'postinst'), 0o755);
  if (f.conffiles?.length) await fsp.writeFile(path.join(debian, 'conffiles'), f.conffiles.map((c) => `${c}\n`).join(''));
  for (const file of [...(f.files ?? []), ...(f.conffiles ?? [])]) {
    const at = path.join(tree, file);
    await fsp.mkdir(path.dirname(at), { recursive: true, mode: 0o755 });
    await fsp.writeFile(at, `${file}\n`);
    await fsp.chmod(at, 0o644);
  }
  const deb = path.join(workDir, `${f.name}_${f.version ?? '1'}.deb`);
  await buildDeb(tree, deb, { compression: 'gzip', sourceDateEpoch: FIXTURE_EPOCH });
  await fsp.rm(tree, { recursive: true, force: true });
  return deb;
}

async function buildFilesOnlyDeb(workDir: string, f: TriggerFixture): Promise<string> {
  const fields = controlFields(f.name, { Version: f.version ?? '1', ...(f.depends ? { Depends: f.depends } : {}) });
  const extra = [tarFile('./postinst', postinstText(f), { mode: 0o755 }), ...(f.triggers === undefined ? [] : [tarFile('./triggers', f.triggers)])];
  const data = tarArchive((f.files ?? []).map((file) => tarFile(`.${file}`, `${file}\n`)));
  const deb = path.join(workDir, `${f.name}_${f.version ?? '1'}.deb`);
  await fsp.writeFile(deb, buildHandMadeDeb({ control: { tar: controlTar(controlText(fields), extra) }, data }));
  return deb;
}

/** Why real dpkg cannot be the oracle here, or undefined. */
export async function cannotRunDpkgTriggers(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (dpkg --root)';
  for (const tool of ['dpkg', 'dpkg-query', 'dpkg-trigger']) {
    try {
      await execFileP('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `needs ${tool} on PATH`;
    }
  }
  return undefined;
}

export interface DpkgResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface PackageRow {
  status: string;
  /** The fields as written in the status file ('' when absent). */
  pending: string;
  awaited: string;
}

/** A temporary root with an empty dpkg database, and real dpkg acting on it. */
export class DpkgRoot {
  constructor(readonly root: string) {}

  static async create(dir: string): Promise<DpkgRoot> {
    const root = path.join(dir, 'root');
    const admin = path.join(root, 'var/lib/dpkg');
    for (const d of ['info', 'updates']) await fsp.mkdir(path.join(admin, d), { recursive: true });
    for (const f of ['status', 'available']) await fsp.writeFile(path.join(admin, f), '');
    await fsp.writeFile(path.join(root, 'log'), '');
    return new DpkgRoot(root);
  }

  get adminDir(): string {
    return path.join(this.root, 'var/lib/dpkg');
  }

  /** `dpkg --root=ROOT --force-script-chrootless ARGS`. */
  dpkg(args: string[]): Promise<DpkgResult> {
    return this.spawn('dpkg', [`--root=${this.root}`, '--force-script-chrootless', '--log=/dev/null', ...args]);
  }

  query(format: string): Promise<DpkgResult> {
    return this.spawn('dpkg-query', [`--admindir=${this.adminDir}`, '-W', '-f', format]);
  }

  private spawn(cmd: string, args: string[]): Promise<DpkgResult> {
    const env: NodeJS.ProcessEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on('close', (code) => resolve({ status: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    });
  }

  /** The postinst calls logged since the last call, one `PACKAGE postinst ARGS` line each (trailing blanks cut). */
  async takeLog(): Promise<string[]> {
    const file = path.join(this.root, 'log');
    const text = await fsp.readFile(file, 'utf8');
    await fsp.writeFile(file, '');
    return text.split('\n').filter((l) => l !== '').map((l) => l.trimEnd());
  }

  /** Every package of the status file that is not not-installed: its state and the two trigger fields. */
  async statusRows(): Promise<Record<string, PackageRow>> {
    const text = await fsp.readFile(path.join(this.adminDir, 'status'), 'utf8');
    const rows: Record<string, PackageRow> = {};
    for (const p of parseParagraphs(text)) {
      const status = (p.get('Status') ?? '').split(' ')[2];
      if (status === 'not-installed') continue;
      rows[p.get('Package') as string] = { status, pending: p.get('Triggers-Pending') ?? '', awaited: p.get('Triggers-Awaited') ?? '' };
    }
    return rows;
  }

  /** The data files of triggers/ (Lock left out), name → text. */
  async triggerFiles(): Promise<Record<string, string>> {
    const dir = path.join(this.adminDir, 'triggers');
    const out: Record<string, string> = {};
    for (const name of (await fsp.readdir(dir).catch(() => [] as string[])).sort()) {
      if (name !== 'Lock') out[name] = await fsp.readFile(path.join(dir, name), 'latin1');
    }
    return out;
  }
}
