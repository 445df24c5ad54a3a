import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PassThrough, pipeline, Readable } from 'node:stream';
import { OvermergeError, fsError } from '../errors';
import { decodeControlText, validateControlFields } from '../control/fields';
import type { Paragraph } from '../control/paragraph';
import { resolveHostPath } from '../fs/host-path';
import { writeOutputFile } from '../fs/output-file';
import { ArWriter } from './ar';
import { memberName, walkTree, type TreeEntry } from './build-tree';
import { compressor, suffixOf, type Compression } from './compression';
import { singleParagraph } from './deb';
import { encodeEnd, encodeHeader, padding, type TarWriteHeader } from './tar-writer';

/**
 * Builds a .deb from a package tree the way `dpkg-deb --build --root-owner-group` does: DIR/DEBIAN goes
 * into control.tar, everything else into data.tar, in dpkg-deb's order and GNU tar's format, owned by
 * root. With a SOURCE_DATE_EPOCH, mtimes are clamped to it and it stamps the ar members, so two builds
 * of one tree are byte-identical. Adds an md5sums file (as dh_md5sums would: regular files, conffiles
 * left out) when the tree has none. The output appears atomically or not at all.
 */
export interface BuildOptions {
  compression: Compression;
  /** Clamp for every mtime and the ar timestamps; undefined means "now" and the files' own times. */
  sourceDateEpoch?: number;
  /** Seconds since the epoch, for the ar timestamps when there is no SOURCE_DATE_EPOCH. */
  now?: () => number;
}

export interface BuildResult {
  path: string;
  package: string;
  version: string;
  architecture: string;
}

const MAINTAINER_SCRIPTS = new Set(['preinst', 'postinst', 'prerm', 'postrm', 'config']);

function badPackage(dir: string, problem: string): OvermergeError {
  return new OvermergeError('E_BAD_CONTROL', `${dir}: ${problem}`, { op: 'build', path: dir });
}

async function readControl(dir: string): Promise<{ text: string; fields: Paragraph }> {
  const controlPath = path.join(dir, 'DEBIAN', 'control');
  let bytes: Buffer;
  try {
    const st = await fsp.lstat(controlPath);
    if (!st.isFile()) throw badPackage(dir, 'DEBIAN/control is not a regular file');
    bytes = await fsp.readFile(controlPath);
  } catch (err) {
    if (err instanceof OvermergeError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw badPackage(dir, 'no DEBIAN/control file');
    throw fsError('read', err, controlPath);
  }
  const text = decodeControlText(bytes, controlPath);
  const fields = singleParagraph(text, controlPath);
  validateControlFields(fields, controlPath);
  return { text, fields };
}

/** dpkg-deb's checks on the control area: script permissions, conffiles present as plain files. */
async function checkControlArea(dir: string, control: TreeEntry[], data: TreeEntry[]): Promise<Set<string>> {
  for (const e of control) {
    const name = e.rel.toString();
    if (e.rel.length === 0) {
      // dpkg-deb's actual test behind its ">=0755 and <=0775" message: rwx for the owner, r-x for the rest,
      // group write allowed, nothing else.
      const mode = e.stat.mode & 0o7777;
      if ((mode & 0o7757) !== 0o755) {
        throw badPackage(dir, `DEBIAN has bad permissions ${mode.toString(8)} (must be >=0755 and <=0775)`);
      }
      continue;
    }
    if (e.rel.includes(0x2f)) throw badPackage(dir, `DEBIAN/${name}: the control area may not have subfolders`);
    if (e.type !== 'file') throw badPackage(dir, `DEBIAN/${name} is not a plain file`);
    if (MAINTAINER_SCRIPTS.has(name)) {
      const mode = e.stat.mode & 0o7777;
      if ((mode & 0o7557) !== 0o555) {
        throw badPackage(dir, `maintainer script '${name}' has bad permissions ${mode.toString(8)} (must be >=0555 and <=0775)`);
      }
    }
  }
  const conffiles = new Set<string>();
  const listed = control.find((e) => e.rel.toString() === 'conffiles');
  if (!listed) return conffiles;
  const byName = new Map(data.map((e) => [e.rel.toString('latin1'), e]));
  const text = (await fsp.readFile(listed.host)).toString('latin1');
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    // dpkg >= 1.20 accepts flags before the path; a remove-on-upgrade file must not be shipped.
    const [first, ...rest] = line.split(/\s+/);
    const flags = first.startsWith('/') ? [] : [first];
    const file = first.startsWith('/') ? first : rest.join(' ');
    if (!file.startsWith('/')) throw badPackage(dir, `conffile '${line}' is not an absolute path`);
    const entry = byName.get(file.slice(1));
    if (flags.includes('remove-on-upgrade')) {
      if (entry) throw badPackage(dir, `conffile '${file}' is marked remove-on-upgrade but is in the package`);
      continue;
    }
    if (flags.some((f) => f !== 'remove-on-upgrade')) throw badPackage(dir, `conffile '${line}' has an unknown flag`);
    if (!entry) throw badPackage(dir, `conffile '${file}' does not appear in the package`);
    if (entry.type !== 'file' && entry.type !== 'hardlink') throw badPackage(dir, `conffile '${file}' is not a plain file`);
    conffiles.add(file.slice(1));
  }
  return conffiles;
}

function mtimeOf(e: TreeEntry, clamp: number | undefined): number {
  const t = Math.trunc(e.stat.mtimeMs / 1000);
  return clamp !== undefined && t > clamp ? clamp : t;
}

function headerFor(e: TreeEntry, clamp: number | undefined): TarWriteHeader {
  return {
    nameBytes: memberName(e),
    type: e.type,
    mode: e.type === 'symlink' ? 0o777 : e.stat.mode & 0o7777,
    uid: 0,
    gid: 0,
    uname: 'root',
    gname: 'root',
    size: e.type === 'file' ? e.stat.size : 0,
    mtime: mtimeOf(e, clamp),
    linkBytes: e.type === 'symlink' ? e.linkTarget : e.hardlinkTo ? memberName({ rel: e.hardlinkTo, type: 'file' }) : undefined,
    devmajor: e.type === 'char' || e.type === 'block' ? major(e.stat.rdev) : 0,
    devminor: e.type === 'char' || e.type === 'block' ? minor(e.stat.rdev) : 0,
  };
}

// glibc's dev_t layout: major in bits 8-19 and 44-63, minor in bits 0-7 and 20-43.
function major(rdev: number): number {
  const d = BigInt(rdev);
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n));
}
function minor(rdev: number): number {
  const d = BigInt(rdev);
  return Number((d & 0xffn) | ((d >> 12n) & 0xffffff00n));
}

/** A tar stream of `entries`, file contents read as it is consumed. Extra in-memory files may be mixed in. */
async function* tarStream(entries: Array<TreeEntry | MemoryFile>, clamp: number | undefined): AsyncGenerator<Buffer> {
  let written = 0;
  for (const e of entries) {
    if ('data' in e) {
      const h = encodeHeader(e.header);
      yield h;
      yield e.data;
      const pad = Buffer.alloc(padding(e.data.length));
      yield pad;
      written += h.length + e.data.length + pad.length;
      continue;
    }
    const header = headerFor(e, clamp);
    const h = encodeHeader(header);
    yield h;
    written += h.length;
    if (e.type !== 'file') continue;
    let got = 0;
    try {
      for await (const chunk of createReadStream(e.host, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
        got += chunk.length;
        if (got > header.size) break;
        yield chunk;
      }
    } catch (err) {
      throw fsError('read', err, e.host.toString());
    }
    if (got !== header.size) {
      throw new OvermergeError('E_FS', `${e.host.toString()}: file changed size while the package was being built`, {
        op: 'build',
        path: e.host.toString(),
      });
    }
    const pad = Buffer.alloc(padding(header.size));
    yield pad;
    written += header.size + pad.length;
  }
  yield encodeEnd(written);
}

interface MemoryFile {
  rel: Buffer;
  header: TarWriteHeader;
  data: Buffer;
}

/** A compressed stream of the tar of `entries`; failures on either side reach the reader. */
function compressedTar(entries: Array<TreeEntry | MemoryFile>, c: Compression, clamp: number | undefined): AsyncIterable<Buffer> {
  const out = new PassThrough();
  pipeline(Readable.from(tarStream(entries, clamp)), compressor(c), out, () => {
    // Errors arrive through `out`.
  });
  return out;
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of source) parts.push(chunk);
  return Buffer.concat(parts);
}

async function md5Of(host: Buffer): Promise<string> {
  const hash = createHash('md5');
  try {
    for await (const chunk of createReadStream(host) as AsyncIterable<Buffer>) hash.update(chunk);
  } catch (err) {
    throw fsError('read', err, host.toString());
  }
  return hash.digest('hex');
}

/** md5sums as dh_md5sums writes it: `HASH  path` for each regular file in archive order, conffiles excluded. */
async function md5sums(dir: string, data: TreeEntry[], conffiles: Set<string>): Promise<Buffer> {
  const lines: Buffer[] = [];
  for (const e of data) {
    if (e.type !== 'file' && e.type !== 'hardlink') continue;
    if (conffiles.has(e.rel.toString('latin1'))) continue;
    if (e.rel.includes(0x0a)) throw badPackage(dir, `cannot list ${JSON.stringify(e.rel.toString())} in md5sums: newline in name`);
    lines.push(Buffer.from(`${await md5Of(e.host)}  `), e.rel, Buffer.from('\n'));
  }
  return Buffer.concat(lines);
}

function sortedControl(control: TreeEntry[], extra: MemoryFile | undefined): Array<TreeEntry | MemoryFile> {
  const list: Array<TreeEntry | MemoryFile> = [...control];
  if (extra) {
    const at = list.findIndex((e) => e.rel.length > 0 && Buffer.compare(e.rel, extra.rel) > 0);
    list.splice(at === -1 ? list.length : at, 0, extra);
  }
  return list;
}

async function outputPath(out: string, fields: Paragraph): Promise<string> {
  const st = await fsp.stat(out).catch(() => undefined);
  if (!st?.isDirectory()) return out;
  // Like dpkg-deb: a folder as OUT gets the conventional file name, without the epoch.
  const version = (fields.get('Version') ?? '').replace(/^[0-9]+:/, '');
  return path.join(out, `${fields.get('Package')}_${version}_${fields.get('Architecture')}.deb`);
}

export async function buildDeb(dir: string, out: string, options: BuildOptions): Promise<BuildResult> {
  const st = await fsp.stat(dir).catch((err: unknown) => {
    throw fsError('read', err, dir);
  });
  if (!st.isDirectory()) throw badPackage(dir, 'not a folder');
  const { fields } = await readControl(dir);
  const clamp = options.sourceDateEpoch;
  const now = clamp ?? options.now?.() ?? Math.trunc(Date.now() / 1000);

  const data = await walkTree(dir, { excludeTopLevel: 'DEBIAN' });
  const control = await walkTree(path.join(dir, 'DEBIAN'));
  const conffiles = await checkControlArea(dir, control, data);

  let extra: MemoryFile | undefined;
  if (!control.some((e) => e.rel.toString() === 'md5sums')) {
    const sums = await md5sums(dir, data, conffiles);
    if (sums.length > 0) {
      const rel = Buffer.from('md5sums');
      extra = {
        rel,
        data: sums,
        header: { nameBytes: Buffer.from('./md5sums'), type: 'file', mode: 0o644, uid: 0, gid: 0, uname: 'root', gname: 'root', size: sums.length, mtime: now },
      };
    }
  }
  const c = options.compression;
  const controlTar = await collect(compressedTar(sortedControl(control, extra), c, clamp));

  const target = await outputPath(out, fields);
  await writeOutputFile(resolveHostPath(target), async (fh, temp) => {
    const ar = new ArWriter(fh, temp);
    await ar.writeMagic();
    await ar.addBuffer('debian-binary', Buffer.from('2.0\n'), now);
    await ar.addBuffer(`control.tar${suffixOf(c)}`, controlTar, now);
    await ar.addStream(`data.tar${suffixOf(c)}`, compressedTar(data, c, clamp), now);
  });
  return {
    path: target,
    package: fields.get('Package') ?? '',
    version: fields.get('Version') ?? '',
    architecture: fields.get('Architecture') ?? '',
  };
}
