import { memberToRootPath, type RootPath } from '../fs/rootpath';

/**
 * md5sums larger than this are not read into a table: the MD5 of each member is computed instead, as for
 * an archive without md5sums. About 12,000 lines; the table then costs about a MiB until staging ends,
 * where an archive of 116,010 members would hold 10 MiB of it.
 */
export const MAX_SHIPPED_MD5SUMS = 1 << 20;

/**
 * The MD5 each path has in control.tar's `md5sums` (`HASH  path`, two spaces, as md5sum(1) and
 * dh_md5sums write it), for staging to take instead of hashing each member a second time. dpkg records
 * nothing else: info/PACKAGE.md5sums is the archive's md5sums as shipped, and `dpkg --verify` compares
 * the files on disk with it. A conffile is never taken from here (dpkg records the MD5 of its content);
 * staging decides that.
 *
 * Only plain lines count: 32 lower-case hex digits, a separator, a path that is a safe member name. An
 * escaped line (md5sum's leading backslash, for a name with a newline or backslash), a line of anything
 * else, or a path named twice leaves those paths out; their MD5 is computed from the content. Returns
 * undefined without md5sums or when it is larger than MAX_SHIPPED_MD5SUMS.
 */
export function shippedMd5s(text: Buffer | undefined): ReadonlyMap<RootPath, string> | undefined {
  if (text === undefined || text.length > MAX_SHIPPED_MD5SUMS) return undefined;
  const out = new Map<RootPath, string>();
  const twice = new Set<RootPath>();
  for (const line of text.toString('utf8').split('\n')) {
    const m = /^([0-9a-f]{32}) [ *](.+)$/.exec(line);
    if (m === null) continue;
    let p: RootPath;
    try {
      p = memberToRootPath(m[2]);
    } catch {
      continue;
    }
    if (out.has(p)) twice.add(p);
    out.set(p, m[1]);
  }
  for (const p of twice) out.delete(p);
  return out;
}
