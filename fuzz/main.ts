import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { rate, runCampaign } from './campaign';
import { loadCorpus } from './corpus';
import { NOWHERE } from './dictionary';
import { describeFinding, Findings, type FindingReport } from './findings';
import { runInstallCheck } from './install';
import { Rng } from './rng';
import { writeSeeds } from './seeds';
import { DEFAULT_TARGETS, isTargetName, TARGET_NAMES, TARGETS, type TargetName } from './targets';
import { classify } from './verdict';
import { targetOf } from './worker';

/**
 * `npm run fuzz`: the suite's fuzz tests for longer. Prints inputs per target, every finding with the
 * path of its saved input, and exits 1 if there was any.
 *
 *   --minutes N            wall-clock budget (default 10); a tenth of it goes to real installs
 *   --seed S               the run's seed (default: random, printed)
 *   --jobs N               worker threads (default: one per CPU)
 *   --targets a,b          only these targets (default: all)
 *   --replay-iteration I   make input I of the run again (same --seed and --targets) and run it here
 *   --replay FILE --target T   run one saved input here
 */
const USAGE = 'usage: npm run fuzz -- [--minutes N] [--seed S] [--jobs N] [--targets a,b] [--replay-iteration I | --replay FILE --target T]';

interface Options {
  minutes: number;
  seed: number;
  jobs: number;
  targets: TargetName[];
  replayIteration?: number;
  replay?: string;
  target?: TargetName;
}

class UsageError extends Error {}

/** Every target; the dpkg-deb comparison only when dpkg-deb is there. */
function defaultTargets(): string[] {
  const dpkg = spawnSync('dpkg-deb', ['--version'], { stdio: 'ignore' });
  if (dpkg.error) {
    console.log('*** dpkg-deb not found: contents-dpkg (overmerge contents against dpkg-deb -c) is left out');
    return [...DEFAULT_TARGETS];
  }
  return [...TARGET_NAMES];
}

const ARGS = {
  minutes: { type: 'string' },
  seed: { type: 'string' },
  jobs: { type: 'string' },
  targets: { type: 'string' },
  'replay-iteration': { type: 'string' },
  replay: { type: 'string' },
  target: { type: 'string' },
} as const;

function parse(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: ARGS, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values } = parsed;
  const number = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} takes a number, not ${JSON.stringify(text)}`);
    return n;
  };
  const targets = values.targets === undefined ? defaultTargets() : values.targets.split(',');
  for (const t of [...targets, ...(values.target ? [values.target] : [])]) {
    if (!isTargetName(t)) throw new UsageError(`unknown target ${JSON.stringify(t)} (targets: ${TARGET_NAMES.join(', ')})`);
  }
  if (values.replay !== undefined && values.target === undefined) throw new UsageError('--replay needs --target');
  return {
    minutes: number('minutes', values.minutes, 10),
    seed: Math.trunc(number('seed', values.seed, Math.floor(Math.random() * 2 ** 31))),
    jobs: Math.max(1, Math.trunc(number('jobs', values.jobs, os.availableParallelism()))),
    targets: targets as TargetName[],
    replayIteration: values['replay-iteration'] === undefined ? undefined : Math.trunc(number('replay-iteration', values['replay-iteration'], 0)),
    replay: values.replay,
    target: values.target as TargetName | undefined,
  };
}

/** Runs one input in this process and prints what became of it. */
async function replay(name: TargetName, bytes: Buffer, rng: Rng, work: string): Promise<number> {
  const file = path.join(work, 'replayed-input');
  await fsp.writeFile(file, bytes);
  try {
    await TARGETS[name].run({ bytes, file }, rng);
    console.log(`${name}: accepted`);
    return 0;
  } catch (err) {
    const outcome = classify(err);
    if (outcome.kind === 'refused') {
      console.log(`${name}: refused (${outcome.code}): ${(err as Error).message}`);
      return 0;
    }
    console.log(`${name}: CRASH\n${outcome.kind === 'crash' ? outcome.reason : ''}`);
    return 1;
  }
}

async function main(): Promise<number> {
  const o = parse(process.argv.slice(2));
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'overmerge-fuzz-'));
  try {
    if (o.replay !== undefined && o.target) return await replay(o.target, await fsp.readFile(o.replay), new Rng(o.seed), work);
    const seeds = await writeSeeds({ dir: path.join(work, 'seeds') });
    for (const line of seeds.missing) console.log(`*** ${line}`);
    if (o.replayIteration !== undefined) {
      const i = o.replayIteration;
      const name = targetOf(o.targets, i);
      const rng = Rng.forIteration(o.seed, i);
      const input = await TARGETS[name].generate(rng, await loadCorpus(seeds.files, NOWHERE));
      console.log(`input ${i} of seed ${o.seed}: ${name}, ${input.how}, ${input.bytes.length} bytes`);
      return await replay(name, input.bytes, rng, work);
    }
    const findingsDir = path.join(os.tmpdir(), `overmerge-fuzz-findings-${o.seed}-${process.pid}`);
    const targetsArg = ` --targets ${o.targets.join(',')}`;
    const findings = new Findings(findingsDir, (f: FindingReport) =>
      f.kind === 'install'
        ? `node bin/overmerge --root ROOT install FILE (a root made by test/hostile/harness.ts makeRoot)`
        : `npm run fuzz -- --seed ${o.seed}${targetsArg} --replay-iteration ${f.iteration}  (or --replay FILE --target ${f.target})`,
    );
    const totalMs = o.minutes * 60_000;
    console.log(`fuzz: seed ${o.seed}, ${o.minutes} min, ${o.jobs} thread(s), ${seeds.files.length} seed archives, targets ${o.targets.join(' ')}`);
    const report = await runCampaign({
      seed: o.seed,
      seedFiles: seeds.files,
      targets: o.targets,
      wallMs: totalMs * 0.9,
      jobs: o.jobs,
      workDir: path.join(work, 'lanes'),
      findings,
      log: (line) => console.log(line),
    });
    for (const t of report.targets) {
      const c = report.counts[t];
      console.log(`${t}: ${c.iterations} inputs (${rate(c).toFixed(0)}/s), ${c.accepted} accepted, ${c.refused} refused`);
    }
    const install = await runInstallCheck({ seed: o.seed, wallMs: totalMs * 0.1, maxRuns: Infinity, findings, workDir: path.join(work, 'install') });
    console.log(`install: ${install.runs} CLI installs (${install.installed} installed, ${install.refused} refused) of ${install.generated} mutated archives`);
    const list = findings.list;
    console.log(list.length === 0 ? 'findings: none' : `findings: ${list.length} distinct, from ${findings.total} inputs; saved in ${findingsDir}`);
    for (const f of list) console.log(`  ${describeFinding(f)}`);
    return list.length === 0 ? 0 : 1;
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError) {
        console.error(`fuzz: ${err.message}\n${USAGE}`);
        process.exit(2);
      }
      console.error(`fuzz: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
