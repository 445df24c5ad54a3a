import { arArchive, type ArMember } from '../fixtures/hostile/ar-writer';
import { compressionOfSuffix, suffixOf, type Compression } from '../src/archive/compression';
import { mutateBytes, mutateInPlace } from './bytes';
import { compressBytes, decompressBytes } from './compress';
import { mutateControlText } from './control-mutate';
import type { Dictionary } from './dictionary';
import type { Rng } from './rng';
import { mutateTar, setChecksum, walkTar } from './tar-mutate';

/**
 * Structure-aware mutations of a whole .deb. Mutating a compressed stream mostly trips its CRC, so most
 * inputs are made one layer down: the ar container, the uncompressed control.tar or data.tar (then packed
 * again, uncompressed or recompressed), or the control file's text inside control.tar. Some mutate the
 * compressed bytes themselves, which is what reaches the decompressors' own error paths.
 */

/** A .deb taken apart once, when the seeds are loaded. */
export interface DebSeed {
  name: string;
  bytes: Buffer;
  members: ArMember[];
  control?: TarLayer;
  data?: TarLayer;
}

export interface TarLayer {
  /** Which member it is, in `members`. */
  index: number;
  tar: Buffer;
  compression: Compression;
}

const AR_HEADER = 60;
const MAX_LAYER = 4 * 1024 * 1024;
const AR_WIDTH = { name: 16, mtime: 12, uid: 6, gid: 6, mode: 8, size: 10, fmag: 2 } as const;

/** The members of an ar archive, read leniently (a seed from the hostile corpus may be odd on purpose). */
export function arMembers(deb: Buffer): ArMember[] {
  const members: ArMember[] = [];
  let at = 8;
  while (at + AR_HEADER <= deb.length) {
    const header = deb.subarray(at, at + AR_HEADER);
    const size = Number(header.toString('latin1', 48, 58).trim());
    if (!Number.isSafeInteger(size) || size < 0) break;
    const name = header.toString('latin1', 0, 16).trimEnd();
    members.push({ name, data: deb.subarray(at + AR_HEADER, at + AR_HEADER + size) });
    at += AR_HEADER + size + (size % 2);
  }
  return members;
}

async function layer(members: ArMember[], base: string): Promise<TarLayer | undefined> {
  const index = members.findIndex((m) => m.name.replace(/\/$/, '').startsWith(base));
  if (index < 0) return undefined;
  const compression = compressionOfSuffix(members[index].name.replace(/\/$/, '').slice(base.length));
  if (compression === undefined) return undefined;
  const tar = await decompressBytes(Buffer.from(members[index].data), compression);
  // A bomb-like seed (the hostile corpus's 20 MB control file) would make every input from it slow to
  // build; its container is still mutated.
  if (!tar || tar.length > MAX_LAYER) return undefined;
  return { index, tar, compression };
}

export async function splitDeb(name: string, bytes: Buffer): Promise<DebSeed> {
  const members = arMembers(bytes);
  return { name, bytes, members, control: await layer(members, 'control.tar'), data: await layer(members, 'data.tar') };
}

function withMember(seed: DebSeed, index: number, member: ArMember): ArMember[] {
  return seed.members.map((m, i) => (i === index ? member : m));
}

/** A tar packed back into its member: the same compression, none, or another one. */
async function repack(rng: Rng, base: string, tar: Buffer, was: Compression): Promise<ArMember> {
  const c = rng.weighted<Compression>([
    [4, 'none'],
    [3, was],
    [2, 'gzip'],
    [1, 'zstd'],
    [1, 'xz'],
  ]);
  return { name: `${base}${suffixOf(c)}`, data: await compressBytes(tar, c) };
}

/** Finds `./control` in a control.tar and replaces its body (and size, and checksum) with `text`. */
function replaceControlFile(tar: Buffer, text: Buffer): Buffer | undefined {
  for (const p of walkTar(tar).pieces) {
    const name = tar.toString('latin1', p.offset, p.offset + 100).replace(/\0.*$/s, '');
    if (name.replace(/^(\.\/)+/, '') !== 'control' || p.typeflag !== '0') continue;
    const header = Buffer.from(tar.subarray(p.offset, p.offset + 512));
    Buffer.from(`${text.length.toString(8).padStart(11, '0')}\0`, 'latin1').copy(header, 124);
    setChecksum(header);
    const pad = Buffer.alloc((512 - (text.length % 512)) % 512);
    return Buffer.concat([tar.subarray(0, p.offset), header, text, pad, tar.subarray(p.end)]);
  }
  return undefined;
}

/** The text of `./control` inside a control.tar. */
export function controlFileOf(tar: Buffer): Buffer | undefined {
  for (const p of walkTar(tar).pieces) {
    const name = tar.toString('latin1', p.offset, p.offset + 100).replace(/\0.*$/s, '');
    if (name.replace(/^(\.\/)+/, '') === 'control' && p.typeflag === '0') return tar.subarray(p.offset + 512, p.offset + 512 + p.size);
  }
  return undefined;
}

const AR_NAMES = ['debian-binary', 'control.tar', 'control.tar.gz', 'control.tar.bz2', 'data.tar', 'data.tar.xz', 'data.tar.lzma', '_extra', '_', 'data.tar.gz/', '/', '//', '/0', 'DATA.TAR', 'x', ''];

/** The ar container: header fields, member order, debian-binary's text, the magic. */
function mutateContainer(rng: Rng, seed: DebSeed): Buffer {
  const members = seed.members.map((m) => ({ ...m }));
  if (members.length === 0) return mutateBytes(rng, seed.bytes);
  return rng.weighted<() => Buffer>([
    [4, () => {
      const m = rng.pick(members);
      const field = rng.pick(['name', 'size', 'mode', 'mtime', 'uid', 'gid', 'fmag'] as const);
      const value =
        field === 'name'
          ? rng.pick(AR_NAMES)
          : field === 'size'
            ? rng.pick(['', ' ', '-1', '0', '1', String(m.data.length + 1), String(m.data.length - 1), '9999999999', '0x10', '1e3', '+4', ' 4 4', String(m.data.length * 2)])
            : field === 'fmag'
              ? rng.pick(['`\0', '\n`', '  '])
              : rng.pick(['', '-1', 'x', '77777777', '0']);
      m.raw = { [field]: value.slice(0, AR_WIDTH[field]) };
      return arArchive(members);
    }],
    [2, () => {
      const i = rng.below(members.length);
      const j = rng.below(members.length);
      [members[i], members[j]] = [members[j], members[i]];
      return arArchive(members);
    }],
    [2, () => {
      members.splice(rng.below(members.length + 1), 0, rng.chance(0.5) ? { ...rng.pick(members) } : { name: rng.pick(AR_NAMES), data: rng.bytes(rng.smallInt(300)) });
      return arArchive(members);
    }],
    [1, () => {
      members.splice(rng.below(members.length), 1);
      return arArchive(members);
    }],
    [2, () => {
      const text = rng.pick(['2.0\n', '2.0', '3.0\n', '2.\n', '2.99999999999999999999\n', '\n', '2.0\nextra', '02.0\n', ' 2.0\n', '2.0\r\n', '1.0\n']);
      const at = members.findIndex((m) => m.name === 'debian-binary');
      if (at >= 0) members[at] = { ...members[at], data: Buffer.from(text, 'latin1') };
      return arArchive(members, rng.chance(0.1) ? rng.pick(['!<arch>', '!<thin>\n', '!<arch>\r\n']) : undefined);
    }],
    [1, () => {
      const m = rng.pick(members);
      m.noPadding = true;
      return arArchive(members);
    }],
    // Bytes of an ar header, offsets kept.
    [3, () => {
      const deb = arArchive(members);
      const headers: number[] = [];
      for (let at = 8; at + AR_HEADER <= deb.length; ) {
        headers.push(at);
        const size = Number(deb.toString('latin1', at + 48, at + 58).trim());
        if (!Number.isSafeInteger(size) || size < 0) break;
        at += AR_HEADER + size + (size % 2);
      }
      const at = headers.length > 0 ? rng.pick(headers) : 0;
      return mutateInPlace(rng, deb, at, Math.min(deb.length, at + AR_HEADER), 1 + rng.smallInt(2));
    }],
  ])();
}

export type DebLayerChoice = 'container' | 'control-tar' | 'data-tar' | 'control-text' | 'compressed' | 'bytes' | 'splice';

/** Which part of the archive a target reads most; its inputs are mostly mutated there. */
export type DebFocus = 'container' | 'control' | 'data' | 'install';

const FOCUS: Record<DebFocus, ReadonlyArray<readonly [number, DebLayerChoice]>> = {
  container: [[6, 'container'], [1, 'control-tar'], [1, 'data-tar'], [1, 'compressed'], [2, 'bytes'], [1, 'splice']],
  control: [[1, 'container'], [4, 'control-tar'], [5, 'control-text'], [1, 'compressed'], [1, 'bytes'], [1, 'splice']],
  data: [[1, 'container'], [8, 'data-tar'], [2, 'compressed'], [1, 'bytes'], [1, 'splice']],
  install: [[1, 'container'], [2, 'control-tar'], [8, 'data-tar'], [3, 'control-text'], [1, 'compressed'], [1, 'splice']],
};

/**
 * A mutated .deb from `seed` and a short description of what was done (for the findings report).
 * `other` is another seed, for splices.
 */
export async function mutateDeb(rng: Rng, seed: DebSeed, other: DebSeed, dict: Dictionary, focus: DebFocus): Promise<{ bytes: Buffer; how: string }> {
  const choice = rng.weighted(FOCUS[focus]);
  const how = `${choice} of ${seed.name}`;
  switch (choice) {
    case 'container':
      return { bytes: mutateContainer(rng, seed), how };
    case 'control-tar':
    case 'data-tar': {
      const l = choice === 'control-tar' ? seed.control : seed.data;
      if (!l) return { bytes: mutateContainer(rng, seed), how: `container of ${seed.name}` };
      const base = choice === 'control-tar' ? 'control.tar' : 'data.tar';
      const tar = mutateTar(rng, l.tar, dict);
      return { bytes: arArchive(withMember(seed, l.index, await repack(rng, base, tar, l.compression))), how };
    }
    case 'control-text': {
      const l = seed.control;
      const text = l && controlFileOf(l.tar);
      const tar = l && text && replaceControlFile(l.tar, mutateControlText(rng, Buffer.from(text)));
      if (!l || !tar) return { bytes: mutateContainer(rng, seed), how: `container of ${seed.name}` };
      return { bytes: arArchive(withMember(seed, l.index, await repack(rng, 'control.tar', tar, l.compression))), how };
    }
    case 'compressed': {
      const l = rng.chance(0.7) ? seed.data ?? seed.control : seed.control ?? seed.data;
      if (!l) return { bytes: mutateBytes(rng, seed.bytes), how: `bytes of ${seed.name}` };
      const m = seed.members[l.index];
      const data = Buffer.from(m.data);
      const bent = rng.chance(0.7) ? mutateInPlace(rng, data, 0, data.length, 1 + rng.smallInt(4)) : mutateBytes(rng, data, undefined, 2);
      return { bytes: arArchive(withMember(seed, l.index, { ...m, data: bent })), how };
    }
    case 'bytes':
      return { bytes: mutateBytes(rng, seed.bytes, other.bytes), how };
    case 'splice': {
      // A member of another package in place of this one's (same kind), so the parts disagree.
      const kind = rng.chance(0.5) ? 'control.tar' : 'data.tar';
      const mine = seed.members.findIndex((m) => m.name.startsWith(kind));
      const theirs = other.members.find((m) => m.name.startsWith(kind));
      if (mine < 0 || !theirs) return { bytes: mutateBytes(rng, seed.bytes, other.bytes), how: `bytes of ${seed.name}` };
      return { bytes: arArchive(withMember(seed, mine, theirs)), how: `${kind} of ${other.name} in ${seed.name}` };
    }
  }
}
