import { displayPath, type RootPath } from '../fs/rootpath';
import type { ConffileAnswer, ConffileForces, ConffileNote, ConffilePolicy, ConffileQuestion, IncomingConffile } from './plan-model';

/**
 * dpkg's conffile rules (src/main/configure.c, deferred_configure_conffile), as pure decisions: what
 * happens to a config file when a package version that ships it is configured. `current` is what the root
 * holds: nothing, or an entry with its md5 (undefined when it is not a regular file: that counts as changed
 * by the administrator). `recorded` is the md5 the package distributed when it was last configured
 * (undefined: the file is new to the package, dpkg's "newconffile"), `next` the md5 of the version being
 * configured.
 *
 * - identical: the root already holds exactly the new version;
 * - keep: nobody changed it, or only the administrator did (a deleted one included): the new one goes;
 * - install: the file is new to the package and absent (`new`), only the package changed it (`updated`),
 *   or --force-confmiss restores a deleted one (`missing`);
 * - ask: dpkg asks — both changed it, the root holds a file the package did not ship before, or
 *   --force-confask and the administrator changed it.
 */
export type ConffileVerdict =
  | { readonly kind: 'identical' | 'keep' }
  | { readonly kind: 'install'; readonly why: 'new' | 'updated' | 'missing' }
  | { readonly kind: 'ask'; readonly userEdited: boolean; readonly distEdited: boolean; readonly userDeleted: boolean; readonly isNew: boolean };

export type ConffileOnDisk = 'absent' | { md5: string | undefined };

export function conffileVerdict(current: ConffileOnDisk, recorded: string | undefined, next: string, forces: ConffileForces): ConffileVerdict {
  const currentMd5 = current === 'absent' ? undefined : current.md5;
  if (current !== 'absent' && currentMd5 === next) return { kind: 'identical' };
  if (current === 'absent' && forces.confmiss) return { kind: 'install', why: 'missing' };
  if (recorded === undefined) {
    // New to the package: installed, unless something is already there.
    if (current === 'absent') return { kind: 'install', why: 'new' };
    return { kind: 'ask', userEdited: true, distEdited: true, userDeleted: false, isNew: true };
  }
  const userEdited = current === 'absent' || currentMd5 !== recorded;
  const distEdited = next !== recorded;
  if (userEdited && (distEdited || forces.confask)) return { kind: 'ask', userEdited, distEdited, userDeleted: current === 'absent', isNew: false };
  if (distEdited) return { kind: 'install', why: 'updated' };
  return { kind: 'keep' };
}

/**
 * The answer forces give where dpkg would ask (show_prompt): --force-confdef takes the default when there
 * is one — there always is, keep — before --force-confnew, then --force-confold are looked at.
 */
export function forcedAnswer(forces: ConffileForces, dflt: ConffileAnswer): ConffileQuestion['forced'] {
  if (forces.confdef) return { answer: dflt, why: dflt === 'keep' ? 'Keeping old config file as default.' : 'Using new config file as default.' };
  if (forces.confnew) return { answer: 'install', why: 'Using new file as you requested.' };
  if (forces.confold) return { answer: 'keep', why: 'Using current old file as you requested.' };
  return undefined;
}

/**
 * What the planners do with a conffile, the verdict and any answer taken together:
 * - drop: the new version goes (identical, or kept without asking);
 * - install: the new version replaces the file (nothing kept beside it);
 * - install-backup: answered install: the current one kept as `.dpkg-old` (a deleted one: nothing),
 *   any `.dpkg-dist` removed;
 * - keep-backup: answered keep: the new version kept as `.dpkg-dist`, any `.dpkg-old` removed.
 */
export type ConffileOutcome = 'drop' | 'install' | 'install-backup' | 'keep-backup';

export interface ConffileDecision {
  readonly outcome: ConffileOutcome;
  /** Set when dpkg would ask: what to ask (or what a force answered). */
  readonly question?: ConffileQuestion;
  /** What dpkg says about it besides the prompt (ConffileNote). */
  readonly note?: ConffileNote['note'];
}

export function decideConffile(pkg: string, path: RootPath, verdict: ConffileVerdict, policy: ConffilePolicy, incoming: IncomingConffile): ConffileDecision {
  switch (verdict.kind) {
    case 'identical':
    case 'keep':
      return { outcome: 'drop' };
    case 'install':
      // dpkg says nothing of a conffile new to the package (CFO_NEW_CONFF).
      return verdict.why === 'new' ? { outcome: 'install' } : { outcome: 'install', note: verdict.why === 'missing' ? 'restoring' : 'installing' };
    case 'ask': {
      const { userEdited, distEdited, userDeleted, isNew } = verdict;
      const forced = forcedAnswer(policy.forces, 'keep');
      const question: ConffileQuestion = { pkg, path, incoming, userEdited, distEdited, userDeleted, isNew, default: 'keep', forced };
      const answer = policy.answers?.get(path) ?? forced?.answer ?? question.default;
      return answer === 'install' ? { outcome: 'install-backup', question, note: 'installing' } : { outcome: 'keep-backup', question };
    }
  }
}

/** What the user hears when their version of a conffile (or its absence) is kept against a new one. */
export function keptNotice(pkg: string, at: RootPath, deleted: boolean, dist: RootPath): string {
  return deleted
    ? `${pkg}: config file ${displayPath(at)} was deleted locally; leaving it deleted (new version installed as ${displayPath(dist)})`
    : `${pkg}: keeping locally modified config file ${displayPath(at)}; new version installed as ${displayPath(dist)}`;
}

/** What the user hears when the new version replaces theirs. */
export function replacedNotice(pkg: string, at: RootPath, old: RootPath | undefined): string {
  return old === undefined
    ? `${pkg}: installing new version of config file ${displayPath(at)}`
    : `${pkg}: installing new version of config file ${displayPath(at)} (old one kept as ${displayPath(old)})`;
}
