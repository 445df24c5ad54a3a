import { expectOne, guarded } from './db-error';
import type { Statements } from './statements';
import type { PackageInput, PackageRow, PackageStatus } from './types';

const COLUMNS = `id, name, architecture, version, status, control, installed_size AS installedSize,
  installed_at AS installedAt, changed_at AS changedAt, txn_id AS txnId`;

export const PACKAGE_SQL = {
  byNameArch: `SELECT ${COLUMNS} FROM packages WHERE name = ? AND architecture = ?`,
  byName: `SELECT ${COLUMNS} FROM packages WHERE name = ? ORDER BY architecture`,
  byId: `SELECT ${COLUMNS} FROM packages WHERE id = ?`,
  all: `SELECT ${COLUMNS} FROM packages ORDER BY name, architecture`,
  // GLOB is the shell's wildcard syntax (* ? [...]) and case-sensitive, as package names are.
  matching: `SELECT ${COLUMNS} FROM packages WHERE name GLOB ? ORDER BY name, architecture`,
  upsert: `INSERT INTO packages (name, architecture, version, status, control, installed_size, installed_at,
      changed_at, txn_id)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (name, architecture) DO UPDATE SET
      version = excluded.version, status = excluded.status, control = excluded.control,
      installed_size = excluded.installed_size, changed_at = excluded.changed_at, txn_id = excluded.txn_id
    RETURNING id`,
  setStatus: `UPDATE packages SET status = ?, changed_at = ?, txn_id = ? WHERE id = ?`,
  delete: `DELETE FROM packages WHERE id = ?`,
  count: `SELECT count(*) AS n FROM packages`,
} as const;

/** The packages table: one row per installed (or half-installed, or config-files) name/architecture. */
export class Packages {
  constructor(private readonly s: Statements) {}

  get(name: string, architecture: string): PackageRow | undefined {
    return guarded(this.s.file, `look up package ${name}:${architecture}`, () =>
      this.s.get(PACKAGE_SQL.byNameArch).get(name, architecture) as PackageRow | undefined,
    );
  }

  /** Every architecture of `name` (one row until multi-arch arrives). */
  byName(name: string): PackageRow[] {
    return guarded(this.s.file, `look up package ${name}`, () => this.s.get(PACKAGE_SQL.byName).all(name) as PackageRow[]);
  }

  /**
   * The rows a name given on a command line selects: `name`, every architecture of it; `name:arch`, that
   * architecture only (as dpkg's package specifiers: a Debian package name never holds a colon).
   */
  named(spec: string): PackageRow[] {
    const colon = spec.indexOf(':');
    if (colon < 0) return this.byName(spec);
    const row = this.get(spec.slice(0, colon), spec.slice(colon + 1));
    return row ? [row] : [];
  }

  byId(id: number): PackageRow | undefined {
    return guarded(this.s.file, `look up package #${id}`, () => this.s.get(PACKAGE_SQL.byId).get(id) as PackageRow | undefined);
  }

  /** Packages whose name matches the shell glob `pattern` (all when omitted), by name then architecture. */
  list(pattern?: string): PackageRow[] {
    return guarded(this.s.file, 'list packages', () =>
      (pattern === undefined
        ? this.s.get(PACKAGE_SQL.all).all()
        : this.s.get(PACKAGE_SQL.matching).all(pattern)) as PackageRow[],
    );
  }

  count(): number {
    return guarded(this.s.file, 'count packages', () => (this.s.get(PACKAGE_SQL.count).get() as { n: number }).n);
  }

  /**
   * Inserts the package or replaces version, status, control and size of the existing name/architecture
   * row (its id, files and installedAt stay). Returns the row id.
   */
  upsert(p: PackageInput, txnId: number | null, now: number = Date.now()): number {
    return guarded(this.s.file, `record package ${p.name}:${p.architecture}`, () => {
      const row = this.s
        .get(PACKAGE_SQL.upsert)
        .get(p.name, p.architecture, p.version, p.status, p.control, p.installedSize ?? null, now, now, txnId) as {
        id: number;
      };
      return row.id;
    });
  }

  setStatus(id: number, status: PackageStatus, txnId: number | null, now: number = Date.now()): void {
    guarded(this.s.file, `set status of package #${id}`, () => {
      expectOne(this.s, this.s.get(PACKAGE_SQL.setStatus).run(status, now, txnId, id).changes, `package #${id}`);
    });
  }

  /** Deletes the package and, by cascade, its file rows. */
  delete(id: number): void {
    guarded(this.s.file, `delete package #${id}`, () => {
      expectOne(this.s, this.s.get(PACKAGE_SQL.delete).run(id).changes, `package #${id}`);
    });
  }
}
