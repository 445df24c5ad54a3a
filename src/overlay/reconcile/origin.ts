/**
 * overlayfs' `overlay.origin` attribute, read without the kernel. Pure.
 *
 * At every copy-up of a directory, or of a file with one link (and of anything indexed), overlayfs records
 * the lower inode it copied from as a file handle (fs/overlayfs/copy_up.c, ovl_set_origin_fh): the lower
 * filesystem's own handle for the inode (exportfs), wrapped in overlayfs' header. It does so whatever
 * `index` says; with `index=on` it also stamps the upper root with the lower root's handle at the first
 * mount. A lower that cannot make handles (a squashfs built with `-no-exports`) gets an empty attribute:
 * "copied up, origin unknown".
 *
 * The wrapper (struct ovl_fb, fs/overlayfs/overlayfs.h), as the attribute holds it:
 *   [0] version 0   [1] magic 0xfb   [2] length of the whole   [3] flags   [4] handle type
 *   [5..21) the lower filesystem's UUID (all zero for squashfs, or with uuid=off)   [21..) the handle
 * The handle is the filesystem's business; the layouts below are those whose inode number can be read.
 */

export const OVL_FH_MAGIC = 0xfb;
const HEADER = 21;
const FLAG_BIG_ENDIAN = 1 << 0;

/** statfs f_type of the filesystems whose handle layout is known here. */
export const FS_MAGIC = {
  squashfs: 0x73717368,
  ext4: 0xef53,
  xfs: 0x58465342,
  tmpfs: 0x01021994,
} as const;

export type OriginHandle =
  /** An empty attribute: copied up from a lower that makes no handles; it names no inode. */
  | { kind: 'null' }
  | {
      kind: 'handle';
      /** The lower filesystem's UUID, hex; all zeros when it has none (squashfs) or with uuid=off. */
      uuid: string;
      nullUuid: boolean;
      /** The exportfs handle type (1: FILEID_INO32_GEN, 2: ..._PARENT, 0x81: xfs 64-bit, ...). */
      type: number;
      flags: number;
      fid: Buffer;
    }
  /** Not overlayfs' format (a newer kernel's, or damaged): nothing can be said about it. */
  | { kind: 'malformed'; why: string };

export function parseOrigin(value: Buffer): OriginHandle {
  if (value.length === 0) return { kind: 'null' };
  if (value.length < HEADER) return { kind: 'malformed', why: `${value.length} bytes, shorter than overlayfs' header` };
  if (value[0] !== 0) return { kind: 'malformed', why: `version ${value[0]}` };
  if (value[1] !== OVL_FH_MAGIC) return { kind: 'malformed', why: `magic 0x${value[1].toString(16)}` };
  if (value[2] !== value.length) return { kind: 'malformed', why: `length ${value[2]} in the header, ${value.length} stored` };
  const uuid = value.subarray(5, HEADER);
  return {
    kind: 'handle',
    uuid: uuid.toString('hex'),
    nullUuid: uuid.every((b) => b === 0),
    type: value[4],
    flags: value[3],
    fid: Buffer.from(value.subarray(HEADER)),
  };
}

/**
 * The inode number a handle names, for the filesystems whose layout is known: the generic exportfs
 * layout (`FILEID_INO32_GEN`: inode, generation; squashfs, ext2/3/4, xfs for 32-bit inodes), tmpfs'
 * (generation, inode low, inode high), xfs' 64-bit one (0x81: inode low, inode high, generation).
 * undefined when it cannot be read.
 */
export function originInode(h: OriginHandle, fsMagic: number | undefined): number | undefined {
  if (h.kind !== 'handle') return undefined;
  const words = Math.floor(h.fid.length / 4);
  const word = (i: number): number => (h.flags & FLAG_BIG_ENDIAN ? h.fid.readUInt32BE(i * 4) : h.fid.readUInt32LE(i * 4));
  if (fsMagic === FS_MAGIC.tmpfs) {
    return h.type === 1 && words >= 3 ? word(1) + word(2) * 2 ** 32 : undefined;
  }
  if (fsMagic === FS_MAGIC.xfs && (h.type === 0x81 || h.type === 0x82) && words >= 3) return word(0) + word(1) * 2 ** 32;
  if ((h.type === 1 || h.type === 2) && words >= 2 && fsMagic !== undefined && GENERIC_LAYOUT.has(fsMagic)) return word(0);
  return undefined;
}

const GENERIC_LAYOUT = new Set<number>([FS_MAGIC.squashfs, FS_MAGIC.ext4, FS_MAGIC.xfs]);

/**
 * What an origin record says against the new lower layer:
 * - null: the empty marker (copied up from a lower without handles); harmless, names nothing;
 * - current: it names the inode the new lower has at the same path;
 * - stale: it names another inode, or the new lower has nothing there: it refers to the replaced lower;
 * - unknown: a handle whose layout cannot be read here (or a malformed record).
 */
export type OriginVerdict = 'null' | 'current' | 'stale' | 'unknown';

export interface OriginFacts {
  /** The attribute's value, hex (a step that removes it journals it, so that undo can put it back). */
  raw: string;
  handle: OriginHandle;
  /** The inode the handle names, when readable. */
  inode?: number;
}

export function judgeOrigin(o: OriginFacts, lowerInode: number | undefined): OriginVerdict {
  if (o.handle.kind === 'null') return 'null';
  if (o.handle.kind === 'malformed' || o.inode === undefined) return 'unknown';
  return lowerInode !== undefined && lowerInode === o.inode ? 'current' : 'stale';
}
