import { createReadStream } from 'node:fs';
import { OvermergeError } from '../errors';
import { unlinkIfPresent } from '../fs/entries';
import type { HostPath } from '../fs/host-path';
import { memberToRootPath } from '../fs/rootpath';
import { parseParagraphs } from '../control/deb822';
import { printable } from '../control/printable';
import { decodeControlText, validateControlFields } from '../control/fields';
import type { Paragraph } from '../control/paragraph';
import { ArReader, type ArMember } from './ar';
import { compressionOfSuffix, decodeWhole, decompress, type Compression } from './compression';
import { readTar, type TarEntry, type TarReadOptions } from './tar';

export type { Compression } from './compression';

export interface DebControl {
  path: string;
  fields: Paragraph;
  controlText: string;
  /** Regular files at the top of control.tar by name: control, md5sums, conffiles, postinst, ... */
  files: Map<string, Buffer>;
  dataCompression: Compression;
}

/** A control.tar member larger than this is refused (the largest real md5sums are a few MiB). */
export const MAX_CONTROL_MEMBER = 64 * 1024 * 1024;
/** ... and so is a control.tar whose files add up to more. */
export const MAX_CONTROL_TOTAL = 128 * 1024 * 1024;
const MAX_DEBIAN_BINARY = 4096;

export interface DebMember extends ArMember {
  compression: Compression;
}

/** Where the parts of a .deb are, after dpkg's rules for the member order have been checked. */
export interface DebLayout {
  version: string;
  control: DebMember;
  data: DebMember;
}

/** Member names are bytes from the archive: control characters in them are shown escaped, on one line. */
function bad(path: string, problem: string): OvermergeError {
  return new OvermergeError('E_BAD_ARCHIVE', printable(`${path}: ${problem}`), { op: 'read archive', path });
}

function memberCompression(path: string, member: ArMember, base: string): Compression {
  const c = compressionOfSuffix(member.name.slice(base.length));
  if (c === undefined) throw bad(path, `member '${member.name}' uses an unsupported compression`);
  return c;
}

/**
 * Walks the members the way dpkg does: `debian-binary` (format 2.x) first, then `control.tar[.ext]`,
 * then `data.tar[.ext]`; members whose names start with `_` are skipped anywhere after the first.
 * Anything else before the data member, or a second control member, is an error. Members after the
 * data member are not read, as dpkg does not read them.
 */
export async function readDebLayout(ar: ArReader): Promise<DebLayout> {
  const path = ar.path;
  const first = await ar.next();
  if (first === null) throw bad(path, 'empty archive');
  if (first.name !== 'debian-binary') throw bad(path, `not a Debian binary archive (first member is '${first.name}')`);
  const versionText = (await ar.readMember(first, MAX_DEBIAN_BINARY)).toString('latin1');
  const newline = versionText.indexOf('\n');
  if (newline === -1) throw bad(path, 'debian-binary has no newline');
  const version = versionText.slice(0, newline);
  const m = /^([0-9]+)\.([0-9]+)$/.exec(version);
  if (!m) throw bad(path, `invalid archive format version ${JSON.stringify(version)}`);
  if (m[1] !== '2') throw bad(path, `archive format version ${version} is not supported (only 2.x)`);

  let control: DebMember | undefined;
  for (;;) {
    const member = await ar.next();
    if (member === null) {
      throw bad(path, control ? "no data.tar member (truncated?)" : 'no control.tar member (truncated?)');
    }
    if (member.name.startsWith('_')) continue;
    if (member.name.startsWith('control.tar')) {
      if (control) throw bad(path, `duplicate control member '${member.name}' after '${control.name}'`);
      control = { ...member, compression: memberCompression(path, member, 'control.tar') };
      continue;
    }
    if (member.name.startsWith('data.tar')) {
      if (!control) throw bad(path, `member '${member.name}' comes before the control.tar member`);
      return { version, control, data: { ...member, compression: memberCompression(path, member, 'data.tar') } };
    }
    throw bad(path, `unexpected member '${member.name}' before ${control ? 'data.tar' : 'control.tar'}`);
  }
}

/**
 * The decompressed bytes of a member, with any decompressor failure turned into one line naming the
 * archive and the member.
 */
async function* memberBytes(ar: ArReader, member: DebMember): AsyncGenerator<Buffer> {
  try {
    yield* decompress(ar.streamMember(member), member.compression, member.size);
  } catch (err) {
    if (err instanceof OvermergeError) throw err;
    const what = member.compression === 'none' ? 'data' : `${member.compression} data`;
    throw new OvermergeError('E_BAD_ARCHIVE', printable(`${ar.path}: ${member.name}: corrupt ${what} (${describe(err)})`), {
      op: 'read archive',
      path: ar.path,
      cause: err,
    });
  }
}

/**
 * How much of an archive a read of its layout or control part takes at once (ArReader.open's `head`):
 * the member headers and control.tar of 87 of the 88 archives of a minbase bootstrap lie within it (half
 * of them within 2 KiB; tzdata's reach 70 KiB).
 */
export const DEB_HEAD = 64 * 1024;
/** A control.tar up to this size is read whole and decoded in one call (decodeWhole) ... */
const WHOLE_CONTROL_IN = 1024 * 1024;
/**
 * ... to at most this many bytes (the decoded tar and the files taken from it are both held a moment);
 * beyond, it is streamed as every other member is.
 */
const WHOLE_CONTROL_OUT = 4 * 1024 * 1024;

/**
 * The decompressed bytes of a control member: decoded in one call where it is small, else, or where that
 * declines, as memberBytes gives them. A bootstrap's 88 control reads: 58 ms where decoder streams took 108.
 */
async function controlTarBytes(ar: ArReader, member: DebMember): Promise<AsyncIterable<Buffer>> {
  if (member.size <= WHOLE_CONTROL_IN) {
    const whole = decodeWhole(await ar.readMember(member, WHOLE_CONTROL_IN), member.compression, WHOLE_CONTROL_OUT);
    if (whole !== undefined) return once(whole);
  }
  return memberBytes(ar, member);
}

async function* once(chunk: Buffer): AsyncGenerator<Buffer> {
  yield chunk;
}

function describe(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s+/g, ' ').trim() || 'unknown error';
}

function tarOptions(ar: ArReader, member: DebMember, extra: TarReadOptions = {}): TarReadOptions {
  return { ...extra, label: `${ar.path}: ${member.name}` };
}

async function readBody(entry: TarEntry, limit: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of entry.body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new OvermergeError('E_BAD_ARCHIVE', printable(`${what} is larger than ${limit} bytes`), { op: 'read archive' });
    parts.push(chunk);
  }
  return Buffer.concat(parts, total);
}

/**
 * control.tar is never unpacked into the root, but a member that would leave it ('./../../x', '/etc/x')
 * is what dpkg-deb's tar refuses, and an archive carrying one was made to attack some reader: refuse it.
 */
function refuseUnsafeControlMember(path: string, member: string, entry: TarEntry): void {
  try {
    memberToRootPath(entry.header.name);
  } catch (err) {
    entry.body.resume();
    if (!(err instanceof OvermergeError)) throw err;
    throw new OvermergeError(err.code, `${path}: ${member}: ${err.message}`, { op: 'read archive', path, cause: err });
  }
}

/** A control.tar member path reduced to its name, or undefined when it is not at the top level. */
function topLevelName(name: string): string | undefined {
  const stripped = name.replace(/^(\.\/)+/, '').replace(/^\/+/, '');
  if (stripped === '' || stripped === '.' || stripped === '..' || stripped.includes('/')) return undefined;
  return stripped;
}

/**
 * Reads control.tar: every top-level regular file (bounded in size), the control paragraph parsed and
 * checked as dpkg checks it.
 */
export async function readDebControl(path: string): Promise<DebControl> {
  const ar = await ArReader.open(path, { head: DEB_HEAD });
  try {
    const layout = await readDebLayout(ar);
    const files = new Map<string, Buffer>();
    let total = 0;
    for await (const entry of readTar(await controlTarBytes(ar, layout.control), tarOptions(ar, layout.control))) {
      refuseUnsafeControlMember(path, layout.control.name, entry);
      const name = entry.header.type === 'file' ? topLevelName(entry.header.name) : undefined;
      if (name === undefined) {
        entry.body.resume();
        continue;
      }
      const what = `${path}: ${layout.control.name}: ${name}`;
      if (files.has(name)) throw bad(path, `${layout.control.name}: '${name}' appears twice`);
      const data = await readBody(entry, MAX_CONTROL_MEMBER, what);
      total += data.length;
      if (total > MAX_CONTROL_TOTAL) throw bad(path, `${layout.control.name} is larger than ${MAX_CONTROL_TOTAL} bytes`);
      files.set(name, data);
    }
    const controlBytes = files.get('control');
    if (controlBytes === undefined) {
      throw new OvermergeError('E_BAD_CONTROL', `${path}: ${layout.control.name} has no control file`, { op: 'read control', path });
    }
    const controlText = decodeControlText(controlBytes, path);
    const fields = singleParagraph(controlText, path);
    validateControlFields(fields, path);
    return { path, fields, controlText, files, dataCompression: layout.data.compression };
  } finally {
    await ar.close();
  }
}

/** The one paragraph a binary control file must hold. */
export function singleParagraph(text: string, source: string): Paragraph {
  const paragraphs = parseParagraphs(text, { source: `${source}: control` });
  if (paragraphs.length === 0) {
    throw new OvermergeError('E_BAD_CONTROL', `${source}: control file is empty`, { op: 'read control', path: source });
  }
  if (paragraphs.length > 1) {
    throw new OvermergeError('E_BAD_CONTROL', `${source}: control file has ${paragraphs.length} paragraphs; only one is allowed`, {
      op: 'read control',
      path: source,
    });
  }
  return paragraphs[0];
}

export interface DataReadOptions extends Pick<TarReadOptions, 'trailingData' | 'maxMetaSize'> {
  /** Where data members decoded ahead of time are taken from (decode-ahead.ts). */
  ahead?: DecodedData;
}

/** Data members decoded ahead (decode-ahead.ts): the file of an archive's data.tar, handed over once. */
export interface DecodedData {
  take(archive: string): Promise<HostPath | undefined>;
}

/** What one read of a data member decoded ahead asks of the page cache. */
const DECODED_READ_CHUNK = 256 * 1024;

/**
 * Streams the entries of data.tar. The archive stays open until iteration ends (or is abandoned with
 * `break`/`return`); what an entry's body leaves unread is skipped when the next entry is asked for.
 */
export async function* readDebData(path: string, options: DataReadOptions = {}): AsyncGenerator<TarEntry> {
  const decoded = await options.ahead?.take(path);
  if (decoded !== undefined) {
    // Decoded ahead from this very archive (its identity checked): read with every check, then removed.
    try {
      yield* readTar(createReadStream(decoded, { highWaterMark: DECODED_READ_CHUNK }), { ...options, label: `${path}: data.tar.xz` });
    } finally {
      await unlinkIfPresent(decoded).catch(() => undefined);
    }
    return;
  }
  const ar = await ArReader.open(path, { head: DEB_HEAD });
  try {
    const layout = await readDebLayout(ar);
    yield* readTar(memberBytes(ar, layout.data), tarOptions(ar, layout.data, options));
  } finally {
    await ar.close();
  }
}
