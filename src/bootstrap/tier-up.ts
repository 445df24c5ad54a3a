import * as v8 from 'node:v8';

/**
 * V8 optimises a function with TurboFan once it has run through an "interrupt budget" of bytecode (67,584
 * bytes in V8 11). A bootstrap runs a great deal of different code a few dozen times each (25
 * transactions' planning, staging, the configure queues), so most of what TurboFan compiles is used for
 * a few calls and then thrown away by a deoptimisation ("wrong map": 111 bailouts, gatherPlanInput compiled
 * six times): on the 88 archives of minbase + apt its compiler threads took 3.6–4.5 s of CPU of 24 s, the
 * most of anything but the main thread (bench/README.md, "Bootstrap, fourth pass"). Four times the budget
 * keeps TurboFan for the code that really is hot (tar parsing, staging, SQLite statements) and leaves the
 * rest in the baseline tiers: compiler threads ≈ 2 s, the main thread +0.3 s, CPU −1.5 to −2 s in all.
 *
 * Set for the bootstrap command before its engine loads, where it was measured: V8 11 (Node 20). Later V8s
 * tier up through Maglev with budgets of their own, not measured here; they keep V8's defaults.
 */
const V8_11_BUDGET = 67_584;
const BUDGET = 4 * V8_11_BUDGET;

export function optimizeOnlyHotCode(v8Version: string = process.versions.v8): boolean {
  if (!measuredOn(v8Version)) return false;
  v8.setFlagsFromString(`--interrupt-budget=${BUDGET}`);
  return true;
}

/**
 * V8's own budget back: V8 refuses a code cache made under other flags than its loader's, and the build
 * makes the bootstrap pack's cache (build/write-bootstrap-pack.ts) after a bootstrap, which a process
 * loads before this is set.
 */
export function restoreBudget(v8Version: string = process.versions.v8): void {
  if (measuredOn(v8Version)) v8.setFlagsFromString(`--interrupt-budget=${V8_11_BUDGET}`);
}

function measuredOn(v8Version: string): boolean {
  return Number.parseInt(v8Version, 10) === 11;
}
