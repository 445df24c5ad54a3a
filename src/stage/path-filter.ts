import { compile } from '../dpkg/fnmatch';
import type { PathFilter } from '../model/path-filter';

/**
 * Whether dpkg's path filters keep a member of data.tar out of the root (dpkg's src/main/filters.c).
 *
 * The member's name (its bytes) is the tar name less its first character and any trailing '/' (`./usr/bin/x` becomes
 * `/usr/bin/x`, `./` becomes ''), as dpkg compares it; every pattern is tried in order and the last one
 * that matches decides. fnmatch runs without FNM_PATHNAME or FNM_PERIOD, so `*` crosses '/'.
 *
 * An excluded directory or symlink is kept when some include pattern's literal head (the pattern up to its
 * first `*`, `?`, `[` or `\`, trailing '/' dropped) is a prefix of its name, compared byte for byte: the
 * folders an included path needs must exist. Like dpkg this keeps more than strictly needed (the head
 * `/usr/share/doc` also keeps `/usr/share/docs`), never less.
 */
export function filteredOut(filters: readonly PathFilter[], tarName: Buffer, type: string): boolean {
  if (filters.length === 0) return false;
  const name = filterName(tarName.toString('latin1'), type);
  let skip = false;
  for (const f of filters) if (compile(bytes(f.pattern)).test(name)) skip = !f.include;
  if (!skip || (type !== 'directory' && type !== 'symlink')) return skip;
  return !filters.some((f) => f.include && name.startsWith(literalHead(bytes(f.pattern))));
}

/** The name dpkg filters on: the tar name after tar_extractor() dropped a directory's trailing '/', less its first character. */
function filterName(tarName: string, type: string): string {
  const trimmed = type === 'directory' && tarName.endsWith('/') ? tarName.slice(0, -1) : tarName;
  return trimmed.slice(1);
}

function literalHead(pattern: string): string {
  const wildcard = pattern.search(/[*?[\\]/);
  return (wildcard < 0 ? pattern : pattern.slice(0, wildcard)).replace(/\/+$/, '');
}

/** dpkg matches bytes: a pattern's UTF-8, one character per byte, as fnmatch.ts expects (and the name is). */
function bytes(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}
