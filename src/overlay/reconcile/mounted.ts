import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { OvermergeError } from '../../errors';
import { MOUNTINFO } from '../layers';
import { parseMountInfo } from '../mountinfo';
import { parseOverlayOptions } from '../options';

/**
 * Reconcile changes an upper layer folder directly, which is only defined while no overlay uses it:
 * overlayfs caches what it looked up, and changing a layer under a live mount is undefined behaviour
 * (Documentation/filesystems/overlayfs.rst, "Changes to underlying filesystems"). This refuses a folder
 * that an overlay this process can see has as its upper or work folder, or among its lower ones.
 */
export function refuseIfInUse(folder: string, role: string, op: string): void {
  let text: string;
  try {
    text = readFileSync(MOUNTINFO, 'utf8');
  } catch {
    return; // no /proc: nothing to check against (an initramfs without it mounts nothing either)
  }
  for (const m of parseMountInfo(text)) {
    if (m.fsType !== 'overlay') continue;
    const { layers } = parseOverlayOptions(m.superOptions);
    const used = [layers.upper, layers.work, ...layers.lower, ...layers.data].filter((p): p is string => p !== undefined);
    if (used.some((p) => path.resolve(p) === folder)) {
      throw new OvermergeError('E_MOUNTED', `${folder} (${role}) is a layer of the overlay mounted at ${m.mountPoint}`, {
        op,
        path: folder,
        hint: `unmount ${m.mountPoint} first: reconcile works on layers no overlay is using`,
      });
    }
  }
}
