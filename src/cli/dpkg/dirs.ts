/**
 * Where dpkg works, as dpkg 1.21 decides it (lib/dpkg/fsys-dir.c, dbdir.c, options-dirs.c):
 *
 * - the root ("instdir") defaults to $DPKG_ROOT, else '' (the real root); trailing '/' and '/.' are
 *   trimmed;
 * - the admin directory defaults to $DPKG_ADMINDIR, else ROOT/var/lib/dpkg with the root as it is at that
 *   moment — both read on first use, so the order of the options matters:
 * - `--root=DIR` sets the root and the admin directory DIR/var/lib/dpkg (overriding an earlier --admindir
 *   and $DPKG_ADMINDIR); `--admindir=DIR` sets the admin directory only; `--instdir=DIR` sets the root only,
 *   after fixing the admin directory from what came before (so `--instdir` never moves it).
 *
 * dpkg then exports both as DPKG_ROOT and DPKG_ADMINDIR for the programs it runs (dpkg-query for -l, -L,
 * ..., maintainer scripts, hooks).
 */
export const ADMINDIR = '/var/lib/dpkg';

export class Dirs {
  private fsys: string | undefined;
  private db: string | undefined;

  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {}

  /** The root, '' for the real one. */
  get root(): string {
    this.fsys ??= this.defaultRoot();
    return this.fsys;
  }

  get admindir(): string {
    this.db ??= this.defaultAdmindir();
    return this.db;
  }

  /** --root */
  setRoot(dir: string): void {
    this.fsys = trimSlashSlashdot(dir);
    this.db = rootPath(this.fsys, ADMINDIR);
  }

  /** --admindir */
  setAdmindir(dir: string): void {
    this.db = dir;
  }

  /** --instdir */
  setInstdir(dir: string): void {
    void this.admindir;
    this.fsys = trimSlashSlashdot(dir);
  }

  /** `PATH` in the root, as dpkg_fsys_get_path() joins them. */
  inRoot(path: string): string {
    return rootPath(this.root, path);
  }

  private defaultRoot(): string {
    const env = this.env.DPKG_ROOT;
    return env === undefined ? '' : trimSlashSlashdot(env);
  }

  private defaultAdmindir(): string {
    const env = this.env.DPKG_ADMINDIR;
    return env !== undefined ? env : rootPath(this.root, ADMINDIR);
  }
}

/** dpkg_fsys_get_path(): ROOT + '/' + PATH without its leading '/' and './'. */
export function rootPath(root: string, path: string): string {
  return `${root}/${skipSlashDotslash(path)}`;
}

/** path_trim_slash_slashdot(): trailing '/' and '/.' removed, never below one character. */
export function trimSlashSlashdot(path: string): string {
  let end = path.length - 1;
  while (end >= 1 && (path[end] === '/' || (path[end - 1] === '/' && path[end] === '.'))) end--;
  return path.slice(0, end + 1);
}

/** path_skip_slash_dotslash(): leading '/' and './' skipped. */
export function skipSlashDotslash(path: string): string {
  let i = 0;
  while (path[i] === '/' || (path[i] === '.' && path[i + 1] === '/')) i++;
  return path.slice(i);
}
