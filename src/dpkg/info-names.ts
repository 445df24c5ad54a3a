import type { ByteString } from './bytes';
import type { MultiArch } from './model';

/**
 * How dpkg names the files of `info/` (lib/dpkg/db-ctrl-format.c pkg_infodb_get_file, db-ctrl-access.c
 * pkg_infodb_foreach) and reads a `.list` (db-fsys-files.c). Pure.
 *
 * `info/PKG.TYPE`, where PKG is the package name, or `name:arch` when the package is `Multi-Arch: same`
 * AND the info database is in the multiarch format (`info/format` says 1). A database without
 * `info/format` is in the legacy format 0, where even `Multi-Arch: same` packages use the bare name; dpkg
 * converts it (hard links to the new names, then `format`) the first time it opens the database for
 * writing. While `info/format-new` exists, a conversion was interrupted: readers take the format as one
 * higher, as dpkg does.
 */
export const INFO_FORMAT_LEGACY = 0;
export const INFO_FORMAT_MULTIARCH = 1;

/** The control members a package may ship that dpkg runs as programs. */
export const MAINTAINER_SCRIPTS = new Set(['preinst', 'postinst', 'prerm', 'postrm', 'config']);

/** What names one package instance's info files. */
export interface InfoOwner {
  readonly name: string;
  readonly arch: string;
  readonly multiArch: MultiArch;
}

/** The part of an info file's name before the last dot. */
export function infoPrefix(owner: InfoOwner, format: number): string {
  return owner.multiArch === 'same' && format === INFO_FORMAT_MULTIARCH ? `${owner.name}:${owner.arch}` : owner.name;
}

/** `prefix.type`. */
export function infoFileName(prefix: string, type: string): string {
  return `${prefix}.${type}`;
}

/** Splits a file name of info/ as pkg_infodb_foreach does: dot files and names without a dot are not info files. */
export function splitInfoName(name: string): { prefix: string; type: string } | undefined {
  if (name.startsWith('.')) return undefined;
  const dot = name.lastIndexOf('.');
  if (dot < 0) return undefined;
  return { prefix: name.slice(0, dot), type: name.slice(dot + 1) };
}

/** Reads `info/format`'s text as dpkg's fscanf("%u") does; undefined when it holds no number. */
export function parseInfoFormat(text: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*\+?([0-9]+)/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * The paths of a `.list` file, as dpkg reads them: one per line, every line ending in a newline, one
 * trailing '/' dropped, no empty names. Throws a plain Error with dpkg's wording.
 */
export function parseFileList(text: ByteString): ByteString[] {
  const out: ByteString[] = [];
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) throw new Error('files list file is missing final newline');
    let end = nl;
    if (end > pos && text.charCodeAt(end - 1) === 0x2f) end--;
    if (end === pos) throw new Error('files list file contains empty filename');
    out.push(text.slice(pos, end) as ByteString);
    pos = nl + 1;
  }
  return out;
}

/** A `.list` file's text for `paths`, one per line. */
export function formatFileList(paths: readonly string[]): string {
  return paths.map((p) => `${p}\n`).join('');
}
