import type { RootPath } from '../fs/rootpath';

/**
 * Finds the index of a path in a list that can tell the path at an index (an installed version's rows),
 * keeping no string per entry: an open-addressed table of indices and their paths' hashes in typed arrays,
 * 8 bytes a slot, at most half of the slots used (116,010 paths: 2 MiB; a Map of them held 3.5 MiB of
 * table beside the 4.4 MiB of its keys). A hit is confirmed by reading the path at the index, so a hash
 * collision costs a read and never a wrong answer. The first of two equal paths is the one found.
 */
export class PathIndex {
  /** Index + 1 of the entry in each slot; 0 for an empty slot. */
  private readonly slots: Int32Array;
  private readonly hashes: Int32Array;
  private readonly mask: number;

  constructor(
    count: number,
    private readonly pathAt: (index: number) => RootPath,
  ) {
    let size = 16;
    while (size < 2 * count) size *= 2;
    this.slots = new Int32Array(size);
    this.hashes = new Int32Array(size);
    this.mask = size - 1;
    for (let i = 0; i < count; i++) this.add(i, pathAt(i));
  }

  /** The index of `path`, or -1. */
  find(path: RootPath): number {
    const h = pathHash(path);
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const at = this.slots[s] - 1;
      if (at < 0) return -1;
      if (this.hashes[s] === h && this.pathAt(at) === path) return at;
    }
  }

  private add(index: number, path: RootPath): void {
    const h = pathHash(path);
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const at = this.slots[s] - 1;
      if (at < 0) {
        this.slots[s] = index + 1;
        this.hashes[s] = h;
        return;
      }
      if (this.hashes[s] === h && this.pathAt(at) === path) return;
    }
  }
}

/** FNV-1a over the UTF-16 code units, then mixed (murmur3's finaliser) so that the low bits spread. */
export function pathHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
