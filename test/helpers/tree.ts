import { createHash } from 'node:crypto';
import { promises as fsp, type BigIntStats } from 'node:fs';
import * as path from 'node:path';
import * as xattr from 'fs-xattr';

/** One entry of a tree, with everything a faithful copy must keep. Bigints are decimal strings (JSON, assert). */
export interface EntrySnapshot {
  /** Relative to the snapshot root; '.' is the root itself. */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';
  /** Permission bits with setuid/setgid/sticky, octal. */
  mode: string;
  uid: number;
  gid: number;
  /** Regular files only. */
  size?: string;
  /** sha256 of a regular file's bytes. */
  sha256?: string;
  /** A symlink's target bytes, hex (verbatim, never resolved). */
  target?: string;
  /** Device number of a character or block device. */
  rdev?: string;
  mtimeNs?: string;
  /** name → hex value; trusted.overlay.* left out. Symlinks: none (fs-xattr would follow them). */
  xattrs: Record<string, string>;
  /** Index into TreeSnapshot.linkGroups when this entry shares its inode with others in the tree. */
  linkGroup?: number;
}

export interface TreeSnapshot {
  entries: EntrySnapshot[];
  /** Sets of paths that are hard links to one inode, each sorted, sorted by first path. */
  linkGroups: string[][];
}

export interface SnapshotOptions {
  /** Include mtimes (default true). Directory mtimes change whenever an entry is added or removed. */
  mtime?: boolean;
  /** Include the root directory's own mtime (default false: moving a tree aside and back touches it). */
  rootMtime?: boolean;
}

function typeOf(st: BigIntStats): EntrySnapshot['type'] {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  return 'socket';
}

async function hashFile(p: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await fsp.open(p, 'r');
  try {
    for await (const chunk of fh.createReadStream()) h.update(chunk as Buffer);
  } finally {
    await fh.close().catch(() => undefined);
  }
  return h.digest('hex');
}

async function readXattrs(p: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let names: string[] = [];
  try {
    names = await xattr.listAttributes(p);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    if (name.startsWith('trusted.overlay.')) continue;
    out[name] = (await xattr.getAttribute(p, name)).toString('hex');
  }
  return out;
}

/** Describes the tree at `root` (which may be a single file) for equality assertions. */
export async function snapshotTree(root: string, opts: SnapshotOptions = {}): Promise<TreeSnapshot> {
  const entries: EntrySnapshot[] = [];
  const inodes = new Map<string, string[]>();
  async function visit(abs: string, rel: string): Promise<void> {
    const st = await fsp.lstat(abs, { bigint: true });
    const type = typeOf(st);
    const e: EntrySnapshot = {
      path: rel,
      type,
      mode: (st.mode & 0o7777n).toString(8),
      uid: Number(st.uid),
      gid: Number(st.gid),
      xattrs: type === 'symlink' ? {} : await readXattrs(abs),
    };
    if (opts.mtime !== false && (rel !== '.' || opts.rootMtime)) e.mtimeNs = st.mtimeNs.toString();
    if (type === 'file') {
      e.size = st.size.toString();
      e.sha256 = await hashFile(abs);
    }
    if (type === 'symlink') e.target = (await fsp.readlink(abs, { encoding: 'buffer' })).toString('hex');
    if (type === 'char' || type === 'block') e.rdev = st.rdev.toString();
    entries.push(e);
    if (type !== 'dir' && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      inodes.set(key, [...(inodes.get(key) ?? []), rel]);
    }
    if (type === 'dir') {
      for (const name of (await fsp.readdir(abs)).sort()) {
        await visit(path.join(abs, name), rel === '.' ? name : `${rel}/${name}`);
      }
    }
  }
  await visit(root, '.');
  const linkGroups = [...inodes.values()]
    .filter((g) => g.length > 1)
    .map((g) => g.sort())
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
  linkGroups.forEach((g, i) => {
    for (const p of g) {
      const e = entries.find((x) => x.path === p);
      if (e) e.linkGroup = i;
    }
  });
  return { entries, linkGroups };
}

/** Human-readable differences, one line each; empty when the trees are equal. */
export function diffSnapshots(a: TreeSnapshot, b: TreeSnapshot): string[] {
  const out: string[] = [];
  const am = new Map(a.entries.map((e) => [e.path, e]));
  const bm = new Map(b.entries.map((e) => [e.path, e]));
  for (const [p, ea] of am) {
    const eb = bm.get(p);
    if (!eb) {
      out.push(`${p}: only in first`);
      continue;
    }
    const keys = new Set([...Object.keys(ea), ...Object.keys(eb)] as Array<keyof EntrySnapshot>);
    for (const k of keys) {
      const va = JSON.stringify(ea[k]);
      const vb = JSON.stringify(eb[k]);
      if (va !== vb) out.push(`${p}: ${k} ${va} != ${vb}`);
    }
  }
  for (const p of bm.keys()) if (!am.has(p)) out.push(`${p}: only in second`);
  if (JSON.stringify(a.linkGroups) !== JSON.stringify(b.linkGroups)) {
    out.push(`hard-link groups ${JSON.stringify(a.linkGroups)} != ${JSON.stringify(b.linkGroups)}`);
  }
  return out;
}

/** A capability set as setcap writes it: VFS_CAP_REVISION_2 with the effective flag, cap_net_raw (13) permitted. */
function rawNetRawCapability(): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(0x02000001, 0);
  b.writeUInt32LE(1 << 13, 4);
  return b;
}

async function sh(cmd: string, args: string[]): Promise<void> {
  const { execFile } = await import('node:child_process');
  await new Promise<void>((resolve, reject) =>
    execFile(cmd, args, (err, _out, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve())),
  );
}

export interface RichTreeOptions {
  /** Size of the one large file (default 3 MiB). */
  bigBytes?: number;
  /** Device nodes need root (default: when root). */
  devices?: boolean;
}

/**
 * Builds at `dir` (which must not exist) a tree with one of everything a faithful copy must keep:
 * modes incl. setuid/setgid/sticky, foreign owners, ns mtimes, symlinks (relative, absolute, dangling,
 * to a directory), hard links across directories, a fifo, devices, user.* and trusted.* xattrs, a file
 * with security.capability (cap_net_raw+ep, as `setcap` sets it), a read-only directory, a large file.
 */
export async function buildRichTree(dir: string, opts: RichTreeOptions = {}): Promise<void> {
  const root = process.getuid?.() === 0;
  const j = (...p: string[]) => path.join(dir, ...p);
  await fsp.mkdir(dir, { mode: 0o755 });
  await fsp.mkdir(j('sub', 'deep'), { recursive: true });
  await fsp.mkdir(j('ro-dir'));
  await fsp.writeFile(j('plain.txt'), 'hello\n');
  await fsp.writeFile(j('empty'), '');
  await fsp.chmod(j('empty'), 0o600);
  await fsp.copyFile('/bin/true', j('setuid-bin'));
  await fsp.copyFile('/bin/true', j('cap-bin'));
  await fsp.writeFile(j('setgid-file'), 'g');
  await fsp.writeFile(j('owned'), 'owned by someone else');
  await fsp.writeFile(j('xattr-file'), 'x');
  await fsp.writeFile(j('link-a'), 'one inode, two names');
  await fsp.link(j('link-a'), j('sub', 'link-b'));
  await fsp.writeFile(j('sub', 'deep', 'file'), 'deep');
  await fsp.writeFile(j('ro-dir', 'inside'), 'ro');
  await fsp.writeFile(j('big'), Buffer.alloc(opts.bigBytes ?? 3 << 20, 0x5a));
  await fsp.symlink('plain.txt', j('sym-rel'));
  await fsp.symlink('/etc/passwd', j('sym-abs'));
  await fsp.symlink('nowhere/at/all', j('sym-dangling'));
  await fsp.symlink('sub', j('sym-dir'));
  await sh('mkfifo', ['-m', '640', j('fifo')]);
  if (opts.devices ?? root) {
    await sh('mknod', ['-m', '666', j('null-dev'), 'c', '1', '3']);
    await sh('mknod', ['-m', '660', j('blk-dev'), 'b', '7', '200']);
  }
  if (root) {
    await fsp.chown(j('setuid-bin'), 0, 0);
    await fsp.chown(j('owned'), 1234, 5678);
    await fsp.chown(j('setgid-file'), 0, 50);
    await fsp.chown(j('sub'), 1234, 1234);
  }
  await fsp.chmod(j('setuid-bin'), 0o4755);
  await fsp.chmod(j('setgid-file'), 0o2711);
  await fsp.chmod(j('owned'), 0o640);
  await fsp.chmod(j('sub'), 0o750);
  await fsp.chmod(j('sub', 'deep'), 0o1777);
  await xattr.setAttribute(j('xattr-file'), 'user.comment', 'a comment');
  await xattr.setAttribute(dir, 'user.on-a-dir', 'd');
  if (root) {
    await xattr.setAttribute(j('xattr-file'), 'trusted.binary', Buffer.from([0, 1, 254, 255]));
    try {
      await sh('setcap', ['cap_net_raw+ep', j('cap-bin')]);
    } catch {
      await xattr.setAttribute(j('cap-bin'), 'security.capability', rawNetRawCapability());
    }
  }
  await fsp.chmod(j('ro-dir'), 0o555);
  // Nanosecond times (touch -d takes them; Node's utimes cannot), set last so nothing disturbs them.
  await sh('touch', ['-h', '-d', '@1600000000.123456789', j('plain.txt'), j('sym-rel'), j('sub', 'deep')]);
  await sh('touch', ['-h', '-m', '-d', '@1500000000.000000001', j('big'), j('fifo')]);
}
