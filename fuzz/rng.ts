import { seededRandom } from '../fixtures/random';

/**
 * The fuzzer's source of choices. Every input is made from its own generator, seeded from the run's seed
 * and the input's number, so one input can be made again without replaying the inputs before it.
 */
export class Rng {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** The generator for input `iteration` of a run seeded with `seed`. */
  static forIteration(seed: number, iteration: number): Rng {
    return new Rng(mix(seed, iteration));
  }

  float(): number {
    return this.next();
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('fuzz: pick from an empty list');
    return items[this.below(items.length)];
  }

  /** One of `choices`, each as likely as its weight. */
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
    let total = 0;
    for (const [w] of choices) total += w;
    let r = this.next() * total;
    for (const [w, v] of choices) {
      r -= w;
      if (r < 0) return v;
    }
    return choices[choices.length - 1][1];
  }

  /** Small sizes much more often than large ones (mutations are mostly small). */
  smallInt(max: number): number {
    const bits = this.below(Math.max(1, Math.ceil(Math.log2(max + 1))) + 1);
    return Math.min(max, this.below(2 ** bits));
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.below(256);
    return out;
  }
}

/** A 32-bit hash of (seed, n), so neighbouring iterations get unrelated streams. */
export function mix(seed: number, n: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (n >>> 0), 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h ^ Math.floor(n / 0x100000000), 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}
