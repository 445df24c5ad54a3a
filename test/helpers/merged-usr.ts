import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/** The top-level directories a merged-/usr root (debootstrap's default since bookworm) has as symlinks. */
export const MERGED_USR_DIRS = ['bin', 'sbin', 'lib', 'lib64'] as const;

/** Makes `root` a merged-/usr root: usr/D directories and D → usr/D symlinks. Returns the symlinks made. */
export async function makeMergedUsr(root: string): Promise<string[]> {
  for (const d of MERGED_USR_DIRS) {
    await fsp.mkdir(path.join(root, 'usr', d), { recursive: true, mode: 0o755 });
    await fsp.chmod(path.join(root, 'usr', d), 0o755);
    await fsp.symlink(`usr/${d}`, path.join(root, d));
  }
  await fsp.chmod(path.join(root, 'usr'), 0o755);
  return [...MERGED_USR_DIRS];
}
