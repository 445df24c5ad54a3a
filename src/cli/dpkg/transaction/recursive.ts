import * as fs from 'node:fs';
import type { Reporter } from '../report';
import { fsPath } from '../report';

/**
 * --recursive DIR... (src/main/archives.c archivefiles, lib/dpkg/treewalk.c): every regular file whose
 * path ends in `.deb` beneath each DIR, symlinks followed, in dpkg's walk order — depth first, each
 * directory's entries sorted by name (strcmp), a directory entered before the entries after it — and
 * directory loops skipped. DIR itself must be a directory (not a symlink to one). Paths are DIR/NAME/...
 * as dpkg builds them. Byte strings in and out.
 */
export function expandRecursive(dirs: readonly string[], report: Reporter): string[] {
  const out: string[] = [];
  for (const dir of dirs) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(fsPath(dir));
    } catch (err) {
      return report.fatal(`cannot stat pathname '${dir}': ${strerror(err)}`);
    }
    if (!st.isDirectory()) report.fatal(`treewalk root ${dir} is not a directory`);
    walk(dir, [{ dev: st.dev, ino: st.ino }], out, report);
  }
  if (out.length === 0) report.fatal('searched, but found no packages (files matching *.deb)');
  return out;
}

function walk(dir: string, ancestors: Array<{ dev: number; ino: number }>, out: string[], report: Reporter): void {
  let names: string[];
  try {
    names = fs.readdirSync(Buffer.from(dir, 'latin1'), { encoding: 'buffer' }).map((b) => b.toString('latin1'));
  } catch (err) {
    return report.fatal(`cannot open directory '${dir}': ${strerror(err)}`);
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const path = `${dir}/${name}`;
    let st: fs.Stats;
    try {
      st = fs.statSync(Buffer.from(path, 'latin1'));
    } catch (err) {
      return report.fatal(`cannot stat pathname '${path}': ${strerror(err)}`);
    }
    if (st.isDirectory()) {
      if (ancestors.some((a) => a.dev === st.dev && a.ino === st.ino)) continue;
      walk(path, [...ancestors, { dev: st.dev, ino: st.ino }], out, report);
    } else if (st.isFile() && path.endsWith('.deb')) {
      out.push(path);
    }
  }
}

function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const known: Record<string, string> = { ENOENT: 'No such file or directory', EACCES: 'Permission denied', ENOTDIR: 'Not a directory', ELOOP: 'Too many levels of symbolic links' };
  return (code && known[code]) ?? (err as Error).message;
}
