import { readDebControls, type ControlCache } from '../../archive/control-reads';
import type { DebControl } from '../../archive/deb';
import { checkInstalledSize, expansionLimit } from '../space';

/** An archive whose control part has been read and checked, and what its data may add up to. */
export interface ReadArchive {
  /** The archive as the user named it (messages quote it so). */
  path: string;
  control: DebControl;
  /** Bytes its files may add up to (from Installed-Size), or undefined when it declares none. */
  limit?: number;
}

/**
 * The read phase: every archive's control part, once (staging and the space messages use it from here;
 * `cache`: not even that, for an archive this process read before).
 * A broken archive, or a set that cannot fit by its own Installed-Size, is refused before anything is
 * recorded.
 */
export async function readArchives(rootHost: string, archives: readonly string[], cache?: ControlCache): Promise<ReadArchive[]> {
  const controls = await readDebControls(archives, cache);
  const out = controls.map((control, i): ReadArchive => ({ path: archives[i], control, limit: expansionLimit(control, archives[i]) }));
  await checkInstalledSize(rootHost, out);
  return out;
}
