import { OvermergeError } from '../errors';
import { fromText } from './bytes';
import type { InfoFile } from './info-files';
import { formatFileList, infoFileName, MAINTAINER_SCRIPTS } from './info-names';

/**
 * The wanted content of info/ for one change (the `after` of an InfoChange), from what is there and what
 * the package brings. Pure: the caller lists info/ and snapshots the `before`.
 */
export type InfoIndex = ReadonlyMap<string, ReadonlySet<string>>;

/** A file for info/: its bytes, and a mode (default 0755 for maintainer scripts, else 0644). */
export type InfoFileInput = Uint8Array | { readonly data: Uint8Array; readonly mode?: number };

/**
 * The control files of a package (everything but the `.list`), as dpkg's pkg_infodb_update leaves them:
 * each type of `files` under `prefix`, every other type the package had under `prefix` removed, and when
 * the layout changes (`oldPrefix`: the package was, or becomes, `Multi-Arch: same`) every file under the
 * old prefix removed, the `.list` included.
 */
export function controlFilesAfter(
  index: InfoIndex,
  prefix: string,
  oldPrefix: string | undefined,
  files: Readonly<Record<string, InfoFileInput>>,
): Record<string, InfoFile | null> {
  const after: Record<string, InfoFile | null> = {};
  for (const type of index.get(prefix) ?? []) if (type !== 'list') after[infoFileName(prefix, type)] = null;
  for (const [type, input] of Object.entries(files)) after[infoFileName(prefix, checkInfoType(type))] = infoFile(type, input);
  if (oldPrefix !== undefined && oldPrefix !== prefix) {
    for (const type of index.get(oldPrefix) ?? []) after[infoFileName(oldPrefix, type)] = null;
  }
  return after;
}

/** The `.list` of a package: one path per line (`/.`, `/usr`, `/usr/bin/hello`, ...). */
export function fileListAfter(prefix: string, paths: readonly string[]): Record<string, InfoFile> {
  const data = Buffer.from(fromText(formatFileList(paths)), 'latin1');
  return { [infoFileName(prefix, 'list')]: { mode: 0o644, base64: data.toString('base64') } };
}

/** Every info file of the package removed but the types in `keep`. */
export function removalAfter(index: InfoIndex, prefix: string, keep: readonly string[]): Record<string, null> {
  const after: Record<string, null> = {};
  for (const type of index.get(prefix) ?? []) if (!keep.includes(type)) after[infoFileName(prefix, type)] = null;
  return after;
}

/**
 * dpkg installs every control member but `control` (and refuses a `list`, which it writes itself); a
 * member with a dot or a slash in its name could not be told apart from another package's files.
 */
function checkInfoType(type: string): string {
  if (type === '' || type.includes('/') || type.includes('.') || type === 'list' || type === 'control' || type.length > 100) {
    throw new OvermergeError('E_BAD_CONTROL', `cannot install control member '${type}' as an info file`, { op: 'write dpkg database' });
  }
  return type;
}

function infoFile(type: string, input: InfoFileInput): InfoFile {
  const data = input instanceof Uint8Array ? input : input.data;
  const explicit = input instanceof Uint8Array ? undefined : input.mode;
  const mode = explicit ?? (MAINTAINER_SCRIPTS.has(type) ? 0o755 : 0o644);
  return { mode, base64: Buffer.from(data).toString('base64') };
}
