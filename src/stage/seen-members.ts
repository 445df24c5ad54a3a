import type { RootPath } from '../fs/rootpath';
import { ENTRY_TYPES, type EntryType } from '../model/entry';
import { pathHash } from '../model/path-index';

const FIRST_SIZE = 64;
const DIRECTORY = ENTRY_TYPES.indexOf('directory');

/** A member staged earlier: its index in the manifest and its type. */
export interface SeenMember {
  index: number;
  type: EntryType;
}

/**
 * The members of one archive staged so far, by path, for the checks of the next ones (a repeat, a member
 * beneath a non-directory, a hard link's target). It keeps no string: an open-addressed table of each
 * member's manifest index, its path's hash and its type, 9 bytes a slot with at most half of them used.
 * A hit is confirmed by reading the path at the index (`pathAt`: the manifest, on disk for a huge archive).
 *
 * A Map of path strings did this before and was the largest thing a huge archive's staging held in V8's
 * heap: 250,000 members, 16 MiB live at the end of staging, 0.06 KiB a member (issue 14: peak RSS must
 * not grow with the member count). This table holds 4.5 MiB for as many.
 *
 * The check made for every ancestor of every member, `nonDirectory`, confirms only hits whose type is not
 * a directory: a member's folders are hits almost always, and reading their paths back from a spilled
 * manifest would fetch chunks far from the one being written.
 */
export class SeenMembers {
  private used = 0;
  private slots = new Int32Array(FIRST_SIZE);
  private hashes = new Int32Array(FIRST_SIZE);
  private types = new Uint8Array(FIRST_SIZE);

  constructor(
    private readonly pathAt: (index: number) => RootPath,
    private readonly hash: (p: string) => number = pathHash,
  ) {}

  /** The member staged at `p`, if any. */
  get(p: RootPath): SeenMember | undefined {
    const slot = this.find(p, false);
    return slot < 0 ? undefined : { index: this.slots[slot] - 1, type: ENTRY_TYPES[this.types[slot]] };
  }

  /** The type of the member at `p` when it is not a directory (undefined: none there, or a directory). */
  nonDirectory(p: RootPath): EntryType | undefined {
    const slot = this.find(p, true);
    return slot < 0 ? undefined : ENTRY_TYPES[this.types[slot]];
  }

  /** Records member `index` of the manifest at `p` (not seen before: the caller checked with `get`). */
  add(p: RootPath, index: number, type: EntryType): void {
    if (2 * (this.used + 1) > this.slots.length) this.grow();
    this.enter(index + 1, this.hash(p), ENTRY_TYPES.indexOf(type));
    this.used++;
  }

  /** The slot holding `p` (only a non-directory when `skipDirectories`), or -1. */
  private find(p: RootPath, skipDirectories: boolean): number {
    const h = this.hash(p);
    const mask = this.slots.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const at = this.slots[s];
      if (at === 0) return -1;
      if (this.hashes[s] !== h) continue;
      if (skipDirectories && this.types[s] === DIRECTORY) continue;
      if (this.pathAt(at - 1) === p) return s;
    }
  }

  private enter(slotValue: number, h: number, type: number): void {
    const mask = this.slots.length - 1;
    let s = h & mask;
    while (this.slots[s] !== 0) s = (s + 1) & mask;
    this.slots[s] = slotValue;
    this.hashes[s] = h;
    this.types[s] = type;
  }

  /** Twice the room, every entry entered again with the hash kept for it (no path read back). */
  private grow(): void {
    const { slots, hashes, types } = this;
    this.slots = new Int32Array(2 * slots.length);
    this.hashes = new Int32Array(2 * slots.length);
    this.types = new Uint8Array(2 * slots.length);
    for (let s = 0; s < slots.length; s++) if (slots[s] !== 0) this.enter(slots[s], hashes[s], types[s]);
  }
}
