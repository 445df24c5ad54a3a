import { guarded } from './db-error';
import type { Statements } from './statements';

export const DPKG_MIRROR_SQL = {
  all: `SELECT package_id AS packageId, fingerprint FROM dpkg_mirror`,
  set: `INSERT INTO dpkg_mirror (package_id, fingerprint) VALUES (?, ?)
    ON CONFLICT (package_id) DO UPDATE SET fingerprint = excluded.fingerprint`,
} as const;

/**
 * What overmerge last knew of each package's stanza in dpkg's database (a fingerprint of it), so that a
 * change made behind overmerge's back — dpkg or apt ran — shows as a differing fingerprint, and only the
 * packages that changed are read again. A row goes with its package (ON DELETE CASCADE).
 */
export class DpkgMirror {
  constructor(private readonly s: Statements) {}

  /** Fingerprint by package id. */
  fingerprints(): Map<number, string> {
    return guarded(this.s.file, "read the fingerprints of dpkg's database", () => {
      const rows = this.s.get(DPKG_MIRROR_SQL.all).all() as Array<{ packageId: number; fingerprint: string }>;
      return new Map(rows.map((r) => [r.packageId, r.fingerprint]));
    });
  }

  set(packageId: number, fingerprint: string): void {
    guarded(this.s.file, `record dpkg's stanza of package #${packageId}`, () => {
      this.s.get(DPKG_MIRROR_SQL.set).run(packageId, fingerprint);
    });
  }
}
