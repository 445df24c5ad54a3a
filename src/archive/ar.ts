import { promises as fsp } from 'node:fs';
import { printable } from '../control/printable';
import { OvermergeError, fsError } from '../errors';

/**
 * The `ar` container of a .deb: an 8-byte magic, then members, each a 60-byte text header and its data
 * padded to an even length. The reader works by positioned reads on the file, so it only ever holds
 * one header or one read buffer (and the file's first bytes, when asked to read them at once), and checks
 * each member's size against the file size before anything of that member is handed out.
 */
export const AR_MAGIC = Buffer.from('!<arch>\n', 'latin1');
export const AR_HEADER_SIZE = 60;
const AR_FMAG = '`\n';
const READ_CHUNK = 256 * 1024;

export interface ArMember {
  /** The name with trailing spaces and a GNU-style trailing '/' removed, as dpkg normalises it. */
  name: string;
  size: number;
  mtime: number;
  uid: number;
  gid: number;
  mode: number;
  /** Where the 60-byte header starts. */
  headerOffset: number;
  /** Where the data starts. */
  dataOffset: number;
}

/** Member names are bytes from the archive: control characters in them are shown escaped, on one line. */
function badArchive(path: string, problem: string): OvermergeError {
  return new OvermergeError('E_BAD_ARCHIVE', printable(`${path}: ${problem}`), { op: 'read archive', path });
}

function looseNumber(text: string, radix: number): number {
  const t = text.trim();
  const n = t === '' ? 0 : parseInt(t, radix);
  return Number.isFinite(n) ? n : 0;
}

/** Decodes one member header. Only the fields dpkg relies on are strict: the terminator, name and size. */
export function parseArHeader(header: Buffer, headerOffset: number, path: string): ArMember {
  if (header.toString('latin1', 58, 60) !== AR_FMAG) {
    throw badArchive(path, `bad ar member header at byte ${headerOffset} (not a Debian archive, or corrupt)`);
  }
  const rawName = header.toString('latin1', 0, 16);
  let name = rawName.replace(/ +$/, '');
  if (name.endsWith('/')) name = name.slice(0, -1);
  if (name === '') throw badArchive(path, `ar member at byte ${headerOffset} has no name`);
  const sizeText = header.toString('latin1', 48, 58);
  if (!/^ *[0-9]+ *$/.test(sizeText)) {
    throw badArchive(path, `ar member '${name}' has an invalid size field ${JSON.stringify(sizeText)}`);
  }
  return {
    name,
    size: Number(sizeText.trim()),
    mtime: looseNumber(header.toString('latin1', 16, 28), 10),
    uid: looseNumber(header.toString('latin1', 28, 34), 10),
    gid: looseNumber(header.toString('latin1', 34, 40), 10),
    mode: looseNumber(header.toString('latin1', 40, 48), 8),
    headerOffset,
    dataOffset: headerOffset + AR_HEADER_SIZE,
  };
}

export class ArReader {
  private cursor = AR_MAGIC.length;
  /** The file's first bytes, read at open when asked: reads inside them are served from here. */
  private head?: Buffer;

  private constructor(
    readonly path: string,
    private readonly fh: fsp.FileHandle,
    readonly fileSize: number,
  ) {}

  /**
   * Opens `path` and checks the ar magic. With `head`, that many bytes from the start are read at once:
   * a control read then finds its member headers and control.tar there, one read where there were six.
   */
  static async open(path: string, opts: { head?: number } = {}): Promise<ArReader> {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(path, 'r');
    } catch (err) {
      throw fsError('open', err, path);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw badArchive(path, 'not a regular file');
      const reader = new ArReader(path, fh, st.size);
      if (opts.head !== undefined && opts.head > 0) reader.head = await reader.readAt(0, Math.min(opts.head, st.size));
      const magic = await reader.readAt(0, AR_MAGIC.length);
      if (!magic.equals(AR_MAGIC)) throw badArchive(path, 'not a Debian archive (no ar magic)');
      return reader;
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }

  private async readAt(position: number, length: number): Promise<Buffer> {
    if (this.head !== undefined && position + length <= this.head.length) return this.head.subarray(position, position + length);
    const buf = Buffer.alloc(length);
    let got = 0;
    try {
      while (got < length) {
        const { bytesRead } = await this.fh.read(buf, got, length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } catch (err) {
      throw fsError('read', err, this.path);
    }
    return got === length ? buf : buf.subarray(0, got);
  }

  /** The next member's header, or null at the end of the archive. */
  async next(): Promise<ArMember | null> {
    if (this.cursor >= this.fileSize) return null;
    const at = this.cursor;
    const header = await this.readAt(at, AR_HEADER_SIZE);
    if (header.length < AR_HEADER_SIZE) throw badArchive(this.path, `truncated ar member header at byte ${at}`);
    const member = parseArHeader(header, at, this.path);
    const end = member.dataOffset + member.size;
    if (end > this.fileSize) {
      throw badArchive(
        this.path,
        `ar member '${member.name}' (${member.size} bytes at byte ${member.dataOffset}) runs past the end of the file (${this.fileSize} bytes); truncated download?`,
      );
    }
    // Odd-sized members are padded to an even offset; the last one may lack its pad byte.
    this.cursor = end + (member.size % 2);
    return member;
  }

  /** A whole member in memory, refused beyond `maxSize` bytes. */
  async readMember(member: ArMember, maxSize: number): Promise<Buffer> {
    if (member.size > maxSize) {
      throw badArchive(this.path, `ar member '${member.name}' is ${member.size} bytes, more than the ${maxSize} expected`);
    }
    const data = await this.readAt(member.dataOffset, member.size);
    if (data.length < member.size) throw badArchive(this.path, `ar member '${member.name}' is truncated`);
    return data;
  }

  /** A member's data in chunks, read only as fast as the consumer takes them. */
  async *streamMember(member: ArMember): AsyncGenerator<Buffer> {
    let position = member.dataOffset;
    const end = member.dataOffset + member.size;
    while (position < end) {
      const chunk = await this.readAt(position, Math.min(READ_CHUNK, end - position));
      if (chunk.length === 0) throw badArchive(this.path, `ar member '${member.name}' is truncated (file shrank while reading)`);
      position += chunk.length;
      yield chunk;
    }
  }
}

/** One ar header as dpkg-deb writes it: owner 0/0, mode 100644, decimal fields padded with spaces. */
export function formatArHeader(name: string, size: number, mtime: number): Buffer {
  if (name.length > 16 || !/^[\x21-\x7e]+$/.test(name)) {
    throw new OvermergeError('E_INTERNAL', `bad ar member name ${JSON.stringify(name)}`, { op: 'write archive' });
  }
  const sizeText = String(size);
  const timeText = String(Math.max(0, Math.trunc(mtime)));
  if (sizeText.length > 10 || timeText.length > 12) {
    throw new OvermergeError('E_INTERNAL', `ar member ${name} too large for the ar format`, { op: 'write archive' });
  }
  const text = `${name.padEnd(16)}${timeText.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${sizeText.padEnd(10)}${AR_FMAG}`;
  return Buffer.from(text, 'latin1');
}

/**
 * Writes an ar archive to an open file by positioned writes. Members from streams get a placeholder
 * header that is rewritten once their size is known, so nothing has to be buffered or copied twice.
 */
export class ArWriter {
  private position = 0;

  constructor(
    private readonly fh: fsp.FileHandle,
    private readonly path: string,
  ) {}

  private async writeAt(data: Buffer, position: number): Promise<void> {
    let done = 0;
    try {
      while (done < data.length) {
        const { bytesWritten } = await this.fh.write(data, done, data.length - done, position + done);
        done += bytesWritten;
      }
    } catch (err) {
      throw fsError('write', err, this.path);
    }
  }

  private async append(data: Buffer): Promise<void> {
    await this.writeAt(data, this.position);
    this.position += data.length;
  }

  async writeMagic(): Promise<void> {
    await this.append(AR_MAGIC);
  }

  async addBuffer(name: string, data: Buffer, mtime: number): Promise<void> {
    await this.append(formatArHeader(name, data.length, mtime));
    await this.append(data);
    if (data.length % 2) await this.append(Buffer.from('\n'));
  }

  async addStream(name: string, source: AsyncIterable<Buffer>, mtime: number): Promise<number> {
    const headerAt = this.position;
    await this.append(formatArHeader(name, 0, mtime));
    let size = 0;
    for await (const chunk of source) {
      await this.append(chunk);
      size += chunk.length;
    }
    await this.writeAt(formatArHeader(name, size, mtime), headerAt);
    if (size % 2) await this.append(Buffer.from('\n'));
    return size;
  }

  get bytesWritten(): number {
    return this.position;
  }
}
