import type { RootPath } from '../fs/rootpath';
import { ABSENT, type DiskState, type DiskType } from './disk';

const TYPES: readonly DiskType[] = ['absent', 'file', 'directory', 'symlink', 'fifo', 'char', 'block', 'socket'];
const TYPE_CODES = new Map<DiskType, number>(TYPES.map((t, i) => [t, i]));
const FIRST_ROOM = 64;

/**
 * Disk states by path, as the probe gathers them. A state that is lstat's facts and nothing more (most of
 * an upgrade's: a file or folder, no digest, no listing, no link target) is kept as a record of 43 bytes
 * in typed arrays, and read back as a new object each time; any other is kept as the object it is. An
 * upgrade of 116,010 members kept an object and three BigInts a path: 18 MiB, now 5.
 *
 * A state read back is a copy: a change to it is kept only by setting it again.
 */
export class DiskStates implements ReadonlyMap<RootPath, DiskState> {
  private readonly slots = new Map<RootPath, number>();
  private readonly objects = new Map<RootPath, DiskState>();
  private used = 0;
  private types = new Uint8Array(FIRST_ROOM);
  private modes = new Uint16Array(FIRST_ROOM);
  private uids = new Uint32Array(FIRST_ROOM);
  private gids = new Uint32Array(FIRST_ROOM);
  private sizes = new Float64Array(FIRST_ROOM);
  private mtimes = new BigInt64Array(FIRST_ROOM);
  private ctimes = new BigInt64Array(FIRST_ROOM);
  private inodes = new BigUint64Array(FIRST_ROOM);

  get size(): number {
    return this.slots.size + this.objects.size;
  }

  get(p: RootPath): DiskState | undefined {
    const o = this.objects.get(p);
    if (o !== undefined) return o;
    const slot = this.slots.get(p);
    return slot === undefined ? undefined : this.decode(slot);
  }

  /** The type of the state at `p`, without making the state (a walk up a path asks for many). */
  typeAt(p: RootPath): DiskType | undefined {
    const o = this.objects.get(p);
    if (o !== undefined) return o.type;
    const slot = this.slots.get(p);
    return slot === undefined ? undefined : TYPES[this.types[slot]];
  }

  has(p: RootPath): boolean {
    return this.slots.has(p) || this.objects.has(p);
  }

  set(p: RootPath, state: DiskState): this {
    if (!fitsRecord(state)) {
      this.slots.delete(p);
      this.objects.set(p, state);
      return this;
    }
    this.objects.delete(p);
    let slot = this.slots.get(p);
    if (slot === undefined) {
      slot = this.used++;
      if (slot === this.types.length) this.grow();
      this.slots.set(p, slot);
    }
    this.encode(slot, state);
    return this;
  }

  clear(): void {
    this.slots.clear();
    this.objects.clear();
    this.used = 0;
  }

  *keys(): MapIterator<RootPath> {
    yield* this.slots.keys();
    yield* this.objects.keys();
  }

  *values(): MapIterator<DiskState> {
    for (const [, state] of this.entries()) yield state;
  }

  *entries(): MapIterator<[RootPath, DiskState]> {
    for (const [p, slot] of this.slots) yield [p, this.decode(slot)];
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

  private grow(): void {
    const n = this.types.length * 2;
    const bigger = <T extends { length: number; set(a: T): void }>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.types = bigger(this.types, (k) => new Uint8Array(k));
    this.modes = bigger(this.modes, (k) => new Uint16Array(k));
    this.uids = bigger(this.uids, (k) => new Uint32Array(k));
    this.gids = bigger(this.gids, (k) => new Uint32Array(k));
    this.sizes = bigger(this.sizes, (k) => new Float64Array(k));
    this.mtimes = bigger(this.mtimes, (k) => new BigInt64Array(k));
    this.ctimes = bigger(this.ctimes, (k) => new BigInt64Array(k));
    this.inodes = bigger(this.inodes, (k) => new BigUint64Array(k));
  }
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
