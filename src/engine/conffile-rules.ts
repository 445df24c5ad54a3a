import { displayPath, type RootPath } from '../fs/rootpath';
import type { ConffilePolicy } from './plan-model';

/**
 * dpkg's conffile rules (configure.c), as one pure decision: what happens to a config file when a package
 * version that ships it is configured. `current` is what the root holds: nothing, or an entry with its
 * md5 (undefined when it is not a regular file: that counts as changed by the administrator). `recorded`
 * is the md5 the package distributed when it was last configured (undefined: the file is new to the
 * package, dpkg's "newconffile"), `next` the md5 of the version being configured.
 *
 * dpkg asks when both the administrator and the package changed the file; overmerge never prompts and
 * answers as `--force-confold` does unless `--force-confnew` is given:
 * - install: put the new version in place (the file is new, or only the package changed it);
 * - identical: the root already holds exactly the new version;
 * - keep: only the administrator changed it (a deleted one included), or nobody did;
 * - keep-dist: both changed it: keep the administrator's (or its absence), the new version beside it as
 *   `.dpkg-dist`;
 * - replace-keep-old: both changed it and --force-confnew asks for the new one: the administrator's is
 *   kept as `.dpkg-old` (a deleted one: just installed).
 */
export type ConffileAction = 'install' | 'identical' | 'keep' | 'keep-dist' | 'replace-keep-old';

export type ConffileOnDisk = 'absent' | { md5: string | undefined };

export function conffileAction(current: ConffileOnDisk, recorded: string | undefined, next: string, policy: ConffilePolicy): ConffileAction {
  const currentMd5 = current === 'absent' ? undefined : current.md5;
  if (current !== 'absent' && currentMd5 === next) return 'identical';
  if (recorded === undefined) {
    // New to the package: installed, unless something is already there.
    if (current === 'absent') return 'install';
    return policy === 'new' ? 'replace-keep-old' : 'keep-dist';
  }
  const userEdited = current === 'absent' || currentMd5 !== recorded;
  const distEdited = next !== recorded;
  if (!distEdited) return 'keep';
  if (!userEdited) return 'install';
  if (policy === 'new') return current === 'absent' ? 'install' : 'replace-keep-old';
  return 'keep-dist';
}

/** What the user hears when their version of a conffile (or its absence) is kept against a new one. */
export function keptNotice(pkg: string, at: RootPath, deleted: boolean, dist: RootPath): string {
  return deleted
    ? `${pkg}: config file ${displayPath(at)} was deleted locally; leaving it deleted (new version installed as ${displayPath(dist)})`
    : `${pkg}: keeping locally modified config file ${displayPath(at)}; new version installed as ${displayPath(dist)}`;
}
