import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { describeFinding, Findings, type Finding } from '../../fuzz/findings';
import { runInstallCheck } from '../../fuzz/install';
import { fuzzSeed } from './seed';
import { withTempDir } from '../helpers/temp';

// Mutated archives installed by the real CLI into a root whose decoy symlinks lead to canary folders
// outside it: exit 0, or exit 1 with one `overmerge: ...` line; nothing outside the root changed; after
// a refusal, the root and its database as they were. A sample, bounded in runs and in time.

const SEED = fuzzSeed();
const MAX_RUNS = 40;
const WALL_MS = 20_000;

/**
 * Findings whose cause lies outside src/archive and src/control, reported to their owner and shown here as
 * todo subtests (in the report, not failing the suite) until fixed. Remove an entry when its fix lands.
 */
const KNOWN: Array<{ match: RegExp; what: string }> = [];

test('fuzz: installing mutated archives writes nothing outside the root, and a refusal changes nothing', async (t) => {
  await withTempDir('fuzz-install', async (work) => {
    const findingsDir = path.join(os.tmpdir(), `overmerge-fuzz-findings-${SEED}-${process.pid}`);
    const findings = new Findings(findingsDir, () => `OVERMERGE_FUZZ_SEED=${SEED} node --test dist/test/fuzz/install.test.js`);
    t.diagnostic(`seed ${SEED} (OVERMERGE_FUZZ_SEED=${SEED} repeats this run)`);
    const report = await runInstallCheck({ seed: SEED, wallMs: WALL_MS, maxRuns: MAX_RUNS, findings, workDir: work });
    for (const line of report.missing) t.diagnostic(`*** ${line}`);
    t.diagnostic(`${report.runs} CLI installs (${report.installed} installed, ${report.refused} refused) of ${report.generated} mutated archives`);
    assert.ok(report.runs > 0, 'no install ran');
    const known = (f: Finding) => KNOWN.find((k) => k.match.test(f.reason));
    for (const f of findings.list.filter(known)) {
      await t.test(`known bug: ${known(f)!.what}`, { todo: 'outside src/archive and src/control' }, () => assert.fail(describeFinding(f)));
    }
    const list = findings.list.filter((f) => !known(f));
    assert.deepEqual(
      list.map(describeFinding),
      [],
      `fuzzing installs with seed ${SEED} found ${list.length} problem(s); the archives are in ${findingsDir} (OVERMERGE_FUZZ_SEED=${SEED} repeats the run)`,
    );
  });
});
