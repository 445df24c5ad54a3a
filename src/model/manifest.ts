import type { HostPath } from '../fs/host-path';
import type { RootPath } from '../fs/rootpath';
import { SpillFile } from '../fs/spill-file';
import { EMPTY_MD5, EMPTY_SHA256, ENTRY_TYPES, type EntryType, type ManifestEntry } from './entry';
import { utf8Text } from './utf8-text';

/**
 * One package's members in archive order, held as bytes instead of as objects (issue 14: memory must not
 * grow with the member count). An entry object with its path and digests costs the V8 heap 160-300 bytes
 * from staging to the commit (116,010 members: 19 MiB, the largest part of that transaction's peak); here a
 * member is a fixed record of RECORD bytes and its path, in chunks of CHUNK members. A manifest given a
 * folder to spill into writes each full chunk to a nameless file there once it holds more than SPILL_FROM
 * members, and keeps only the chunk last read: a huge archive's manifest then costs a few hundred KiB
 * however many members it has. Smaller ones never touch the disk.
 *
 * `at(i)` makes a fresh entry object each time: callers hold what they need, and change an entry only
 * through `setStaged` (the one field that changes after staging). Entries that do not fit a record (a
 * device's numbers, a digest that is not lower-case hex, numbers out of range) are kept as objects.
 */
export class Manifest implements Iterable<ManifestEntry> {
  private readonly chunks: Chunk[] = [];
  private count = 0;
  /** Staging folders the entries' content is in (`stagedIn`), by their number in a record. */
  private readonly dirs: HostPath[] = [];
  private readonly dirNumbers = new Map<HostPath, number>();
  /** Entries that do not fit a record, by index. */
  private readonly odd = new Map<number, ManifestEntry>();
  private spill: SpillFile | undefined;
  /** The spilled chunk read last (sequential reads take each chunk from the file once). */
  private cached: Chunk | undefined;
  /**
   * Buffers of a chunk that went to disk or out of memory, for the next chunk filled or read back. A
   * spilling manifest would otherwise leave two buffers (half a MiB) to the collector per chunk written or
   * read; V8 frees such memory late, and a 116,010-member upgrade's peak RSS rose 25 MiB with it.
   */
  private spare: { records?: Buffer; strings?: Buffer } = {};

  /** `spillIn`: a folder of the staging area where a large manifest may keep its chunks (none: all in memory). */
  constructor(private readonly spillIn?: HostPath) {}

  static of(entries: Iterable<ManifestEntry>, spillIn?: HostPath): Manifest {
    const m = new Manifest(spillIn);
    for (const e of entries) m.push(e);
    return m;
  }

  get length(): number {
    return this.count;
  }

  /** Whether some chunks are on disk (for tests and measurements). */
  get spilled(): boolean {
    return this.spill !== undefined;
  }

  /** Appends an entry (its fields are copied: later changes to the object are not the manifest's). */
  push(e: ManifestEntry): void {
    const index = this.count;
    let chunk = this.chunks[this.chunks.length - 1];
    if (chunk === undefined || chunk.count === CHUNK) {
      if (chunk !== undefined) this.seal(chunk);
      chunk = newChunk(this.spare);
      this.chunks.push(chunk);
    }
    if (!this.encode(chunk, e)) {
      this.odd.set(index, { ...e });
      writeOdd(chunk);
    }
    chunk.count++;
    this.count++;
  }

  /** The entry at `index`, as a new object. */
  at(index: number): ManifestEntry {
    if (!(index >= 0 && index < this.count) || index % 1 !== 0) throw new RangeError(`no entry ${index} in a manifest of ${this.count}`);
    if (this.odd.size > 0) {
      const odd = this.odd.get(index);
      if (odd !== undefined) return { ...odd };
    }
    const chunk = this.load(index >>> CHUNK_BITS);
    return this.decode(chunk, (index & (CHUNK - 1)) * RECORD);
  }

  /** The path of the entry at `index` (what a lookup by path compares, without the rest of the entry). */
  pathAt(index: number): RootPath {
    if (!(index >= 0 && index < this.count) || index % 1 !== 0) throw new RangeError(`no entry ${index} in a manifest of ${this.count}`);
    if (this.odd.size > 0) {
      const odd = this.odd.get(index);
      if (odd !== undefined) return odd.path;
    }
    const c = this.load(index >>> CHUNK_BITS);
    const at = (index & (CHUNK - 1)) * RECORD;
    const pathAt = c.records!.readUInt32LE(at + PATH_AT);
    return utf8Text(c.strings!, pathAt, pathAt + c.records!.readUInt16LE(at + PATH_LENGTH)) as RootPath;
  }

  /**
   * The type of the entry at `index`, whether a path filter kept it out and whether it is a conffile,
   * without decoding the rest.
   */
  kindAt(index: number): { type: EntryType; filtered: boolean; conffile: boolean } {
    if (!(index >= 0 && index < this.count) || index % 1 !== 0) throw new RangeError(`no entry ${index} in a manifest of ${this.count}`);
    if (this.odd.size > 0) {
      const odd = this.odd.get(index);
      if (odd !== undefined) return { type: odd.type, filtered: odd.filtered === true, conffile: odd.conffile === true };
    }
    const r = this.load(index >>> CHUNK_BITS).records!;
    const at = (index & (CHUNK - 1)) * RECORD;
    const flags = r[at + FLAGS];
    return { type: ENTRY_TYPES[r[at + TYPE]], filtered: (flags & FILTERED) !== 0, conffile: (flags & CONFFILE) !== 0 };
  }

  /** Gives the entry at `index` its staged content: file `as` of folder `dir` (staging it late). */
  setStaged(index: number, dir: HostPath, as: number): void {
    const odd = this.odd.get(index);
    if (odd !== undefined) {
      odd.stagedIn = dir;
      odd.stagedAs = as;
      return;
    }
    if (!Number.isInteger(index) || index < 0 || index >= this.count) throw new RangeError(`no entry ${index} in a manifest of ${this.count}`);
    const c = this.load(index >>> CHUNK_BITS);
    const at = (index & (CHUNK - 1)) * RECORD;
    const r = c.records!;
    r.writeUInt16LE(this.dirNumber(dir) + 1, at + DIR);
    r.writeInt32LE(as, at + STAGED_AS);
    if (c.spilledAt !== undefined) this.spill!.writeAt(r.subarray(at, at + RECORD), c.spilledAt + at);
  }

  /** The staging folder `from` was renamed to `to`: what was staged in it is there now. */
  movedStaging(from: HostPath, to: HostPath): void {
    const n = this.dirNumbers.get(from);
    if (n !== undefined) {
      this.dirs[n] = to;
      this.dirNumbers.delete(from);
      this.dirNumbers.set(to, n);
    }
    for (const odd of this.odd.values()) if (odd.stagedIn === from) odd.stagedIn = to;
  }

  *[Symbol.iterator](): Iterator<ManifestEntry> {
    for (let i = 0; i < this.count; i++) yield this.at(i);
  }

  /** Every entry's path, in order, without decoding the rest of any. */
  paths(): RootPath[] {
    const out: RootPath[] = new Array(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.pathAt(i);
    return out;
  }

  map<T>(fn: (e: ManifestEntry, index: number) => T): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.count; i++) out.push(fn(this.at(i), i));
    return out;
  }

  filter(fn: (e: ManifestEntry, index: number) => boolean): ManifestEntry[] {
    const out: ManifestEntry[] = [];
    for (let i = 0; i < this.count; i++) {
      const e = this.at(i);
      if (fn(e, i)) out.push(e);
    }
    return out;
  }

  find(fn: (e: ManifestEntry, index: number) => boolean): ManifestEntry | undefined {
    for (let i = 0; i < this.count; i++) {
      const e = this.at(i);
      if (fn(e, i)) return e;
    }
    return undefined;
  }

  some(fn: (e: ManifestEntry, index: number) => boolean): boolean {
    return this.find(fn) !== undefined;
  }

  every(fn: (e: ManifestEntry, index: number) => boolean): boolean {
    return this.find((e, i) => !fn(e, i)) === undefined;
  }

  /**
   * A copy in which no entry has staged content and — with `claim` — every regular file and symlink that
   * no path filter kept out claims what the root holds there (claimsExisting): in memory, the records are
   * copied and changed in place instead of each entry being decoded and encoded again (a bootstrap copies
   * the 4,700 members it laid so, twice). A manifest with chunks on disk is copied entry by entry.
   */
  withoutStaged(claim: boolean): Manifest {
    const change = (e: ManifestEntry): ManifestEntry => {
      const { stagedIn: _in, stagedAs: _as, ...rest } = e;
      return claim && (e.type === 'file' || e.type === 'symlink') && !e.filtered ? { ...rest, claimsExisting: true } : rest;
    };
    if (this.spill !== undefined) return Manifest.of(this.map(change));
    const copy = new Manifest();
    for (const c of this.chunks) {
      // At least a record's room: the copy's last chunk grows by doubling when pushed to.
      const records = Buffer.from(c.records!.subarray(0, Math.max(c.count, 1) * RECORD));
      for (let at = 0; at < c.count * RECORD; at += RECORD) {
        const flags = records[at + FLAGS];
        if (flags & ODD) continue;
        records.writeUInt16LE(0, at + DIR);
        records.writeInt32LE(-1, at + STAGED_AS);
        const type = ENTRY_TYPES[records[at + TYPE]];
        if (claim && (type === 'file' || type === 'symlink') && !(flags & FILTERED)) records[at + FLAGS] = flags | CLAIMS_EXISTING;
      }
      copy.chunks.push({ records, strings: Buffer.from(c.strings!.subarray(0, Math.max(c.stringBytes, 1))), count: c.count, stringBytes: c.stringBytes });
    }
    for (const [i, e] of this.odd) copy.odd.set(i, change(e));
    copy.count = this.count;
    return copy;
  }

  /** Lets go of the spill file now rather than when the manifest is collected. The manifest is unusable after. */
  close(): void {
    this.spill?.close();
  }

  private dirNumber(dir: HostPath): number {
    let n = this.dirNumbers.get(dir);
    if (n === undefined) {
      n = this.dirs.length;
      if (n >= 0xfffe) throw new RangeError('too many staging folders for one manifest');
      this.dirs.push(dir);
      this.dirNumbers.set(dir, n);
    }
    return n;
  }

  /** Writes `e` as the chunk's next record; false (nothing written) when it does not fit one. */
  private encode(c: Chunk, e: ManifestEntry): boolean {
    const link = e.type === 'symlink' ? e.target : e.type === 'hardlink' ? e.linkTo : undefined;
    const empty = e.sha256 === EMPTY_SHA256 && e.md5 === EMPTY_MD5;
    if (
      e.devmajor !== undefined ||
      e.devminor !== undefined ||
      (e.type !== 'symlink' && e.target !== undefined) ||
      (e.type !== 'hardlink' && e.linkTo !== undefined) ||
      !inRange(e.mode, 0xffff) ||
      !inRange(e.uid, 0xffffffff) ||
      !inRange(e.gid, 0xffffffff) ||
      (e.stagedAs !== undefined && !inRange(e.stagedAs, 0x7fffffff)) ||
      (e.stagedAs === undefined) !== (e.stagedIn === undefined) ||
      (!empty && e.sha256 !== undefined && !SHA256_HEX.test(e.sha256)) ||
      (!empty && e.md5 !== undefined && !MD5_HEX.test(e.md5))
    ) {
      return false;
    }
    const pathBytes = Buffer.byteLength(e.path);
    const linkBytes = link === undefined ? 0 : Buffer.byteLength(link);
    if (pathBytes > 0xffff || linkBytes > 0xffff) return false;
    const typeNumber = TYPE_NUMBERS.get(e.type);
    if (typeNumber === undefined) return false;
    const r = records(c);
    const at = c.count * RECORD;
    let flags = 0;
    if (e.conffile) flags |= CONFFILE;
    if (e.filtered) flags |= FILTERED;
    if (e.claimsExisting) flags |= CLAIMS_EXISTING;
    if (link !== undefined) flags |= HAS_LINK;
    if (empty) flags |= EMPTY_DIGESTS;
    else {
      if (e.sha256 !== undefined) {
        flags |= HAS_SHA256;
        r.write(e.sha256, at + SHA256, 32, 'hex');
      }
      if (e.md5 !== undefined) {
        flags |= HAS_MD5;
        r.write(e.md5, at + MD5, 16, 'hex');
      }
    }
    r[at + TYPE] = typeNumber;
    r[at + FLAGS] = flags;
    r.writeUInt16LE(e.mode, at + MODE);
    r.writeUInt32LE(e.uid, at + UID);
    r.writeUInt32LE(e.gid, at + GID);
    r.writeUInt16LE(e.stagedIn === undefined ? 0 : this.dirNumber(e.stagedIn) + 1, at + DIR);
    r.writeUInt16LE(linkBytes, at + LINK_LENGTH);
    r.writeDoubleLE(e.mtime, at + MTIME);
    r.writeDoubleLE(e.size, at + SIZE);
    r.writeInt32LE(e.stagedAs ?? -1, at + STAGED_AS);
    const strings = room(c, pathBytes + linkBytes);
    r.writeUInt32LE(c.stringBytes, at + PATH_AT);
    r.writeUInt16LE(pathBytes, at + PATH_LENGTH);
    c.stringBytes += strings.write(e.path, c.stringBytes, 'utf8');
    if (link !== undefined) c.stringBytes += strings.write(link, c.stringBytes, 'utf8');
    return true;
  }

  private decode(c: Chunk, at: number): ManifestEntry {
    const r = c.records!;
    const s = c.strings!;
    const flags = r[at + FLAGS];
    const type = ENTRY_TYPES[r[at + TYPE]];
    const pathAt = r.readUInt32LE(at + PATH_AT);
    const pathEnd = pathAt + r.readUInt16LE(at + PATH_LENGTH);
    const link = flags & HAS_LINK ? utf8Text(s, pathEnd, pathEnd + r.readUInt16LE(at + LINK_LENGTH)) : undefined;
    const dir = r.readUInt16LE(at + DIR);
    // Only the fields the entry has, as staging made it (a field set to undefined would be one more).
    const e: ManifestEntry = {
      path: utf8Text(s, pathAt, pathEnd) as RootPath,
      type,
      mode: r.readUInt16LE(at + MODE),
      uid: r.readUInt32LE(at + UID),
      gid: r.readUInt32LE(at + GID),
      mtime: r.readDoubleLE(at + MTIME),
      size: r.readDoubleLE(at + SIZE),
      conffile: (flags & CONFFILE) !== 0,
    };
    if (flags & EMPTY_DIGESTS) {
      e.sha256 = EMPTY_SHA256;
      e.md5 = EMPTY_MD5;
    } else {
      if (flags & HAS_SHA256) e.sha256 = r.toString('hex', at + SHA256, at + SHA256 + 32);
      if (flags & HAS_MD5) e.md5 = r.toString('hex', at + MD5, at + MD5 + 16);
    }
    if (link !== undefined) {
      if (type === 'symlink') e.target = link;
      else e.linkTo = link as RootPath;
    }
    if (dir !== 0) {
      e.stagedIn = this.dirs[dir - 1];
      e.stagedAs = r.readInt32LE(at + STAGED_AS);
    }
    if (flags & CLAIMS_EXISTING) e.claimsExisting = true;
    if (flags & FILTERED) e.filtered = true;
    return e;
  }

  /** A full chunk: onto disk once the manifest is large, else its strings trimmed to what they hold. */
  private seal(c: Chunk): void {
    if (this.spillIn === undefined || this.count <= SPILL_FROM) {
      c.strings = Buffer.from(c.strings!.subarray(0, c.stringBytes));
      return;
    }
    this.spill ??= SpillFile.create(this.spillIn, SPILL_NAME);
    for (const each of this.chunks) if (each.spilledAt === undefined && each.count === CHUNK) this.write(each);
  }

  private write(c: Chunk): void {
    c.spilledAt = this.spill!.append(c.records!);
    this.spill!.append(c.strings!.subarray(0, c.stringBytes));
    this.release(c);
  }

  /** Takes `c`'s buffers out of it, keeping them as the spare ones. */
  private release(c: Chunk): void {
    if (c.records!.length === CHUNK * RECORD) this.spare.records = c.records;
    if (c.strings!.length > (this.spare.strings?.length ?? 0)) this.spare.strings = c.strings;
    c.records = undefined;
    c.strings = undefined;
  }

  /** The chunk, its bytes in memory (read back from the spill file when they are there). */
  private load(n: number): Chunk {
    const c = this.chunks[n];
    if (c.records !== undefined) return c;
    const old = this.cached;
    if (old !== undefined && old !== c && old.records !== undefined) this.release(old);
    const spare = this.spare;
    c.records = spare.records ?? Buffer.allocUnsafeSlow(CHUNK * RECORD);
    c.strings = spare.strings !== undefined && spare.strings.length >= c.stringBytes ? spare.strings : Buffer.allocUnsafeSlow(c.stringBytes);
    if (c.records === spare.records) spare.records = undefined;
    if (c.strings === spare.strings) spare.strings = undefined;
    this.spill!.readAt(c.records, c.spilledAt!);
    this.spill!.readAt(c.strings.subarray(0, c.stringBytes), c.spilledAt! + CHUNK * RECORD);
    this.cached = c;
    return c;
  }
}

/** Members a chunk holds (a power of two: index >>> CHUNK_BITS is the chunk). */
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
/** Members from which a manifest with a folder to spill into keeps its full chunks on disk. */
const SPILL_FROM = 4 * CHUNK;
/** The name the spill file has between its creation and its unlinking (staged content is named by numbers). */
const SPILL_NAME = 'manifest';

// A record's fields: byte offsets.
const TYPE = 0;
const FLAGS = 1;
const MODE = 2;
const UID = 4;
const GID = 8;
/** The folder of the staged content: its number in `dirs` plus one; 0 for none. */
const DIR = 12;
const LINK_LENGTH = 14;
const MTIME = 16;
const SIZE = 24;
const STAGED_AS = 32;
const PATH_AT = 36;
const PATH_LENGTH = 40;
const SHA256 = 44;
const MD5 = 76;
const RECORD = 92;

// Flags.
const CONFFILE = 1;
const FILTERED = 2;
const CLAIMS_EXISTING = 4;
const HAS_LINK = 8;
const HAS_SHA256 = 16;
const HAS_MD5 = 32;
/** The digests of empty content (often thousands of members): decoded to two shared strings. */
const EMPTY_DIGESTS = 64;
/**
 * The record is unused; the entry is in `odd`. Writing it (writeOdd) also grows the chunk's records to hold
 * the slot, so that a full chunk always has CHUNK records to spill.
 */
const ODD = 128;

const SHA256_HEX = /^[0-9a-f]{64}$/;
const MD5_HEX = /^[0-9a-f]{32}$/;
const TYPE_NUMBERS = new Map(ENTRY_TYPES.map((t, i) => [t, i]));

interface Chunk {
  /** In memory: the records, and the strings their paths and link targets are in (`stringBytes` of them). */
  records: Buffer | undefined;
  strings: Buffer | undefined;
  count: number;
  stringBytes: number;
  /** Where the records are in the spill file (the strings follow them), once written there. */
  spilledAt?: number;
}

/**
 * A chunk to fill: in the spare buffers when there are (taken from `spare`), else with room for a few
 * records at first (most archives have a few dozen members) and more as it fills.
 */
function newChunk(spare: { records?: Buffer; strings?: Buffer }): Chunk {
  const c: Chunk = { records: spare.records ?? Buffer.alloc(64 * RECORD), strings: spare.strings ?? Buffer.allocUnsafeSlow(4 * 1024), count: 0, stringBytes: 0 };
  spare.records = undefined;
  spare.strings = undefined;
  return c;
}

/** The chunk's records, with room for one more (a full chunk's records are CHUNK records exactly). */
function records(c: Chunk): Buffer {
  const r = c.records!;
  if ((c.count + 1) * RECORD <= r.length) return r;
  const bigger = Buffer.alloc(Math.min(CHUNK, 2 * (r.length / RECORD)) * RECORD);
  r.copy(bigger);
  c.records = bigger;
  return bigger;
}

function writeOdd(c: Chunk): void {
  records(c)[c.count * RECORD + FLAGS] = ODD;
}

/** The chunk's strings, with room for `bytes` more. */
function room(c: Chunk, bytes: number): Buffer {
  const s = c.strings!;
  if (c.stringBytes + bytes <= s.length) return s;
  const bigger = Buffer.allocUnsafeSlow(Math.max(s.length * 2, c.stringBytes + bytes));
  s.copy(bigger, 0, 0, c.stringBytes);
  c.strings = bigger;
  return bigger;
}

function inRange(n: number, max: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= max;
}
