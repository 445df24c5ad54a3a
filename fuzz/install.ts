import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readDebControl, readDebData } from '../src/archive/deb';
import { assertOutsideUnchanged, assertUnchanged, makeRoot, makeSandbox, removeSandbox, world, type Sandbox } from '../test/hostile/harness';
import { BIN } from '../test/helpers/run-cli';
import { loadCorpus, type Corpus } from './corpus';
import { mutateDeb } from './deb-mutate';
import type { Findings } from './findings';
import { mix, Rng } from './rng';
import { writeSeeds } from './seeds';

/**
 * The end-to-end check: mutated archives installed by the real CLI (`bin/overmerge`, a process of its
 * own) into a root holding decoy symlinks that lead to canary folders outside it (test/hostile/harness.ts).
 * Whatever the archive, the CLI must exit 0, or exit 1 with exactly one `overmerge: ...` error (see
 * refusalProblems) and no stack; nothing outside the root may change; and after a refusal the root and its database must be as
 * they were. A CLI start costs about 0.3 s, so only a sample runs: mostly archives the readers accept
 * (those reach the stager and the engine), some they refuse (the CLI's error path).
 */
export interface InstallCheckOptions {
  seed: number;
  wallMs: number;
  maxRuns: number;
  findings: Findings;
  /** Seeds are written here (outside the sandbox, which is snapshotted whole). */
  workDir: string;
  /** Per CLI run; a run that takes longer is a hang (default 60 s). */
  hangMs?: number;
}

export interface InstallReport {
  generated: number;
  runs: number;
  installed: number;
  refused: number;
  /** Why real archives are missing from the seeds, when they are. */
  missing: string[];
}

const FUZZ_FORCES = 'depends,depends-version,conflicts,breaks,architecture';

interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function runCli(argv: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
  });
}

/** Whether both readers accept the archive: such inputs get past reading, into staging and the engine. */
async function readable(file: string): Promise<boolean> {
  try {
    await readDebControl(file);
    for await (const entry of readDebData(file)) entry.body.resume();
    return true;
  } catch {
    return false;
  }
}

/** What is wrong with how the CLI ended, as a list of problems (empty when it ended as it should). */
function exitProblems(r: RunResult): string[] {
  const problems: string[] = [];
  if (r.timedOut) problems.push('the CLI did not finish (killed by the watchdog)');
  if (/internal error|\n\s+at /.test(r.stderr)) problems.push(`a stack trace or internal error on stderr: ${r.stderr.slice(0, 2000)}`);
  if (r.status === 1) problems.push(...refusalProblems(r.stderr));
  if (!r.timedOut && r.status !== 0 && r.status !== 1) problems.push(`exit status ${r.status} (stderr: ${r.stderr.slice(0, 2000)})`);
  return problems;
}

/**
 * A refusal ends with exactly one error: one `overmerge: ...` line, after the warnings of the relations the
 * run forces (each its `overmerge: ...` line and dpkg's indented ones), and followed by lines of its own
 * only for a refusal by package relations (the problems, in dpkg's words).
 */
function refusalProblems(stderr: string): string[] {
  const lines = stderr.endsWith('\n') ? stderr.slice(0, -1).split('\n') : [stderr];
  const heads = lines.flatMap((l, i) => (l.startsWith('overmerge: ') ? [i] : []));
  const last = heads[heads.length - 1];
  const bad = `exit 1 without exactly one 'overmerge: ...' error on stderr: ${JSON.stringify(stderr.slice(0, 2000))}`;
  if (last === undefined || !stderr.endsWith('\n')) return [bad];
  const after = lines.slice(last + 1);
  if (after.length > 0 && !lines[last].startsWith('overmerge: package relations refuse the transaction')) return [bad];
  if (lines.slice(0, last).some((l) => !l.startsWith('overmerge: ') && !/^ /.test(l))) return [bad];
  return [];
}

class Roots {
  private made = 0;
  root = '';

  constructor(private readonly sb: Sandbox) {}

  async fresh(): Promise<string> {
    if (this.root) await fsp.rm(path.dirname(this.root), { recursive: true, force: true });
    this.root = await makeRoot(this.sb, `r${this.made++}`);
    return this.root;
  }
}

function problemsOf(check: () => void): string[] {
  try {
    check();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

/** Seeds the readers accept; most installs start from one, since mutations of a refused seed stay refused. */
async function acceptedSeeds(files: readonly string[], corpus: Corpus): Promise<Corpus['debs']> {
  const out: Corpus['debs'] = [];
  for (let i = 0; i < files.length; i++) if (await readable(files[i])) out.push(corpus.debs[i]);
  return out.length > 0 ? out : corpus.debs;
}

async function one(sb: Sandbox, roots: Roots, corpus: Corpus, accepted: Corpus['debs'], rng: Rng, o: InstallCheckOptions, report: InstallReport, n: number): Promise<void> {
  const seed = rng.chance(0.8) ? rng.pick(accepted) : rng.pick(corpus.debs);
  const { bytes, how } = await mutateDeb(rng, seed, rng.pick(corpus.debs), corpus.dict, 'install');
  report.generated++;
  const file = path.join(sb.debs, `fuzz-${n}.deb`);
  await fsp.writeFile(file, bytes);
  try {
    if (!rng.chance((await readable(file)) ? 0.9 : 0.15)) return;
    const root = roots.root;
    const before = await world(sb, root);
    const mode = rng.pick(['rename', 'copy', 'hardlink']);
    // Relations are forced (to warnings): the archives are judged alone, on a root without what they
    // depend on, and they are here to reach the stager and the engine.
    const r = await runCli(['--root', root, '--mode', mode, '-q', 'install', `--force=${FUZZ_FORCES}`, file], o.hangMs ?? 60_000);
    report.runs++;
    const what = `install --mode ${mode} of ${how}`;
    const problems = exitProblems(r);
    if (r.status === 0) report.installed++;
    else report.refused++;
    try {
      const after = await world(sb, root, { rootToo: r.status !== 0 });
      const check = r.status === 0 ? assertOutsideUnchanged : assertUnchanged;
      problems.push(...problemsOf(() => check(before, after, what)));
    } catch (err) {
      problems.push(`the root or its database cannot be read after the run: ${(err as Error).stack ?? String(err)}`);
    }
    if (problems.length > 0) {
      await o.findings.add({ kind: 'install', target: 'install', how: `${what} (mutated archive ${n})`, reason: problems.join('\n') }, bytes);
    }
    // An installed package (or a root in an unknown state) is not the root the next archive should meet.
    if (r.status !== 1 || problems.length > 0) await roots.fresh();
  } finally {
    await fsp.rm(file, { force: true });
  }
}

export async function runInstallCheck(o: InstallCheckOptions): Promise<InstallReport> {
  const started = Date.now();
  const report: InstallReport = { generated: 0, runs: 0, installed: 0, refused: 0, missing: [] };
  let sb: Sandbox | undefined;
  try {
    sb = await makeSandbox('overmerge-fuzz-install-');
    const seeds = await writeSeeds({ dir: path.join(o.workDir, 'seeds'), outside: sb.canary, realPerCompression: 1 });
    report.missing = seeds.missing;
    const corpus = await loadCorpus(seeds.files, { abs: sb.canary, relName: 'canary' });
    const accepted = await acceptedSeeds(seeds.files, corpus);
    const roots = new Roots(sb);
    await roots.fresh();
    for (let n = 0; report.runs < o.maxRuns && Date.now() - started < o.wallMs; n++) {
      await one(sb, roots, corpus, accepted, new Rng(mix(o.seed ^ 0x1a57a11, n)), o, report, n);
    }
  } finally {
    await removeSandbox(sb);
  }
  return report;
}
