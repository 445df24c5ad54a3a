import { toText, type ByteString } from '../../dpkg/bytes';
import type { PkgEntry } from '../../dpkg/model';
import { PackageTable } from '../../dpkg/package-table';
import { formatStatus } from '../../dpkg/status-file';
import { dpkgKey, type DpkgFacts } from './facts';

/**
 * dpkg's status file after a reconcile, as dpkg would write it: the new image's stanzas, each replaced by
 * the upper layer's where the package is kept, without those of packages that go. Pure.
 */
export function dpkgStatusAfter(d: DpkgFacts, rows: ReadonlyMap<string, 'image' | 'upper' | 'none'>): { text: ByteString; kept: string[]; dropped: string[] } {
  const table = new PackageTable(d.nativeArch);
  const key = (e: PkgEntry): string => dpkgKey(toText(e.name), toText(e.arch));
  for (const e of d.imageStatus) if (rows.get(key(e)) !== 'upper') table.apply(e, 'status');
  const kept: string[] = [];
  const dropped: string[] = [];
  const image = new Set(d.imageStatus.map(key));
  for (const e of d.upperStatus) {
    const k = key(e);
    if (rows.get(k) === 'upper') {
      const old = table.get(e.name, e.arch);
      if (old) table.delete(e.name, e.arch);
      table.apply(e, 'status');
      kept.push(k);
    } else if (!image.has(k) && e.status.state !== 'not-installed') {
      dropped.push(k);
    }
  }
  return { text: formatStatus(table), kept, dropped };
}
