import { OvermergeError } from '../errors';
import { displayPath, parentOf, type RootPath } from '../fs/rootpath';
import type { DiskState } from '../model/disk';
import type { EntryMeta } from '../model/entry';
import type { PathStep } from './plan-model';

/** Whose changes to the root count as our own: the user overmerge runs as (and root, who can do anything). */
export interface Principal {
  uid: number;
  gid: number;
}

/**
 * Refuses a plan with a step whose path someone else could redirect while the step runs. Node has no
 * openat(2): every step names its path from the root down, and a folder on that path swapped for a
 * symlink between the probe and the step would send the step elsewhere, out of the root. Swapping
 * folder `a/b` takes write access to `a`; so every folder above a step's own folder — the root
 * included — must be changeable by nobody but root and us. (The step's own folder may be open to
 * others, /tmp say: its final component is never followed.) Folders the plan makes are judged by the
 * owner and mode the package gives them. Pure: disk states come from the probe.
 */
export function checkGuarded(steps: Iterable<PathStep>, disk: ReadonlyMap<RootPath, DiskState>, us: Principal): void {
  const made = new Map<RootPath, EntryMeta>();
  for (const s of steps) if (s.kind === 'mkdir') made.set(s.path, s.meta);
  const verdicts = new Map<RootPath, string | null>();
  const openTo = (folder: RootPath): string | null => {
    let v = verdicts.get(folder);
    if (v === undefined) {
      const m = made.get(folder);
      const d = disk.get(folder);
      v = m ? whoElseMayChange(m.uid, m.gid, m.mode, us) : d?.type === 'directory' ? whoElseMayChange(d.uid ?? 0, d.gid ?? 0, d.mode ?? 0, us) : null;
      verdicts.set(folder, v);
    }
    return v;
  };
  for (const s of steps) {
    if (s.path === '') continue;
    const folder = parentOf(s.path);
    if (folder === '') continue;
    for (let anc: RootPath = parentOf(folder); ; anc = parentOf(anc)) {
      const who = openTo(anc);
      if (who !== null) throw unguarded(s, anc, who);
      if (anc === '') break;
    }
  }
}

/** Who besides root and us may add, rename or remove entries of a folder, or null if nobody. */
function whoElseMayChange(uid: number, gid: number, mode: number, us: Principal): string | null {
  if (uid !== 0 && uid !== us.uid) return `user ${uid}, its owner,`;
  if (mode & 0o002) return 'every user';
  if (mode & 0o020 && gid !== 0 && gid !== us.gid) return `group ${gid}`;
  return null;
}

function unguarded(s: PathStep, folder: RootPath, who: string): OvermergeError {
  const what = s.kind === 'remove' || s.kind === 'rmdir' ? 'remove' : 'write';
  return new OvermergeError(
    'E_UNSAFE_PATH',
    `refusing to ${what} '${displayPath(s.path)}': ${who} may change folder '${displayPath(folder)}' above it, and could swap a folder on the way for a symlink while overmerge works`,
    { op: 'plan', path: displayPath(s.path), hint: `make '${displayPath(folder)}' writable by root only, or run as its owner` },
  );
}
