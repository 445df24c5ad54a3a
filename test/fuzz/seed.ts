/** The suite's fuzz seed: fixed, so every run tries the same inputs, unless OVERMERGE_FUZZ_SEED says otherwise. */
export const DEFAULT_FUZZ_SEED = 20240611;

export function fuzzSeed(): number {
  const text = process.env.OVERMERGE_FUZZ_SEED;
  if (text === undefined || text === '') return DEFAULT_FUZZ_SEED;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`OVERMERGE_FUZZ_SEED must be an integer, not ${JSON.stringify(text)}`);
  return n;
}
