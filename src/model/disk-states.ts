import type { HostPath } from '../fs/host-path';
import type { RootPath } from '../fs/rootpath';
import { SpillFile } from '../fs/spill-file';
import { ABSENT, type DiskState, type DiskType } from './disk';
import { pathHash } from './path-index';
import { utf8Text } from './utf8-text';

const TYPES: readonly DiskType[] = ['absent', 'file', 'directory', 'symlink', 'fifo', 'char', 'block', 'socket'];
const TYPE_CODES = new Map<DiskType, number>(TYPES.map((t, i) => [t, i]));
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
 * Records and their paths are kept in chunks of CHUNK. Given a folder to spill into (the staging area),
 * the states keep at most KEEP chunks in memory and the others in a nameless file there, written back
 * when changed: what a huge upgrade keeps of each path is then its table slot, 16 bytes or so, instead of
 * about 100 (issue 14: 250,000 members installed again peaked at 113 MiB, 26 MiB of it these records).
 * The probe and the planner walk the paths in about the order they came (an installed version's rows in
 * path order, an archive's members in the same order), so the chunk asked for is nearly always in
 * memory; folders asked for again and again stay there because the least recently used chunk goes.
 *
 * A state read back is a copy: a change to it is kept only by setting it again.
 */
export class DiskStates implements ReadonlyMap<RootPath, DiskState> {
  private readonly objects = new Map<RootPath, DiskState>();
  /** Slots in use, and those of them whose state is a record (not MOVED). */
  private used = 0;
  private live = 0;
  private chunks: Chunk[] = [];
  /** Open addressing over the slots: slot + 1 (0: empty), and its path's hash. */
  private table = new Int32Array(FIRST_TABLE);
  private hashes = new Int32Array(FIRST_TABLE);
  private spill: SpillFile | undefined;
  /** Chunks in memory now, and a count that orders their uses (least recently used goes first). */
  private inMemory = 0;
  private clock = 0;

  /** `spillIn`: a folder of the staging area where the states of a huge transaction may keep their chunks. */
  constructor(private readonly spillIn?: HostPath) {}

  get size(): number {
    return this.live + this.objects.size;
  }

  /** Chunks of records held in memory (for tests and measurements). */
  get chunksInMemory(): number {
    return this.inMemory;
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
    return slot < 0 ? undefined : TYPES[this.memoryOf(slot).types[slot & (CHUNK - 1)]];
  }

  has(p: RootPath): boolean {
    return this.objects.has(p) || this.recordOf(p) >= 0;
  }

  set(p: RootPath, state: DiskState): this {
    const h = pathHash(p);
    let slot = this.find(p, h);
    if (!fitsRecord(state)) {
      if (slot >= 0) {
        const m = this.memoryOf(slot);
        if (m.types[slot & (CHUNK - 1)] !== MOVED) {
          m.types[slot & (CHUNK - 1)] = MOVED;
          this.chunks[slot >>> CHUNK_BITS].dirty = true;
          this.live--;
        }
      }
      this.objects.set(p, state);
      return this;
    }
    this.objects.delete(p);
    if (slot < 0) slot = this.add(p, h);
    const m = this.memoryOf(slot);
    if (m.types[slot & (CHUNK - 1)] === MOVED) this.live++;
    encode(m, slot & (CHUNK - 1), state);
    this.chunks[slot >>> CHUNK_BITS].dirty = true;
    return this;
  }

  /** Forgets every state (a spill file stays, for the states gathered next). */
  clear(): void {
    this.objects.clear();
    this.used = 0;
    this.live = 0;
    this.chunks = [];
    this.inMemory = 0;
    this.table.fill(0);
  }

  /**
   * The paths, records first in the order they came. Paths added while the walk goes on are walked too,
   * until the records end; the objects are those at that moment (a walk that adds states may go on).
   */
  *keys(): MapIterator<RootPath> {
    for (let slot = 0; slot < this.used; slot++) if (this.memoryOf(slot).types[slot & (CHUNK - 1)] !== MOVED) yield this.keyAt(slot);
    yield* [...this.objects.keys()];
  }

  *values(): MapIterator<DiskState> {
    for (const [, state] of this.entries()) yield state;
  }

  *entries(): MapIterator<[RootPath, DiskState]> {
    for (let slot = 0; slot < this.used; slot++) if (this.memoryOf(slot).types[slot & (CHUNK - 1)] !== MOVED) yield [this.keyAt(slot), this.decode(slot)];
    yield* [...this.objects.entries()];
  }

  [Symbol.iterator](): MapIterator<[RootPath, DiskState]> {
    return this.entries();
  }

  forEach(fn: (state: DiskState, p: RootPath, map: ReadonlyMap<RootPath, DiskState>) => void): void {
    for (const [p, state] of this.entries()) fn(state, p, this);
  }

  private decode(slot: number): DiskState {
    const m = this.memoryOf(slot);
    const i = slot & (CHUNK - 1);
    const type = TYPES[m.types[i]];
    if (type === 'absent') return ABSENT;
    return { type, mode: m.modes[i], uid: m.uids[i], gid: m.gids[i], size: m.sizes[i], mtimeNs: m.mtimes[i], ctimeNs: m.ctimes[i], ino: m.inodes[i] };
  }

  /** The slot of `p` if its state is a record, or -1. */
  private recordOf(p: RootPath): number {
    const slot = this.find(p, pathHash(p));
    return slot >= 0 && this.memoryOf(slot).types[slot & (CHUNK - 1)] !== MOVED ? slot : -1;
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
    const i = slot & (CHUNK - 1);
    if (i === 0) this.newChunk();
    const chunk = this.chunks[slot >>> CHUNK_BITS];
    const m = this.memoryOf(slot);
    const start = m.keyStarts[i];
    const bytes = Buffer.byteLength(p);
    if (start + bytes > m.keys.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(2 * m.keys.length, start + bytes));
      m.keys.copy(bigger, 0, 0, start);
      m.keys = bigger;
    }
    m.keys.write(p, start, 'utf8');
    m.keyStarts[i + 1] = start + bytes;
    m.types[i] = MOVED; // until the caller encodes it
    chunk.dirty = true;
    if (2 * this.used > this.table.length) this.rehash(2 * this.table.length);
    this.enter(slot, h);
    return slot;
  }

  private keyAt(slot: number): RootPath {
    const m = this.memoryOf(slot);
    const i = slot & (CHUNK - 1);
    return utf8Text(m.keys, m.keyStarts[i], m.keyStarts[i + 1]) as RootPath;
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

  /** The memory of the chunk of `slot`, read back from the spill file when it is not in memory. */
  private memoryOf(slot: number): ChunkMemory {
    const chunk = this.chunks[slot >>> CHUNK_BITS];
    chunk.lastUse = ++this.clock;
    return chunk.memory ?? this.load(chunk);
  }

  /** Starts the chunk the next slot goes in, making room for it first. */
  private newChunk(): void {
    const chunk: Chunk = { memory: undefined, dirty: true, lastUse: ++this.clock };
    chunk.memory = this.roomForOneMore() ?? newMemory();
    this.chunks.push(chunk);
    this.inMemory++;
  }

  private load(chunk: Chunk): ChunkMemory {
    const m = this.roomForOneMore() ?? newMemory();
    const keyBytes = chunk.keyBytes!;
    if (m.keys.length < keyBytes) m.keys = Buffer.allocUnsafeSlow(keyBytes);
    this.spill!.readAt(m.fixed, chunk.spilledAt!);
    this.spill!.readAt(m.keys.subarray(0, keyBytes), chunk.spilledAt! + FIXED_BYTES);
    chunk.memory = m;
    chunk.dirty = false;
    this.inMemory++;
    return m;
  }

  /**
   * With a folder to spill into and KEEP chunks in memory, writes the least recently used full chunk to
   * the spill file (if it changed since it was last there) and hands over its memory for the next one.
   */
  private roomForOneMore(): ChunkMemory | undefined {
    if (this.spillIn === undefined || this.inMemory < KEEP) return undefined;
    const last = this.chunks.length - 1;
    let oldest: Chunk | undefined;
    for (let c = 0; c < last; c++) {
      const chunk = this.chunks[c];
      if (chunk.memory !== undefined && (oldest === undefined || chunk.lastUse < oldest.lastUse)) oldest = chunk;
    }
    if (oldest === undefined) return undefined;
    const m = oldest.memory!;
    if (oldest.spilledAt === undefined) {
      // A full chunk: its paths never change again, only its records.
      this.spill ??= SpillFile.create(this.spillIn, SPILL_NAME);
      oldest.keyBytes = m.keyStarts[CHUNK];
      oldest.spilledAt = this.spill.append(m.fixed);
      this.spill.append(m.keys.subarray(0, oldest.keyBytes));
    } else if (oldest.dirty) {
      this.spill!.writeAt(m.fixed, oldest.spilledAt);
    }
    oldest.memory = undefined;
    this.inMemory--;
    m.keyStarts[0] = 0;
    return m;
  }
}

/** Records a chunk holds (a power of two: slot >>> CHUNK_BITS is the chunk). */
const CHUNK_BITS = 11;
const CHUNK = 1 << CHUNK_BITS;
/** Chunks a spilling table keeps in memory: the one being filled, and the folders and rows in use. */
const KEEP = 8;
const FIRST_TABLE = 128;
/** The name the spill file has between its creation and its unlinking. */
const SPILL_NAME = 'disk-states';

/**
 * A chunk's records as one buffer (what is written to and read from the spill file), the eight-byte
 * fields first so that every view is aligned; and its paths' bytes, slot `i`'s from keyStarts[i] to
 * keyStarts[i + 1].
 */
const FIXED_BYTES = 47 * CHUNK + 4;

interface ChunkMemory {
  fixed: Uint8Array;
  sizes: Float64Array;
  mtimes: BigInt64Array;
  ctimes: BigInt64Array;
  inodes: BigUint64Array;
  uids: Uint32Array;
  gids: Uint32Array;
  keyStarts: Uint32Array;
  modes: Uint16Array;
  types: Uint8Array;
  keys: Buffer;
}

interface Chunk {
  /** In memory, or undefined while only in the spill file. */
  memory: ChunkMemory | undefined;
  /** Changed since it was last written to the spill file (or never written). */
  dirty: boolean;
  lastUse: number;
  /** Where its records are in the spill file (its paths' bytes follow them), once written there. */
  spilledAt?: number;
  keyBytes?: number;
}

function newMemory(): ChunkMemory {
  const buffer = new ArrayBuffer(FIXED_BYTES);
  return {
    fixed: new Uint8Array(buffer),
    sizes: new Float64Array(buffer, 0, CHUNK),
    mtimes: new BigInt64Array(buffer, 8 * CHUNK, CHUNK),
    ctimes: new BigInt64Array(buffer, 16 * CHUNK, CHUNK),
    inodes: new BigUint64Array(buffer, 24 * CHUNK, CHUNK),
    uids: new Uint32Array(buffer, 32 * CHUNK, CHUNK),
    gids: new Uint32Array(buffer, 36 * CHUNK, CHUNK),
    keyStarts: new Uint32Array(buffer, 40 * CHUNK, CHUNK + 1),
    modes: new Uint16Array(buffer, 44 * CHUNK + 4, CHUNK),
    types: new Uint8Array(buffer, 46 * CHUNK + 4, CHUNK),
    keys: Buffer.allocUnsafeSlow(4 * 1024),
  };
}

function encode(m: ChunkMemory, i: number, s: DiskState): void {
  m.types[i] = TYPE_CODES.get(s.type)!;
  if (s.type === 'absent') return;
  m.modes[i] = s.mode!;
  m.uids[i] = s.uid!;
  m.gids[i] = s.gid!;
  m.sizes[i] = s.size!;
  m.mtimes[i] = s.mtimeNs!;
  m.ctimes[i] = s.ctimeNs!;
  m.inodes[i] = s.ino!;
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
