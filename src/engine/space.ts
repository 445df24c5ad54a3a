import { promises as fsp } from 'node:fs';
import { readDebData, type DebControl } from '../archive/deb';
import { OvermergeError } from '../errors';
import type { PlaceMode } from '../fs/place';
import type { Plan } from './plan-model';
import { printable } from '../control/printable';

/**
 * Space: what a transaction may write and whether the root has room for it — checked before anything is
 * staged (Installed-Size), bounded while staging (compression bombs), checked again once planned, and
 * explained after an out-of-space roll-back.
 */

/**
 * How many bytes an archive's files may add up to: dpkg computes Installed-Size (KiB) with every file
 * rounded up, so a well-formed archive stays below it; a little slack covers hand-made ones. An archive
 * without the field is bounded by the free space alone.
 */
export function expansionLimit(control: DebControl, archive: string): number | undefined {
  const field = control.fields.get('Installed-Size');
  if (field === undefined) return undefined;
  const kib = Number(field.trim());
  if (!/^\d+$/.test(field.trim()) || !Number.isSafeInteger(kib)) {
    throw new OvermergeError('E_BAD_CONTROL', `${archive}: Installed-Size '${printable(field)}' is not a number of KiB`, { op: 'read control', path: archive });
  }
  return kib * 1024 + 1024 * 1024;
}

/** Bytes available in the root's filesystem, counted as checkInstalledSize counts them; undefined when statfs fails. */
export async function freeSpace(rootHost: string): Promise<number | undefined> {
  const st = await fsp.statfs(rootHost).catch(() => undefined);
  return st ? Number(st.bavail) * Number(st.bsize) : undefined;
}

/** Refuses before staging anything when the archives declare more than the root has room for. */
export async function checkInstalledSize(rootHost: string, archives: ReadonlyArray<{ path: string; limit?: number }>): Promise<void> {
  const declared = archives.reduce<number>((sum, a) => sum + (a.limit === undefined ? 0 : a.limit - 1024 * 1024), 0);
  const st = await fsp.statfs(rootHost).catch(() => undefined);
  if (!st) return;
  const free = Number(st.bavail) * Number(st.bsize);
  if (declared > free) {
    throw new OvermergeError(
      'E_NO_SPACE',
      `not enough space in ${rootHost} for ${archives.length === 1 ? archives[0].path : `${archives.length} archives`}: Installed-Size says ${formatBytes(declared)}, ${formatBytes(free)} free; nothing was changed`,
      { op: 'check space', path: rootHost },
    );
  }
}

/**
 * Out of space: after the roll-back, say how much the transaction needed and how much there is. `archives`
 * are what an install read (their control parts); a removal has none.
 */
export async function explainNoSpace(err: OvermergeError, rootHost: string, archives: readonly DebControl[]): Promise<OvermergeError> {
  let declared = 0;
  for (const a of archives) {
    const kib = Number(a.fields.get('Installed-Size') ?? 0);
    if (Number.isFinite(kib)) declared += kib * 1024;
  }
  const st = await fsp.statfs(rootHost).catch(() => undefined);
  const free = st ? Number(st.bavail) * Number(st.bsize) : undefined;
  let needs = declared > 0 ? `; the packages need about ${formatBytes(declared)} (Installed-Size)` : '';
  if (archives.length > 0) {
    // Installed-Size can be wrong (it is what let the install start): the files themselves tell.
    const cap = Math.max(declared, free ?? 0) * 2 + 64 * 1024 * 1024;
    const files = await payloadBytes(archives.map((a) => a.path), cap);
    if (files !== undefined && files.bytes > declared) {
      const amount = `${files.more ? 'more than ' : ''}${formatBytes(files.bytes)}`;
      needs = `; the packages' files need ${amount}${declared > 0 ? ` (their Installed-Size says ${formatBytes(declared)})` : ''}`;
    }
  }
  const has = free === undefined ? '' : `, ${formatBytes(free)} free after rolling back`;
  return new OvermergeError('E_NO_SPACE', `${err.message}${needs}${has}; nothing was changed`, {
    op: err.op,
    path: err.path,
    dest: err.dest,
    errno: err.errno,
    cause: err,
  });
}

/**
 * What the regular files of `archives` add up to, by their tar headers; stops once past `cap` (a bomb
 * is not worth decompressing for an error message). Undefined if an archive cannot be read.
 */
async function payloadBytes(archives: string[], cap: number): Promise<{ bytes: number; more: boolean } | undefined> {
  let bytes = 0;
  try {
    for (const a of archives) {
      for await (const entry of readDebData(a)) {
        entry.body.resume();
        if (entry.header.type === 'file') bytes += entry.header.size;
        if (bytes > cap) return { bytes, more: true };
      }
    }
  } catch {
    return undefined;
  }
  return { bytes, more: false };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]} (${n} bytes)`;
}

/**
 * Staged files already occupy their space when staging shares the root's filesystem, and placing them by
 * rename or hard link costs nothing more; copies (copy mode, staging elsewhere) need their size again.
 */
export async function checkSpace(rootHost: string, stagingDir: string, mode: PlaceMode, plan: Plan): Promise<void> {
  const [st, rootDev, stagingDev] = await Promise.all([
    fsp.statfs(rootHost).catch(() => undefined),
    fsp.stat(rootHost).then((s) => s.dev),
    fsp.stat(stagingDir).then((s) => s.dev),
  ]);
  if (!st) return;
  const need = mode === 'copy' || rootDev !== stagingDev ? plan.bytes : 0;
  const free = Number(st.bavail) * Number(st.bsize);
  if (need > free) {
    throw new OvermergeError('E_NO_SPACE', `not enough space in ${rootHost}: need ${formatBytes(need)}, ${formatBytes(free)} available`, {
      op: 'check space',
      path: rootHost,
    });
  }
}
