import * as fs from 'node:fs';
import type { Reporter } from '../report';

/**
 * --recursive DIR...: every regular file whose name ends in `.deb` beneath each DIR, in the order dpkg
 * unpacks them: depth first, a directory's entries by byte order of their names, symlinks followed, a
 * directory that is one of its own ancestors (by device and inode) not entered again. DIR itself must be a
 * directory, not a symlink to one. Paths are DIR/NAME/... as dpkg prints them; names are kept as bytes
 * (latin1 strings), so a name that is not UTF-8 survives the round trip.
 *
 * One deliberate difference: after skipping such a loop dpkg hands out the entry that follows it a second
 * time (and so unpacks that archive twice); here every archive comes once.
 */
export function expandRecursive(dirs: readonly string[], report: Reporter): string[] {
  const out: string[] = [];
  for (const dir of dirs) {
    const top = statOrFail(dir, fs.lstatSync, report);
    if (!top.isDirectory()) report.fatal(`treewalk root ${dir} is not a directory`);
    collect(dir, [idOf(top)], out, report);
  }
  if (out.length === 0) report.fatal('searched, but found no packages (files matching *.deb)');
  return out;
}

/** Appends the archives under `dir` to `out`; `ancestors` holds dev:ino of `dir` and every folder above. */
function collect(dir: string, ancestors: readonly string[], out: string[], report: Reporter): void {
  let entries: fs.Dirent<Buffer>[];
  try {
    entries = fs.readdirSync(Buffer.from(dir, 'latin1'), { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    return report.fatal(`cannot open directory '${dir}': ${strerror(err)}`);
  }
  const names = entries.map((e) => ({ entry: e, name: e.name.toString('latin1') }));
  names.sort((a, b) => Buffer.compare(a.entry.name, b.entry.name));
  for (const { entry, name } of names) {
    const pathname = `${dir}/${name}`;
    // A plain file or a special file is known from its directory entry; a directory, a symlink or an
    // entry of unknown type is stat()ed, following symlinks, which is also how a broken link fails.
    if (entry.isFile()) {
      if (name.endsWith('.deb')) out.push(pathname);
      continue;
    }
    if (!entry.isDirectory() && !entry.isSymbolicLink() && knownType(entry)) continue;
    const st = statOrFail(pathname, fs.statSync, report);
    if (st.isFile()) {
      if (name.endsWith('.deb')) out.push(pathname);
    } else if (st.isDirectory() && !ancestors.includes(idOf(st))) {
      collect(pathname, [...ancestors, idOf(st)], out, report);
    }
  }
}

function idOf(st: fs.Stats): string {
  return `${st.dev}:${st.ino}`;
}

function knownType(e: fs.Dirent<Buffer>): boolean {
  return e.isFile() || e.isDirectory() || e.isSymbolicLink() || e.isFIFO() || e.isSocket() || e.isCharacterDevice() || e.isBlockDevice();
}

function statOrFail(pathname: string, how: (p: Buffer) => fs.Stats, report: Reporter): fs.Stats {
  try {
    return how(Buffer.from(pathname, 'latin1'));
  } catch (err) {
    return report.fatal(`cannot stat pathname '${pathname}': ${strerror(err)}`);
  }
}

function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const known: Record<string, string> = { ENOENT: 'No such file or directory', EACCES: 'Permission denied', ENOTDIR: 'Not a directory', ELOOP: 'Too many levels of symbolic links' };
  return (code && known[code]) ?? (err as Error).message;
}
