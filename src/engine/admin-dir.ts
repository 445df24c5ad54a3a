/** overmerge's administrative folder inside the root: lock, default database, staging, backups. */
export const ADMIN_DIR = 'var/lib/overmerge';
