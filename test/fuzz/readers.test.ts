import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { rate, runCampaign } from '../../fuzz/campaign';
import { describeFinding, Findings } from '../../fuzz/findings';
import { writeSeeds } from '../../fuzz/seeds';
import { DEFAULT_TARGETS } from '../../fuzz/targets';
import { gate } from '../helpers/gate';
import { withTempDir } from '../helpers/temp';
import { fuzzSeed } from './seed';

// Random mutations of real archives through the ar, tar and control readers, in a worker thread watched
// for hangs: every input must be accepted or refused with a one-line OvermergeError. A bounded run (an
// iteration cap and a wall-clock cap, whichever comes first); `npm run fuzz` runs the same for longer.

const SEED = fuzzSeed();
const MAX_INPUTS = 8000;
const WALL_MS = 30_000;
const HANG_MS = 10_000;

test('fuzz: mutated archives and control files are accepted or refused on one line, never crash or hang the readers', async (t) => {
  await withTempDir('fuzz-readers', async (work) => {
    const seeds = await writeSeeds({ dir: path.join(work, 'seeds') });
    await t.test('real Debian archives among the seeds', (st) => {
      if (Object.keys(seeds.real).length === 0) {
        gate(st, { skip: seeds.missing.join('; ') });
        return;
      }
      for (const line of seeds.missing) st.diagnostic(`*** ${line}`);
      st.diagnostic(`real seeds: ${Object.values(seeds.real).flat().map((f) => path.basename(f)).join(', ')}`);
    });
    const findingsDir = path.join(os.tmpdir(), `overmerge-fuzz-findings-${SEED}-${process.pid}`);
    const findings = new Findings(findingsDir, (f) => `npm run fuzz -- --seed ${SEED} --targets ${DEFAULT_TARGETS.join(',')} --replay-iteration ${f.iteration} (or --replay FILE --target ${f.target})`);
    t.diagnostic(`seed ${SEED} (OVERMERGE_FUZZ_SEED=${SEED} repeats this run), ${seeds.files.length} seed archives`);
    const report = await runCampaign({
      seed: SEED,
      seedFiles: seeds.files,
      maxIterations: MAX_INPUTS,
      wallMs: WALL_MS,
      hangMs: HANG_MS,
      jobs: 1,
      workDir: path.join(work, 'lanes'),
      findings,
    });
    let total = 0;
    for (const name of report.targets) {
      const c = report.counts[name];
      total += c.iterations;
      t.diagnostic(`${name}: ${c.iterations} inputs, ${rate(c).toFixed(0)}/s, ${c.accepted} accepted, ${c.refused} refused`);
    }
    t.diagnostic(`${total} inputs in ${(report.elapsedMs / 1000).toFixed(1)} s`);
    // A harness that silently ran nothing would pass too.
    for (const name of report.targets) assert.ok(report.counts[name].iterations > 0, `no input reached ${name}`);
    const list = findings.list;
    assert.deepEqual(
      list.map(describeFinding),
      [],
      `fuzzing with seed ${SEED} found ${list.length} problem(s); the inputs are in ${findingsDir} (OVERMERGE_FUZZ_SEED=${SEED} repeats the run)`,
    );
  });
});
