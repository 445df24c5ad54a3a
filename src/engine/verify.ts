import { promises as fsp } from 'node:fs';
import type { Db } from '../db/db';
import type { FileRow, PackageRow } from '../db/types';
import { errnoOf, fsError } from '../errors';
import { displayPath, hostPath, recordedRootPath, type Root } from '../fs/rootpath';
import { md5Of } from './probe';

/** One line of `verify`: dpkg's rpm-like format, `??5?????? c /etc/x` or `missing     /usr/bin/x`. */
export interface VerifyProblem {
  package: string;
  path: string;
  conffile: boolean;
  missing: boolean;
  /** The 9 rpm attribute columns; '?' where nothing is wrong (as dpkg prints them). */
  flags: string;
}

// rpm's columns: S size, M mode, 5 digest, D device, L link, U user, G group, T mtime, P capabilities.
const COLUMN = { mode: 1, digest: 2, link: 4, user: 5, group: 6 } as const;

/** Checks every recorded file of `packages` against the root, streaming rows, one package at a time. */
export async function verifyPackages(db: Db, root: Root, packages: PackageRow[]): Promise<VerifyProblem[]> {
  const problems: VerifyProblem[] = [];
  for (const pkg of packages) {
    const rows = [...db.files.filesOf(pkg.id)];
    for (const row of rows) {
      const p = await verifyFile(root, row, process.getuid?.() === 0);
      if (p) problems.push({ ...p, package: pkg.name });
    }
  }
  return problems;
}

async function verifyFile(root: Root, row: FileRow, asRoot: boolean): Promise<Omit<VerifyProblem, 'package'> | undefined> {
  const at = recordedRootPath(row.path);
  const host = hostPath(root, at);
  const base = { path: displayPath(at), conffile: row.conffile };
  let st;
  try {
    st = await fsp.lstat(host);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return { ...base, missing: true, flags: 'missing  ' };
    throw fsError('inspect', err, host);
  }
  // An existing directory is left exactly as it was (plan.ts, as dpkg does), so its mode and owner are
  // the root's, not a difference from the package; dpkg --verify does not check directories either.
  if (row.type === 'directory') return undefined;
  const flags = '?????????'.split('');
  const fail = (col: number, letter: string) => {
    flags[col] = letter;
  };
  const isFileRow = row.type === 'file' || row.type === 'hardlink';
  if (row.type === 'symlink') {
    if (!st.isSymbolicLink()) return undefined; // a directory kept where the package ships a symlink (dpkg's rule)
    if ((await fsp.readlink(host)) !== row.linkTarget) fail(COLUMN.link, 'L');
  } else {
    if ((st.mode & 0o7777) !== row.mode) fail(COLUMN.mode, 'M');
    if (isFileRow && st.isFile() && row.md5 && (await md5Of(host)) !== row.md5) fail(COLUMN.digest, '5');
    if (isFileRow && !st.isFile()) fail(COLUMN.digest, '5');
  }
  // Without root nothing could be given the archive's owners, so owners are only checked as root.
  if (asRoot && (!st.isSymbolicLink() || row.type === 'symlink')) {
    if (st.uid !== row.uid) fail(COLUMN.user, 'U');
    if (st.gid !== row.gid) fail(COLUMN.group, 'G');
  }
  const s = flags.join('');
  return s === '?????????' ? undefined : { ...base, missing: false, flags: s };
}

export function formatProblem(p: VerifyProblem): string {
  return `${p.flags} ${p.conffile ? 'c' : ' '} ${p.path}`;
}
