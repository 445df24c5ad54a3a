import { readDebControl, type DebControl } from '../../archive/deb';
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
 * The read phase: every archive's control part, once (staging and the space messages use it from here).
 * A broken archive, or a set that cannot fit by its own Installed-Size, is refused before anything is
 * recorded.
 */
export async function readArchives(rootHost: string, archives: readonly string[]): Promise<ReadArchive[]> {
  const out: ReadArchive[] = [];
  for (const a of archives) {
    const control = await readDebControl(a);
    out.push({ path: a, control, limit: expansionLimit(control, a) });
  }
  await checkInstalledSize(rootHost, out);
  return out;
}
