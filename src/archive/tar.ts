import { isUtf8 } from 'node:buffer';
import { OvermergeError } from '../errors';
import { ByteSource } from './byte-source';
import { mergeGlobal, parsePaxRecords, paxOverrides, refuseEmptyValues, type PaxOverrides } from './pax';
import { BLOCK, checksumMatches, cString, isZeroBlock, parseHeaderBlock, TarProblem, type RawHeader } from './tar-header';

/**
 * A streaming tar reader of our own rather than tar-stream: tar-stream buffers pax and GNU long-name
 * records whole with no cap, decodes names to strings (losing the exact bytes Linux names are made of),
 * and accepts headers a hostile archive uses to desynchronise readers. Here every header is checked
 * before anything of its entry is handed out, and entry bodies stream with backpressure.
 */

export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block';

export interface TarHeader {
  name: string;
  nameBytes: Buffer;
  nameIsUtf8: boolean;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (& 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  size: number;
  /** Seconds since the epoch; fractional when a pax record gave it. */
  mtime: number;
  linkname?: string;
  linkBytes?: Buffer;
  linkIsUtf8?: boolean;
  devmajor: number;
  devminor: number;
  /** The header's type flag as written ('0', '5', '7', ...): listings show contiguous files as 'C'. */
  typeflag: string;
  /** Extended attributes from pax SCHILY.xattr.* records, when there were any. */
  xattrs?: Map<string, Buffer>;
}

export interface TarEntry {
  header: TarHeader;
  /** Read (or left: the reader skips what is unread) before the next entry is asked for; read once. */
  body: TarBody;
}

/** An entry's bytes, in chunks of at most 256 KiB, read from the archive as they are asked for. */
export interface TarBody extends AsyncIterable<Buffer> {
  /** Says the body will not be read. The reader skips whatever is unread in any case: this only says so. */
  resume(): void;
}

export interface TarReadOptions {
  /** Prefix of error messages: `FILE: MEMBER`. */
  label?: string;
  /** Largest pax or GNU long-name record accepted (they are held in memory whole). Default 1 MiB. */
  maxMetaSize?: number;
  /**
   * What follows the end-of-archive marker. dpkg reads it and throws it away, so 'ignore' is the
   * default; 'error' refuses anything but zero padding there; 'hidden-members' ignores garbage as dpkg
   * does but refuses a valid tar header there: a member that `tar --ignore-zeros` extracts and dpkg
   * does not, which is how one archive shows two readers two different contents.
   */
  trailingData?: 'ignore' | 'error' | 'hidden-members';
}

const DEFAULT_MAX_META = 1 << 20;
const AMBIGUOUS = 'both name the next entry and readers disagree on which wins (ambiguous name)';
const AMBIGUOUS_END = 'readers disagree on where the name ends (ambiguous name)';
const BODY_CHUNK = 256 * 1024;

export const TYPES: Readonly<Record<string, EntryType>> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'directory',
  '6': 'fifo',
};

/** Records (pax `x`, GNU `L`/`K`) collected for the entry that follows them. */
export interface Pending {
  pax?: PaxOverrides;
  longName?: Buffer;
  longLink?: Buffer;
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** A block whose checksum holds: a tar header, not garbage (which may not even have a numeric checksum). */
function looksLikeHeader(block: Buffer): boolean {
  try {
    return checksumMatches(block);
  } catch {
    return false;
  }
}

/** './', '/', '.', '././': names that mean the root itself. */
function isRootName(bytes: Buffer): boolean {
  return bytes
    .toString('latin1')
    .split('/')
    .every((c) => c === '' || c === '.');
}

function decodeName(bytes: Buffer): { text: string; utf8: boolean } {
  const utf8 = isUtf8(bytes);
  return { text: bytes.toString('utf8'), utf8 };
}

/**
 * Reads a tar stream entry by entry. Errors are OvermergeError('E_BAD_ARCHIVE') naming `label` and the
 * byte offset of the offending header; they surface from the iterator and from the body being read.
 */
export async function* readTar(source: AsyncIterable<Buffer>, options: TarReadOptions = {}): AsyncGenerator<TarEntry> {
  const reader = new TarReader(new ByteSource(source), options);
  try {
    yield* reader.entries();
  } finally {
    await reader.close();
  }
}

class TarReader {
  private readonly label: string;
  private readonly maxMeta: number;
  private readonly global = new Map<string, Buffer>();
  private headerOffset = 0;

  constructor(
    private readonly src: ByteSource,
    private readonly options: TarReadOptions,
  ) {
    this.label = options.label ?? 'tar archive';
    this.maxMeta = options.maxMetaSize ?? DEFAULT_MAX_META;
  }

  private fail(problem: string, cause?: unknown, code: 'E_BAD_ARCHIVE' | 'E_UNSAFE_PATH' = 'E_BAD_ARCHIVE'): OvermergeError {
    if (cause instanceof OvermergeError) return cause;
    return new OvermergeError(code, `${this.label}: ${problem} (at byte ${this.headerOffset})`, {
      op: 'read archive',
      cause,
    });
  }

  async close(): Promise<void> {
    await this.src.close();
  }

  async *entries(): AsyncGenerator<TarEntry> {
    let pending: Pending = {};
    for (;;) {
      this.headerOffset = this.src.position;
      const block = await this.src.readExact(BLOCK);
      if (block.length === 0 || isZeroBlock(block)) {
        if (pending.pax || pending.longName || pending.longLink) {
          throw this.fail('extended header not followed by an entry');
        }
        if (block.length !== 0) await this.finishAfterEnd();
        return;
      }
      if (block.length < BLOCK) throw this.fail('truncated tar header');
      let raw: RawHeader;
      try {
        raw = parseHeaderBlock(block);
      } catch (err) {
        throw err instanceof TarProblem ? this.fail(err.message, undefined, err.code) : err;
      }
      if (raw.typeflag in TYPES) {
        const header = this.entryHeader(raw, pending);
        pending = {};
        yield* this.emit(header);
      } else {
        pending = await this.readMeta(raw, pending);
      }
    }
  }

  /** GNU tar stops at the first zero block (a lone one draws a warning); dpkg then drains the stream. */
  private async finishAfterEnd(): Promise<void> {
    if (this.options.trailingData === 'hidden-members') return this.refuseHiddenMembers();
    const second = await this.src.readExact(BLOCK);
    if (this.options.trailingData === 'error' && !isZeroBlock(second)) {
      throw this.fail('data after the end-of-archive marker');
    }
    for (;;) {
      const rest = await this.src.readSome(BODY_CHUNK);
      if (rest === null) return;
      if (this.options.trailingData === 'error' && !isZeroBlock(rest)) {
        throw this.fail('data after the end-of-archive marker');
      }
    }
  }

  /** Reads to the end block by block: garbage is drained as dpkg drains it, a checksummed header refused. */
  private async refuseHiddenMembers(): Promise<void> {
    for (;;) {
      const at = this.src.position;
      const chunk = await this.src.readExact(BODY_CHUNK);
      for (let off = 0; off + BLOCK <= chunk.length; off += BLOCK) {
        const block = chunk.subarray(off, off + BLOCK);
        if (isZeroBlock(block) || !looksLikeHeader(block)) continue;
        this.headerOffset = at + off;
        const name = JSON.stringify(cString(block.subarray(0, 100)).toString('utf8'));
        throw this.fail(`data after the end-of-archive marker holds a tar header (member ${name}), which tar --ignore-zeros would extract and dpkg would not`);
      }
      if (chunk.length < BODY_CHUNK) return;
    }
  }

  private async readMeta(raw: RawHeader, pending: Pending): Promise<Pending> {
    if (raw.size > this.maxMeta) {
      const kind = raw.typeflag === 'x' || raw.typeflag === 'g' ? 'pax' : 'GNU long-name';
      throw this.fail(`${kind} extended header of ${raw.size} bytes exceeds the ${this.maxMeta}-byte limit`);
    }
    const data = await this.src.readExact(raw.size);
    if (data.length < raw.size) throw this.fail('truncated extended header');
    if ((await this.src.skip(padding(raw.size))) < padding(raw.size)) throw this.fail('truncated extended header');
    try {
      return applyRecord(raw, data, pending, this.global);
    } catch (err) {
      throw err instanceof TarProblem ? this.fail(err.message, undefined, err.code) : err;
    }
  }

  private entryHeader(raw: RawHeader, pending: Pending): TarHeader {
    return entryHeader(raw, pending, this.global, (problem, code) => this.fail(problem, undefined, code));
  }

  /** Yields one entry, then makes sure its body and padding are consumed before the next header. */
  private async *emit(header: TarHeader): AsyncGenerator<TarEntry> {
    const body = new EntryBody(this.src, header.size, (problem, cause) => this.fail(problem, cause));
    yield { header, body };
    await body.finish();
    const pad = padding(header.size);
    if ((await this.src.skip(pad)) < pad) throw this.fail('truncated tar entry padding');
  }
}

/**
 * A metadata record (pax `x`/`g`, GNU `L`/`K`) and its data applied: what is pending for the next entry,
 * with pax globals gathered into `global`. Throws TarProblem. Shared with the staging whose bodies are
 * written on a worker thread (stageNatively in src/stage/stage.ts), which reads the same records.
 */
export function applyRecord(raw: RawHeader, data: Buffer, pending: Pending, global: Map<string, Buffer>): Pending {
  const next: Pending = { ...pending };
  switch (raw.typeflag) {
    case 'g':
      mergeGlobal(global, refuseEmptyValues(parsePaxRecords(data)));
      paxOverrides(global);
      return next;
    case 'x':
      // Mixing pax and GNU records for one entry is where readers disagree on which wins.
      if (pending.pax) throw new TarProblem('two pax headers for one entry');
      if (pending.longName || pending.longLink) throw new TarProblem(`pax header after a GNU long-name header: ${AMBIGUOUS}`);
      next.pax = paxOverrides(refuseEmptyValues(parsePaxRecords(data)));
      return next;
    case 'L':
    case 'K': {
      if (pending.pax) throw new TarProblem(`GNU long-name header after a pax header: ${AMBIGUOUS}`);
      const key = raw.typeflag === 'L' ? 'longName' : 'longLink';
      if (pending[key]) throw new TarProblem(`two GNU long-${raw.typeflag === 'L' ? 'name' : 'link'} headers for one entry`);
      // GNU tar writes the name and its NUL. Without a NUL inside the declared size, GNU tar reads on into
      // the padding up to the next NUL where we would stop at the size: two readers, two names.
      if (!data.includes(0)) throw new TarProblem(`GNU long-${raw.typeflag === 'L' ? 'name' : 'link'} record without a NUL inside its ${raw.size} bytes: ${AMBIGUOUS_END}`, 'E_UNSAFE_PATH');
      const value = cString(data);
      if (value.length === 0) throw new TarProblem('empty GNU long-name header');
      next[key] = Buffer.from(value);
      return next;
    }
    default:
      throw new TarProblem(`unsupported tar entry type ${JSON.stringify(raw.typeflag)}`);
  }
}

/**
 * An entry's header: `raw` with the records pending for it and the pax globals. `fail` makes the error for
 * a problem (the tar reader adds the archive and the offset). Shared as applyRecord is.
 */
export function entryHeader(
  raw: RawHeader,
  pending: Pending,
  global: Map<string, Buffer>,
  fail: (problem: string, code?: 'E_BAD_ARCHIVE' | 'E_UNSAFE_PATH') => Error,
): TarHeader {
  const pax = { ...paxOverrides(global), ...(pending.pax ?? {}) };
  const nameBytes = pax.path ?? pending.longName ?? raw.nameBytes;
  const linkBytes = pax.linkpath ?? pending.longLink ?? raw.linkBytes;
  let type = TYPES[raw.typeflag];
  // Pre-POSIX archives mark directories as plain files whose name ends in '/'.
  if (type === 'file' && raw.typeflag !== '7' && nameBytes.length > 0 && nameBytes[nameBytes.length - 1] === 0x2f) {
    type = 'directory';
  }
  const size = pax.size ?? raw.size;
  if (nameBytes.length === 0) throw fail('tar entry with an empty name', 'E_UNSAFE_PATH');
  if (type !== 'file' && size !== 0) {
    const shown = JSON.stringify(nameBytes.toString('utf8'));
    if (type === 'directory' && raw.typeflag !== '5') {
      // A regular file read as a directory for its trailing '/': the root itself, or data a reader may take as headers.
      if (isRootName(nameBytes)) {
        throw fail(`member ${shown} names the root itself, which must be a directory, but it is a regular file with ${size} bytes`, 'E_UNSAFE_PATH');
      }
      throw fail(`directory entry ${shown} (a regular file whose name ends in '/') has a non-zero size (${size}): its data would be read as tar headers by other readers`);
    }
    throw fail(`${type} entry ${shown} has a non-zero size (${size})`);
  }
  const name = decodeName(nameBytes);
  const header: TarHeader = {
    name: name.text,
    nameBytes,
    nameIsUtf8: name.utf8,
    type,
    mode: raw.mode,
    uid: pax.uid ?? raw.uid,
    gid: pax.gid ?? raw.gid,
    // GNU tar (so dpkg-deb -c) shows no pax owner names for a pre-POSIX header; only listings use them.
    uname: (raw.format === 'v7' ? raw.uname : pax.uname ?? raw.uname).toString('utf8'),
    gname: (raw.format === 'v7' ? raw.gname : pax.gname ?? raw.gname).toString('utf8'),
    size,
    mtime: pax.mtime ?? raw.mtime,
    devmajor: raw.devmajor,
    devminor: raw.devminor,
    typeflag: raw.typeflag,
  };
  if (type === 'symlink' || type === 'hardlink') {
    if (linkBytes.length === 0) throw fail(`${type} ${JSON.stringify(name.text)} has no target`);
    const link = decodeName(linkBytes);
    header.linkname = link.text;
    header.linkBytes = linkBytes;
    header.linkIsUtf8 = link.utf8;
  }
  if (pax.xattrs) header.xattrs = pax.xattrs;
  return header;
}

/**
 * The body of one entry: its bytes in chunks, pulled from the archive's shared source only as the
 * consumer asks (never more than BODY_CHUNK ahead). A plain async iterable rather than a Readable: a
 * bootstrap reads thousands of entries, and a stream and its async iterator per entry cost more of the
 * main thread (state objects, listeners, abort signals) than the reading itself. The reader owns what the
 * consumer left unread and skips it before the next header.
 */
class EntryBody implements TarBody {
  private remaining: number;
  private failure: OvermergeError | undefined;

  constructor(
    private readonly src: ByteSource,
    size: number,
    private readonly fail: (problem: string, cause?: unknown) => OvermergeError,
  ) {
    this.remaining = size;
  }

  resume(): void {
    // Nothing to do now: finish() skips whatever was not read.
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    while (this.remaining > 0) {
      let chunk: Buffer | null;
      try {
        chunk = await this.src.readSome(Math.min(this.remaining, BODY_CHUNK));
      } catch (err) {
        throw (this.failure = this.fail('cannot read tar entry', err));
      }
      if (chunk === null) throw (this.failure = this.fail('truncated tar entry'));
      this.remaining -= chunk.length;
      yield chunk;
    }
  }

  async finish(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.remaining > 0) {
      const left = this.remaining;
      this.remaining = 0;
      if ((await this.src.skip(left)) < left) throw this.fail('truncated tar entry');
    }
  }
}
