import type { RootPath } from '../fs/rootpath';
import { ABSENT, type DiskState, type DiskType } from './disk';
import { pathHash } from './path-index';

const TYPES: readonly DiskType[] = ['absent', 'file', 'directory', 'symlink', 'fifo', 'char', 'block', 'socket'];
const TYPE_CODES = new Map<DiskType, number>(TYPES.map((t, i) => [t, i]));
const FIRST_ROOM = 64;
/** The type code of a slot whose path's state is now an object (see `objects`). */
const MOVED = 255;

/**
 * Disk states by path, as the probe gathers them. A state that is lstat's facts and nothing more (most of
 * an upgrade's: a file or folder, no digest, no listing, no link target) is kept as a record of 43 bytes
 * in typed arrays, and read back as a new object each time; any other is kept as the object it is. An
 * upgrade of 116,010 members kept an object and three BigInts a path: 18 MiB, now 5.
 *
 * The paths of the records are kept as UTF-8 bytes, found through an open-addressed table of their hashes
 * (a Map keyed by path strings held 3.5 MiB of table and 5 MiB of strings for 116,010 paths: now 2.6 MiB
 * of bytes and 2 MiB of table). `keys()` decodes them afresh.
 *
 * A state read back is a copy: a change to it is kept only by setting it again.
 */
export class DiskStates implements ReadonlyMap<RootPath, DiskState> {
  private readonly objects = new Map<RootPath, DiskState>();
  /** Slots in use, and those of them whose state is a record (not MOVED). */
  private used = 0;
  private live = 0;
  /** Slot `i`'s path: bytes `keyStarts[i]` to `keyStarts[i + 1]` of `keyBytes`. */
  private keyBytes = Buffer.allocUnsafeSlow(FIRST_ROOM * 32);
  private keyStarts = new Uint32Array(FIRST_ROOM + 1);
  /** Open addressing over the slots: slot + 1 (0: empty), and its path's hash. */
  private table = new Int32Array(2 * FIRST_ROOM);
  private hashes = new Int32Array(2 * FIRST_ROOM);
  private types = new Uint8Array(FIRST_ROOM);
  private modes = new Uint16Array(FIRST_ROOM);
  private uids = new Uint32Array(FIRST_ROOM);
  private gids = new Uint32Array(FIRST_ROOM);
  private sizes = new Float64Array(FIRST_ROOM);
  private mtimes = new BigInt64Array(FIRST_ROOM);
  private ctimes = new BigInt64Array(FIRST_ROOM);
  private inodes = new BigUint64Array(FIRST_ROOM);

  get size(): number {
    return this.live + this.objects.size;
  }

  get(p: RootPath): DiskState | undefined {
    const o = this.objects.get(p);
    if (o !== undefined) return o;
    const slot = this.recordOf(p);
    return slot < 0 ? undefined : this.decode(slot);
  }

  /** The type of the state at `p`, without making the state (a walk up a path asks for many). */
  typeAt(p: RootPath): DiskType | undefined {
    const o = this.objects.get(p);
    if (o !== undefined) return o.type;
    const slot = this.recordOf(p);
    return slot < 0 ? undefined : TYPES[this.types[slot]];
  }

  has(p: RootPath): boolean {
    return this.objects.has(p) || this.recordOf(p) >= 0;
  }

  set(p: RootPath, state: DiskState): this {
    const h = pathHash(p);
    let slot = this.find(p, h);
    if (!fitsRecord(state)) {
      if (slot >= 0 && this.types[slot] !== MOVED) {
        this.types[slot] = MOVED;
        this.live--;
      }
      this.objects.set(p, state);
      return this;
    }
    this.objects.delete(p);
    if (slot < 0) slot = this.add(p, h);
    if (this.types[slot] === MOVED) this.live++;
    this.encode(slot, state);
    return this;
  }

  clear(): void {
    this.objects.clear();
    this.used = 0;
    this.live = 0;
    this.table.fill(0);
  }

  *keys(): MapIterator<RootPath> {
    for (let slot = 0; slot < this.used; slot++) if (this.types[slot] !== MOVED) yield this.keyAt(slot);
    yield* this.objects.keys();
  }

  *values(): MapIterator<DiskState> {
    for (const [, state] of this.entries()) yield state;
  }

  *entries(): MapIterator<[RootPath, DiskState]> {
    for (let slot = 0; slot < this.used; slot++) if (this.types[slot] !== MOVED) yield [this.keyAt(slot), this.decode(slot)];
    yield* this.objects.entries();
  }

  [Symbol.iterator](): MapIterator<[RootPath, DiskState]> {
    return this.entries();
  }

  forEach(fn: (state: DiskState, p: RootPath, map: ReadonlyMap<RootPath, DiskState>) => void): void {
    for (const [p, state] of this.entries()) fn(state, p, this);
  }

  private encode(slot: number, s: DiskState): void {
    this.types[slot] = TYPE_CODES.get(s.type)!;
    if (s.type === 'absent') return;
    this.modes[slot] = s.mode!;
    this.uids[slot] = s.uid!;
    this.gids[slot] = s.gid!;
    this.sizes[slot] = s.size!;
    this.mtimes[slot] = s.mtimeNs!;
    this.ctimes[slot] = s.ctimeNs!;
    this.inodes[slot] = s.ino!;
  }

  private decode(slot: number): DiskState {
    const type = TYPES[this.types[slot]];
    if (type === 'absent') return ABSENT;
    return {
      type,
      mode: this.modes[slot],
      uid: this.uids[slot],
      gid: this.gids[slot],
      size: this.sizes[slot],
      mtimeNs: this.mtimes[slot],
      ctimeNs: this.ctimes[slot],
      ino: this.inodes[slot],
    };
  }

  /** The slot of `p` if its state is a record, or -1. */
  private recordOf(p: RootPath): number {
    const slot = this.find(p, pathHash(p));
    return slot >= 0 && this.types[slot] !== MOVED ? slot : -1;
  }

  /** The slot of `p` (a record, or MOVED), or -1. */
  private find(p: RootPath, h: number): number {
    const mask = this.table.length - 1;
    for (let at = h & mask; ; at = (at + 1) & mask) {
      const slot = this.table[at] - 1;
      if (slot < 0) return -1;
      if (this.hashes[at] === h && this.keyAt(slot) === p) return slot;
    }
  }

  /** A new slot for `p` (its record is written by the caller), its path stored and entered in the table. */
  private add(p: RootPath, h: number): number {
    const slot = this.used++;
    if (slot === this.types.length) this.grow();
    const start = this.keyStarts[slot];
    const bytes = Buffer.byteLength(p);
    if (start + bytes > this.keyBytes.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(2 * this.keyBytes.length, start + bytes));
      this.keyBytes.copy(bigger, 0, 0, start);
      this.keyBytes = bigger;
    }
    this.keyBytes.write(p, start, 'utf8');
    this.keyStarts[slot + 1] = start + bytes;
    this.types[slot] = MOVED; // until the caller encodes it
    if (2 * this.used > this.table.length) this.rehash(2 * this.table.length);
    this.enter(slot, h);
    return slot;
  }

  private keyAt(slot: number): RootPath {
    return this.keyBytes.toString('utf8', this.keyStarts[slot], this.keyStarts[slot + 1]) as RootPath;
  }

  private enter(slot: number, h: number): void {
    const mask = this.table.length - 1;
    let at = h & mask;
    while (this.table[at] !== 0) at = (at + 1) & mask;
    this.table[at] = slot + 1;
    this.hashes[at] = h;
  }

  /** A table of `size` positions, every slot entered again with the hash kept for it (no path decoded). */
  private rehash(size: number): void {
    const table = this.table;
    const hashes = this.hashes;
    this.table = new Int32Array(size);
    this.hashes = new Int32Array(size);
    for (let at = 0; at < table.length; at++) if (table[at] !== 0) this.enter(table[at] - 1, hashes[at]);
  }

  /** Room for twice as many records. */
  private grow(): void {
    const n = this.types.length * 2;
    this.types = copyInto(new Uint8Array(n), this.types);
    this.modes = copyInto(new Uint16Array(n), this.modes);
    this.uids = copyInto(new Uint32Array(n), this.uids);
    this.gids = copyInto(new Uint32Array(n), this.gids);
    this.sizes = copyInto(new Float64Array(n), this.sizes);
    this.mtimes = copyInto(new BigInt64Array(n), this.mtimes);
    this.ctimes = copyInto(new BigInt64Array(n), this.ctimes);
    this.inodes = copyInto(new BigUint64Array(n), this.inodes);
    this.keyStarts = copyInto(new Uint32Array(n + 1), this.keyStarts);
  }
}

function copyInto<T extends { set(a: T): void }>(to: T, from: T): T {
  to.set(from);
  return to;
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;

/** Whether `s` is lstat's facts alone, each within its field of the record, so that it reads back equal. */
function fitsRecord(s: DiskState): boolean {
  if (s.target !== undefined || s.targetIsDir !== undefined || s.md5 !== undefined || s.children !== undefined || s.beneath !== undefined) return false;
  if (s.type === 'absent') return s.mode === undefined && s.uid === undefined && s.gid === undefined && s.size === undefined && s.mtimeNs === undefined && s.ctimeNs === undefined && s.ino === undefined;
  return (
    TYPE_CODES.has(s.type) &&
    inRange(s.mode, 0xffff) &&
    inRange(s.uid, 0xffffffff) &&
    inRange(s.gid, 0xffffffff) &&
    inRange(s.size, Number.MAX_SAFE_INTEGER) &&
    typeof s.mtimeNs === 'bigint' &&
    s.mtimeNs >= I64_MIN &&
    s.mtimeNs <= I64_MAX &&
    typeof s.ctimeNs === 'bigint' &&
    s.ctimeNs >= I64_MIN &&
    s.ctimeNs <= I64_MAX &&
    typeof s.ino === 'bigint' &&
    s.ino >= 0n &&
    s.ino <= U64_MAX
  );
}

function inRange(n: number | undefined, max: number): boolean {
  return n !== undefined && Number.isInteger(n) && n >= 0 && n <= max;
}
