import { mapLimited } from '../map-limited';
import { readDebControl, type DebControl } from './deb';
import { archiveIdentity } from './identity';

/**
 * Control parts read once per process: a bootstrap reads its whole set's to order it, and each of its
 * transactions (the extraction, the Essential set's install, the rest) needs its own archives' again —
 * about 2.5 ms of the main thread an archive, each time it is read. An archive is read again when its
 * file is not the one read before (archiveIdentity: written, touched or replaced since).
 */
export class ControlCache {
  private readonly read = new Map<string, { identity: string; control: DebControl }>();

  async get(archive: string): Promise<DebControl> {
    const identity = archiveIdentity(archive);
    const known = this.read.get(archive);
    if (identity !== undefined && known?.identity === identity) return known.control;
    // Unknown, changed, or not there to stat: the read says what is wrong with it, as without a cache.
    const control = await readDebControl(archive);
    if (identity !== undefined) this.read.set(archive, { identity, control });
    return control;
  }
}

/** How many archives are read at once: each read waits on the disk and on its control.tar's decoder in turn. */
const READ_AT_ONCE = 4;

/**
 * The control parts of `archives`, in their order, a few read at once (through `cache` when given). A
 * failure is reported as a one-by-one read would report it: the first failing archive in the given order.
 */
export async function readDebControls(archives: readonly string[], cache?: ControlCache): Promise<DebControl[]> {
  const read = await mapLimited(archives, READ_AT_ONCE, (a) =>
    (cache ? cache.get(a) : readDebControl(a)).then(
      (control) => ({ control }),
      (err: unknown) => ({ err }),
    ),
  );
  return read.map((r) => {
    if ('err' in r) throw r.err;
    return r.control;
  });
}
