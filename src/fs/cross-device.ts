import { hostDirOf, type HostPath } from './host-path';

/**
 * Pairs of folders between which a rename or link failed with EXDEV (staging on another filesystem than
 * the target: a `--staging` on tmpfs, a root with its own mounts), so that the next placement between
 * them copies at once instead of failing the same call again first. Issue 14 asked for it, after pnpm's
 * importer, which remembers whether links or clones work: staging on tmpfs cost every placed file two
 * failing renames (placeFile's direct one, then place's to the temporary).
 *
 * Kept by folder, not by device, so that no stat is needed to ask: the folders of one transaction are
 * few beside its files. A pair stays remembered for the transaction: were a mount to change under it,
 * the file would be copied where a rename might have done, which every mode allows (rename and hardlink
 * fall back to copy on EXDEV anyway).
 */
export class CrossDevicePairs {
  private readonly pairs = new Set<string>();

  /** Whether a rename from `from`'s folder into `to`'s failed with EXDEV before (nothing is made to ask while none did). */
  has(from: HostPath, to: HostPath): boolean {
    return this.pairs.size > 0 && this.pairs.has(key(from, to));
  }

  /** Remembers that a rename or link from `from` to `to` failed with EXDEV. */
  remember(from: HostPath, to: HostPath): void {
    this.pairs.add(key(from, to));
  }
}

// NUL never occurs in a path, so no two pairs share a key.
const key = (from: HostPath, to: HostPath): string => `${hostDirOf(from)}\0${hostDirOf(to)}`;
