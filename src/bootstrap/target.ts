import { lstatSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { nativeArchOf } from '../dpkg/native-arch';
import { errnoOf, fsError, OvermergeError } from '../errors';
import { makeRootFolder } from '../fs/fresh-entries';
import { openRoot, type Root } from '../fs/rootpath';
import { readMarker, type Marker } from './marker';

/** The folder a bootstrap works in, and the note of the bootstrap it continues, if it continues one. */
export interface Target {
  root: Root;
  marker?: Marker;
}

/** Names a freshly made filesystem has at its top, which do not make a folder "not empty" (mmdebstrap's rule). */
const IGNORED = new Set(['lost+found']);

/**
 * Checks everything about the destination before anything is written: who may run the scripts, the
 * architecture, and the folder — missing (made here, its parent must exist), empty, or holding a bootstrap
 * of the same set in progress. Anything else is refused with one line, the folder untouched.
 */
export async function prepareTarget(dir: string, identity: string[], o: { scripts: 'chroot' | 'chrootless'; arch: string }): Promise<Target> {
  if (o.scripts === 'chroot') {
    if (process.getuid?.() !== 0) {
      throw new OvermergeError('E_SCRIPT_REFUSED', 'bootstrap runs the maintainer scripts in a chroot of the new root, which only root can do', {
        op: 'bootstrap',
        hint: 'run it as root, or pass --scripts=chrootless (for package sets whose scripts honour DPKG_ROOT)',
      });
    }
    const host = nativeArchOf();
    if (o.arch !== host) {
      throw new OvermergeError('E_SCRIPT_REFUSED', `the archives are for ${o.arch}; their maintainer scripts cannot run in a chroot on this ${host} machine`, {
        op: 'bootstrap',
        hint: 'bootstrap on a machine of that architecture, or pass --scripts=chrootless',
      });
    }
  }
  const absolute = path.resolve(dir);
  const st = lstatOrUndefined(absolute);
  if (st === undefined) {
    const parent = lstatOrUndefined(path.dirname(absolute));
    if (!parent?.isDirectory()) {
      throw new OvermergeError('E_FS', `cannot make ${absolute}: its parent folder does not exist`, { op: 'bootstrap', path: absolute, errno: 'ENOENT' });
    }
    makeRootFolder(absolute);
    return { root: await openRoot(absolute) };
  }
  const root = await openRoot(absolute);
  const names = entriesOf(root.host).filter((n) => !IGNORED.has(n));
  if (names.length === 0) return { root };
  const marker = readMarker(root);
  if (marker === undefined) {
    throw new OvermergeError('E_STATE', `${root.host} is not empty, and holds no bootstrap in progress`, {
      op: 'bootstrap',
      path: root.host,
      hint: 'bootstrap into an empty (or new) folder',
    });
  }
  if (marker.set.join('\n') !== identity.join('\n')) {
    throw new OvermergeError('E_STATE', `${root.host} holds an unfinished bootstrap of another package set`, {
      op: 'bootstrap',
      path: root.host,
      hint: 'give the archives it was started with, or start again in an empty folder',
    });
  }
  return { root, marker };
}

function lstatOrUndefined(p: string) {
  try {
    return lstatSync(p, { throwIfNoEntry: false });
  } catch (err) {
    if (errnoOf(err) === 'ENOTDIR') return undefined;
    throw fsError('inspect', err, p);
  }
}

function entriesOf(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    throw fsError('read directory', err, dir);
  }
}
