import type { Writer } from '../engine/context';
import { OvermergeError } from '../errors';
import { clampTimes, makeIfAbsent, removeFileIfContent, removeLinkToEmptyDir } from '../fs/fresh-entries';
import { displayRootPath, parseRootPath, type Root } from '../fs/rootpath';
import { optionalMergedLinks, POLICY_RC_D, skeleton, type SkeletonOptions } from './skeleton';

/**
 * The bootstrap's own changes to the root, besides the packages: the skeleton before them, policy-rc.d
 * around the scripts, the tidying after them. Each makes only what is missing and takes back only what is
 * its own, so that running it again after a crash finishes it.
 */

/**
 * Makes the skeleton's missing entries. One that is there must be what the skeleton wants it to be
 * (`bin` a link to usr/bin, `var/lib/dpkg` a folder, ...): a root where it is something else was not made
 * by a bootstrap, and installing into it would not give merged /usr.
 */
export async function layOutRoot(root: Root, o: SkeletonOptions & { mtime: number }): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  for (const e of skeleton(o)) {
    const spec = e.kind === 'file' ? { kind: e.kind, mode: e.mode, content: e.content } : e;
    const out = await makeIfAbsent(root, e.path, spec, { mtime: o.mtime, asRoot });
    if (out.made) continue;
    const ok =
      e.kind === 'dir'
        ? out.found.isDirectory()
        : e.kind === 'symlink'
          ? out.found.isSymbolicLink() && out.target === e.target
          : e.kind === 'char'
            ? out.found.isCharacterDevice()
            : out.found.isFile();
    if (!ok) {
      const want = e.kind === 'symlink' ? `a symlink to ${e.target}` : e.kind === 'dir' ? 'a folder' : e.kind === 'char' ? 'a device node' : 'a file';
      throw new OvermergeError('E_STATE', `${root.host}: ${displayRootPath(e.path)} is not ${want}, as the bootstrap laid it out`, {
        op: 'bootstrap',
        path: displayRootPath(e.path),
        hint: 'bootstrap into an empty folder',
      });
    }
  }
}

/** Runs `fn` with policy-rc.d in place (invoke-rc.d then starts no daemon), and takes it away after. */
export async function withPolicyRcD<T>(root: Root, mtime: number, fn: () => Promise<T>): Promise<T> {
  await makeIfAbsent(root, POLICY_RC_D.path, { kind: 'file', mode: POLICY_RC_D.mode, content: POLICY_RC_D.content }, { mtime, asRoot: process.getuid?.() === 0 });
  try {
    return await fn();
  } finally {
    await removeFileIfContent(root, POLICY_RC_D.path, POLICY_RC_D.content);
  }
}

/**
 * The multilib links (lib32, libx32, ...) whose folder stayed empty and that no package owns go, as they
 * would never have been made by debootstrap's merge, which links only the folders the packages ship.
 */
export async function dropUnusedLinks(w: Writer, root: Root): Promise<void> {
  for (const link of optionalMergedLinks()) {
    const dir = parseRootPath(`usr/${link}`);
    if (w.db.files.ownersOf(dir).length > 0 || w.db.files.ownersOf(link).length > 0) continue;
    await removeLinkToEmptyDir(root, link, dir, `usr/${link}`);
  }
}

/** With SOURCE_DATE_EPOCH: everything touched since the bootstrap began gets that time. */
export async function clampToEpoch(root: Root, since: number, epoch: number): Promise<number> {
  return clampTimes(root, since, epoch, []);
}
