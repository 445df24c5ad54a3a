import type { Rng } from './rng';

/**
 * Format-blind mutations of a byte string: the classic ones (bit flips, interesting bytes and integers,
 * truncation, chunks inserted, deleted or duplicated, two inputs spliced). Each returns a new buffer;
 * inputs are never changed in place, since seeds are shared between iterations.
 */

/** Bytes that sit on the edges of what tar, ar and deb822 parsers decide on. */
export const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x20, 0x0a, 0x09, 0x2f, 0x2e, 0x3a, 0x30, 0x31, 0x37, 0x38, 0x39, 0x2d];

/** Integers at type and field boundaries, written as binary in either byte order. */
const INTERESTING_INTS = [0, 1, -1, 0x7f, 0x80, 0xff, 0x100, 0x1ff, 0x200, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

/** Text that numeric fields are made of; written into the middle of text formats. */
export const INTERESTING_TEXT = ['0', '7', '8', '9', ' ', '\0', '-', '+', '-1', '777777777777', '99999999999', '\n', '\t', ':', '/', '..', '.'];

export type ByteMutator = (rng: Rng, input: Buffer, other?: Buffer) => Buffer;

function at(rng: Rng, input: Buffer): number {
  return rng.below(input.length + 1);
}

export const flipBit: ByteMutator = (rng, input) => {
  if (input.length === 0) return Buffer.from([rng.below(256)]);
  const out = Buffer.from(input);
  const i = rng.below(out.length);
  out[i] ^= 1 << rng.below(8);
  return out;
};

export const setByte: ByteMutator = (rng, input) => {
  if (input.length === 0) return Buffer.from([rng.pick(INTERESTING_BYTES)]);
  const out = Buffer.from(input);
  out[rng.below(out.length)] = rng.chance(0.7) ? rng.pick(INTERESTING_BYTES) : rng.below(256);
  return out;
};

export const setInt: ByteMutator = (rng, input) => {
  const width = rng.pick([1, 2, 4]);
  if (input.length < width) return setByte(rng, input);
  const out = Buffer.from(input);
  const value = rng.pick(INTERESTING_INTS) >>> 0;
  const i = rng.below(out.length - width + 1);
  const le = rng.chance(0.5);
  for (let k = 0; k < width; k++) {
    const shift = 8 * (le ? k : width - 1 - k);
    out[i + k] = (value >>> shift) & 0xff;
  }
  return out;
};

export const writeText: ByteMutator = (rng, input) => {
  const text = Buffer.from(rng.pick(INTERESTING_TEXT), 'latin1');
  const out = Buffer.from(input);
  const i = rng.below(Math.max(1, out.length));
  if (rng.chance(0.5) || out.length === 0) return Buffer.concat([out.subarray(0, i), text, out.subarray(i)]);
  text.copy(out, i);
  return out;
};

export const truncate: ByteMutator = (rng, input) => input.subarray(0, rng.below(input.length + 1));

export const deleteChunk: ByteMutator = (rng, input) => {
  const from = at(rng, input);
  const len = rng.smallInt(Math.min(4096, input.length - from));
  return Buffer.concat([input.subarray(0, from), input.subarray(from + len)]);
};

export const insertChunk: ByteMutator = (rng, input) => {
  const where = at(rng, input);
  const len = 1 + rng.smallInt(1024);
  const fill = rng.weighted<Buffer>([
    [3, rng.bytes(len)],
    [2, Buffer.alloc(len, rng.pick(INTERESTING_BYTES))],
    [1, Buffer.alloc(512)],
  ]);
  return Buffer.concat([input.subarray(0, where), fill, input.subarray(where)]);
};

export const duplicateChunk: ByteMutator = (rng, input) => {
  const from = at(rng, input);
  const chunk = input.subarray(from, from + 1 + rng.smallInt(4096));
  const where = at(rng, input);
  return Buffer.concat([input.subarray(0, where), chunk, input.subarray(where)]);
};

/** The start of this input joined to the rest of another: each half is real structure, the seam is not. */
export const splice: ByteMutator = (rng, input, other) => {
  if (!other || other.length === 0) return duplicateChunk(rng, input);
  return Buffer.concat([input.subarray(0, at(rng, input)), other.subarray(rng.below(other.length))]);
};

const MUTATORS: ReadonlyArray<readonly [number, ByteMutator]> = [
  [4, flipBit],
  [4, setByte],
  [2, setInt],
  [2, writeText],
  [1, truncate],
  [2, deleteChunk],
  [2, insertChunk],
  [2, duplicateChunk],
  [1, splice],
];

/** One to `max` format-blind mutations in a row (mostly one or two). */
export function mutateBytes(rng: Rng, input: Buffer, other?: Buffer, max = 4): Buffer {
  let out = input;
  const n = 1 + rng.smallInt(max - 1);
  for (let i = 0; i < n; i++) out = rng.weighted(MUTATORS)(rng, out, other);
  return out;
}

/** Mutations confined to `input[from, to)`, keeping every byte outside (and so every offset) in place. */
export function mutateInPlace(rng: Rng, input: Buffer, from: number, to: number, count = 1): Buffer {
  const out = Buffer.from(input);
  for (let k = 0; k < count && to > from; k++) {
    const i = from + rng.below(to - from);
    out[i] = rng.weighted<number>([
      [3, out[i] ^ (1 << rng.below(8))],
      [3, rng.pick(INTERESTING_BYTES)],
      [1, rng.below(256)],
    ]);
  }
  return out;
}
