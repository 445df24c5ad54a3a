import * as path from 'node:path';

/**
 * /proc/self/mountinfo, parsed. Pure: text in, entries out. The format (the kernel's
 * Documentation/filesystems/proc.rst, "/proc/<pid>/mountinfo"):
 *
 *   36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   id parent dev root mount-point mount-options optional-fields... - fstype source super-options
 *
 * The kernel writes a space, tab, newline or backslash inside a path as a three-digit octal escape
 * (`\040`), so fields split at single spaces. Super options are the filesystem's own show_options:
 * `seq_show_option` escapes ", \t\n\\" in values (and also '=' in keys), so they split at literal commas and
 * each key at its first literal '='. Values stay escaped here: what an escape means beyond octal is the
 * filesystem's business (overlayfs adds its own backslash escapes, see options.ts).
 */

export interface MountInfoEntry {
  id: number;
  parentId: number;
  /** The device number of the mount's filesystem (st_dev of its directories, for most filesystems). */
  major: number;
  minor: number;
  /** Which folder of the filesystem is mounted here ('/' unless a bind mount of a subfolder). */
  root: string;
  mountPoint: string;
  /** Per-mount options (`rw`, `nosuid`, `relatime`, ...). */
  mountOptions: string[];
  /** `shared:N`, `master:N`, `propagate_from:N`, `unbindable`. */
  optionalFields: string[];
  fsType: string;
  source: string;
  /** The superblock's options in the order the kernel printed them; values still escaped. */
  superOptions: RawOption[];
}

/** One super option as printed: `key` decoded (keys carry no filesystem escapes), `value` raw. */
export interface RawOption {
  key: string;
  /** The text after the first '=' exactly as printed (octal escapes included); undefined for a flag. */
  value?: string;
}

/** Parses the whole of /proc/self/mountinfo. Lines that do not have the shape are skipped, not fatal. */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const e = parseMountInfoLine(line);
    if (e) out.push(e);
  }
  return out;
}

/** One line, or undefined when it does not have mountinfo's shape. */
export function parseMountInfoLine(line: string): MountInfoEntry | undefined {
  const fields = line.split(' ');
  const dash = fields.indexOf('-', 6);
  if (fields.length < 10 || dash < 0 || fields.length < dash + 4) return undefined;
  const [id, parentId] = [Number(fields[0]), Number(fields[1])];
  const dev = /^(\d+):(\d+)$/.exec(fields[2]);
  if (!Number.isInteger(id) || !Number.isInteger(parentId) || !dev) return undefined;
  return {
    id,
    parentId,
    major: Number(dev[1]),
    minor: Number(dev[2]),
    root: unescapeOctal(fields[3]),
    mountPoint: unescapeOctal(fields[4]),
    mountOptions: fields[5].split(','),
    optionalFields: fields.slice(6, dash),
    fsType: unescapeOctal(fields[dash + 1]),
    source: unescapeOctal(fields[dash + 2]),
    // Anything after the super options would be a field a future kernel adds; the options have no spaces.
    superOptions: splitSuperOptions(fields[dash + 3]),
  };
}

function splitSuperOptions(raw: string): RawOption[] {
  if (raw === '') return [];
  return raw.split(',').map((opt) => {
    const eq = opt.indexOf('=');
    return eq < 0 ? { key: unescapeOctal(opt) } : { key: unescapeOctal(opt.slice(0, eq)), value: opt.slice(eq + 1) };
  });
}

const OCTAL = /^\\[0-3][0-7]{2}/;

/** Whether `s` has one of the kernel's octal escapes (`\ooo`) at index `i`. */
export function octalEscapeAt(s: string, i: number): boolean {
  return s.charCodeAt(i) === 92 && OCTAL.test(s.slice(i, i + 4));
}

/**
 * Undoes the kernel's octal escapes. They stand for bytes, so a run of them may spell one UTF-8 character
 * (the kernel escapes only ASCII in these fields, but nothing here depends on that). A backslash that does
 * not start an escape stays as it is.
 */
export function unescapeOctal(s: string): string {
  if (!s.includes('\\')) return s;
  const bytes: Buffer[] = [];
  let plain = 0;
  for (let i = 0; i < s.length; ) {
    if (octalEscapeAt(s, i)) {
      bytes.push(Buffer.from(s.slice(plain, i), 'utf8'), Buffer.of(parseInt(s.slice(i + 1, i + 4), 8)));
      i += 4;
      plain = i;
    } else {
      i++;
    }
  }
  bytes.push(Buffer.from(s.slice(plain), 'utf8'));
  return Buffer.concat(bytes).toString('utf8');
}

/**
 * The mount that holds `absolute` (an absolute, symlink-free path): the one whose mount point is the path or
 * its nearest ancestor. Where several are mounted on the same point, the one on top — the one no other of
 * them is mounted over — is what the path reaches; `dev` (the path's st_dev as "major:minor"), when given,
 * settles any doubt, since a filesystem's directories report its device.
 */
export function mountContaining(entries: readonly MountInfoEntry[], absolute: string, dev?: { major: number; minor: number }): MountInfoEntry | undefined {
  let best: MountInfoEntry[] = [];
  let bestLength = -1;
  for (const e of entries) {
    if (!isAtOrBeneath(absolute, e.mountPoint)) continue;
    if (e.mountPoint.length > bestLength) {
      best = [e];
      bestLength = e.mountPoint.length;
    } else if (e.mountPoint.length === bestLength) {
      best.push(e);
    }
  }
  if (best.length <= 1) return best[0];
  if (dev) {
    const byDev = best.filter((e) => e.major === dev.major && e.minor === dev.minor);
    if (byDev.length >= 1) best = byDev;
  }
  const mountedOver = new Set(best.map((e) => e.parentId));
  const onTop = best.filter((e) => !mountedOver.has(e.id));
  // Later lines are later mounts: the last one stands when the parent links do not tell.
  const pool = onTop.length > 0 ? onTop : best;
  return pool[pool.length - 1];
}

function isAtOrBeneath(p: string, dir: string): boolean {
  if (dir === '/') return p.startsWith('/');
  return p === dir || (p.startsWith(dir) && p.charCodeAt(dir.length) === 47);
}

/**
 * Where `absolute` lies inside the filesystem of `mount`: the mount's own root joined with the path below
 * its mount point ('/' for the mount point of a whole-filesystem mount).
 */
export function pathInMount(mount: MountInfoEntry, absolute: string): string {
  const below = mount.mountPoint === '/' ? absolute.slice(1) : absolute.slice(mount.mountPoint.length + 1);
  return path.posix.join(mount.root, below);
}
