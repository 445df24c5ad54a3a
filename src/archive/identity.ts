import { statSync } from 'node:fs';

/**
 * An archive file's identity: its device, inode, size, mtime and change time. The same identity later
 * means the same file, unchanged — a rewrite, a touch or a replacement by rename changes one of them.
 * Undefined when it cannot be looked at (whoever reads it next says why). Taken before a read, so that a
 * change made during the read shows as a different identity next time.
 */
export function archiveIdentity(archive: string): string | undefined {
  const st = statSync(archive, { bigint: true, throwIfNoEntry: false });
  return st && `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}
