/**
 * The order in which dpkg walks its package table (lib/dpkg/pkg-hash.c pkg_hash_iter_next_pkg): bins of
 * FNV-1a hashes of the lower-cased package name modulo 65521, in bin order; names sharing a bin in the order
 * dpkg first met them (for the status file: its order, which is by name). It decides which triggered
 * package `--configure --pending` and `--triggers-only -a` take first, and which package a trigger cycle
 * gives up on, so the planner has to walk packages the same way.
 */
const BINS = 65521;

/**
 * FNV-1a over the UTF-8 bytes. dpkg feeds it `char`s, signed on the usual targets, so a byte >= 0x80 would
 * hash differently there; package names are ASCII, so it never matters.
 */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** dpkg's bin for a package name; an arch qualifier is not part of the set name. */
export function hashBin(name: string): number {
  const set = name.split(':')[0].toLowerCase();
  return fnv1a32(set) % BINS;
}

/** `names` (in the order dpkg met them) in dpkg's package-table order. */
export function dpkgTableOrder(names: readonly string[]): string[] {
  return names
    .map((name, seen) => ({ name, seen, bin: hashBin(name) }))
    .sort((a, b) => a.bin - b.bin || a.seen - b.seen)
    .map((x) => x.name);
}
