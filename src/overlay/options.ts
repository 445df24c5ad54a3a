import { octalEscapeAt, unescapeOctal, type RawOption } from './mountinfo';

/**
 * An overlay mount's layers and features from its super options in mountinfo. Pure.
 *
 * The kernel prints a feature only when it differs from the module's default (fs/overlayfs/params.c,
 * ovl_show_options), so an absent feature has the module default, and `source` says which of the two a value
 * is. The defaults come from /sys/module/overlay/parameters (read by layers.ts) or, where that cannot be
 * read, the upstream Kconfig defaults. Features are printed after the kernel resolved their dependencies
 * (metacopy turns redirect_dir on, nfs_export turns index on, userxattr turns redirect_dir and metacopy
 * off), so a printed or defaulted value is the one in force: nothing is resolved again here.
 */

/** `off` as a mount option means follow or nofollow (by the module's redirect_always_follow); it is resolved. */
export type RedirectDir = 'on' | 'follow' | 'nofollow';
export type Xino = 'on' | 'off' | 'auto';
export type UuidMode = 'on' | 'off' | 'null' | 'auto';
export type Verity = 'off' | 'on' | 'require';
/** Linux 6.18 prints `volatile` as `fsync=volatile`; `auto` is the default, `strict` syncs more. */
export type Fsync = 'auto' | 'strict' | 'volatile';

export type SettingSource = 'mountinfo' | 'default';

export interface Setting<T> {
  value: T;
  source: SettingSource;
}

export interface OverlayFeatures {
  redirectDir: Setting<RedirectDir>;
  index: Setting<boolean>;
  metacopy: Setting<boolean>;
  nfsExport: Setting<boolean>;
  /**
   * As printed or defaulted. The kernel never prints xino when all layers are on one filesystem: inode
   * numbers are then the layers' own whatever the option says (layers.ts reports `sameFilesystem`).
   */
  xino: Setting<Xino>;
  uuid: Setting<UuidMode>;
  verity: Setting<Verity>;
  /** No sync reaches the upper filesystem (`volatile`, or `fsync=volatile`). */
  volatile: Setting<boolean>;
  fsync: Setting<Fsync>;
  userxattr: Setting<boolean>;
  defaultPermissions: Setting<boolean>;
}

export interface OverlayLayers {
  /** Lower layers whose names appear in the merged view, topmost first. */
  lower: string[];
  /** Data-only lower layers (`::dir` or `datadir+`): only a metacopy file's redirect reaches into them. */
  data: string[];
  /** Absent on a read-only overlay made of lower layers only. */
  upper?: string;
  work?: string;
}

export interface OverlayOptions {
  layers: OverlayLayers;
  features: OverlayFeatures;
  /** The superblock is read-only (`ro`), or there is no upper layer to write to. */
  readOnly: boolean;
  /** Options this parser does not know (a newer kernel's), as printed. */
  unknown: string[];
}

/** The overlay module's defaults: /sys/module/overlay/parameters, each built from a CONFIG_OVERLAY_FS_* option. */
export interface ModuleDefaults {
  redirectDir: boolean;
  redirectAlwaysFollow: boolean;
  index: boolean;
  nfsExport: boolean;
  metacopy: boolean;
  xinoAuto: boolean;
}

/** The defaults of the upstream Kconfig: everything off except following redirects. */
export const KCONFIG_DEFAULTS: Readonly<ModuleDefaults> = Object.freeze({
  redirectDir: false,
  redirectAlwaysFollow: true,
  index: false,
  nfsExport: false,
  metacopy: false,
  xinoAuto: false,
});

const PARAMETER_FILES: Record<keyof ModuleDefaults, string> = {
  redirectDir: 'redirect_dir',
  redirectAlwaysFollow: 'redirect_always_follow',
  index: 'index',
  nfsExport: 'nfs_export',
  metacopy: 'metacopy',
  xinoAuto: 'xino_auto',
};

/** The file names under /sys/module/overlay/parameters that moduleDefaults reads. */
export const MODULE_PARAMETER_FILES: readonly string[] = Object.values(PARAMETER_FILES);

/** Module defaults from the parameter files' contents (`Y`/`N`), by file name; a missing one keeps Kconfig's. */
export function moduleDefaults(files: Readonly<Record<string, string | undefined>>): ModuleDefaults {
  const out = { ...KCONFIG_DEFAULTS };
  for (const [key, file] of Object.entries(PARAMETER_FILES) as Array<[keyof ModuleDefaults, string]>) {
    const v = files[file]?.trim();
    if (v === 'Y' || v === '1') out[key] = true;
    else if (v === 'N' || v === '0') out[key] = false;
  }
  return out;
}

function defaultFeatures(d: ModuleDefaults): OverlayFeatures {
  const dflt = <T>(value: T): Setting<T> => ({ value, source: 'default' });
  return {
    redirectDir: dflt<RedirectDir>(d.redirectDir ? 'on' : d.redirectAlwaysFollow ? 'follow' : 'nofollow'),
    index: dflt(d.index),
    metacopy: dflt(d.metacopy),
    nfsExport: dflt(d.nfsExport),
    xino: dflt<Xino>(d.xinoAuto ? 'auto' : 'off'),
    uuid: dflt<UuidMode>('auto'),
    verity: dflt<Verity>('off'),
    volatile: dflt(false),
    fsync: dflt<Fsync>('auto'),
    userxattr: dflt(false),
    defaultPermissions: dflt(false),
  };
}

/** Parses an overlay mount's super options (RawOption values still escaped, as mountContaining returns them). */
export function parseOverlayOptions(options: readonly RawOption[], defaults: ModuleDefaults = KCONFIG_DEFAULTS): OverlayOptions {
  const layers: OverlayLayers = { lower: [], data: [] };
  const features = defaultFeatures(defaults);
  const unknown: string[] = [];
  let readOnly = false;
  const shown = <T>(value: T): Setting<T> => ({ value, source: 'mountinfo' });
  for (const { key, value } of options) {
    const known = ((): boolean => {
      switch (key) {
        case 'ro':
          readOnly = true;
          return value === undefined;
        case 'rw':
          return value === undefined;
        case 'lowerdir': {
          // A legacy `lowerdir=` replaces any layers before it, as in the kernel's parser.
          const split = splitLowerdir(value ?? '');
          layers.lower = split.lower;
          layers.data = split.data;
          return true;
        }
        case 'lowerdir+':
          layers.lower.push(unescapeOctal(value ?? ''));
          return true;
        case 'datadir+':
          layers.data.push(unescapeOctal(value ?? ''));
          return true;
        case 'upperdir':
          layers.upper = unescapeOverlay(unescapeOctal(value ?? ''));
          return true;
        case 'workdir':
          layers.work = unescapeOverlay(unescapeOctal(value ?? ''));
          return true;
        case 'default_permissions':
          features.defaultPermissions = shown(true);
          return value === undefined;
        case 'volatile':
          features.volatile = shown(true);
          features.fsync = shown<Fsync>('volatile');
          return value === undefined;
        case 'fsync':
          if (value !== 'auto' && value !== 'strict' && value !== 'volatile') return false;
          features.fsync = shown(value);
          features.volatile = shown(value === 'volatile');
          return true;
        case 'userxattr':
          features.userxattr = shown(true);
          return value === undefined;
        case 'redirect_dir': {
          const v = value === 'off' ? (defaults.redirectAlwaysFollow ? 'follow' : 'nofollow') : value;
          if (v !== 'on' && v !== 'follow' && v !== 'nofollow') return false;
          features.redirectDir = shown(v);
          return true;
        }
        case 'index':
        case 'metacopy':
        case 'nfs_export': {
          if (value !== 'on' && value !== 'off') return false;
          features[key === 'nfs_export' ? 'nfsExport' : key] = shown(value === 'on');
          return true;
        }
        case 'xino':
          if (value !== 'on' && value !== 'off' && value !== 'auto') return false;
          features.xino = shown(value);
          return true;
        case 'uuid':
          if (value !== 'on' && value !== 'off' && value !== 'null' && value !== 'auto') return false;
          features.uuid = shown(value);
          return true;
        case 'verity':
          if (value !== 'on' && value !== 'off' && value !== 'require') return false;
          features.verity = shown(value);
          return true;
        default:
          return false;
      }
    })();
    if (!known) unknown.push(value === undefined ? key : `${key}=${value}`);
  }
  return { layers, features, readOnly: readOnly || layers.upper === undefined, unknown };
}

/**
 * Splits a printed `lowerdir=` value into layer folders. Since 6.5 the kernel prints the string the mount
 * was given, in which overlayfs' own escapes (`\:` for a colon in a name, `\\` for a backslash, `\,`) are
 * themselves escaped by mountinfo (`\134:`); older kernels printed it raw (`\:`). `:` separates layers and
 * `::` puts the layers after it into the data-only group. A colon that reaches mountinfo as `\072` (kernels
 * that escaped each layer name on its own) is part of a name, never a separator.
 */
export function splitLowerdir(raw: string): { lower: string[]; data: string[] } {
  const lower: string[] = [];
  const data: string[] = [];
  let inData = false;
  let piece = '';
  const finish = (): void => {
    (inData ? data : lower).push(unescapeOverlay(unescapeOctal(piece)));
    piece = '';
  };
  for (let i = 0; i < raw.length; ) {
    const unit = unitAt(raw, i);
    if (unit === ':') {
      finish();
      if (raw[i + 1] === ':') {
        inData = true;
        i += 2;
      } else {
        i += 1;
      }
      continue;
    }
    piece += unit;
    i += unit.length;
    if (unit === '\\134' || unit === '\\') {
      // overlayfs' escape character: whatever follows is part of the name, a colon included.
      if (i < raw.length) {
        const next = unitAt(raw, i);
        piece += next;
        i += next.length;
      }
    }
  }
  if (raw !== '') finish();
  return { lower, data };
}

/** The printed unit at `i`: an octal escape (four characters) or one character. */
function unitAt(s: string, i: number): string {
  return octalEscapeAt(s, i) ? s.slice(i, i + 4) : s[i];
}

/** overlayfs' ovl_unescape: a backslash is dropped and the character after it kept, whatever it is. */
export function unescapeOverlay(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') i++;
    if (i < s.length) out += s[i];
  }
  return out;
}

/** The namespace overlayfs keeps its own attributes in: `user.overlay.` with userxattr. */
export function xattrPrefix(features: Pick<OverlayFeatures, 'userxattr'>): string {
  return features.userxattr.value ? 'user.overlay.' : 'trusted.overlay.';
}

/** Whether lookups follow `overlay.redirect` attributes (redirect_dir=on or follow). */
export function followsRedirects(features: Pick<OverlayFeatures, 'redirectDir'>): boolean {
  return features.redirectDir.value !== 'nofollow';
}

/**
 * Whether renaming a directory that is not purely upper works (the directory is copied up and a redirect
 * recorded) instead of failing with EXDEV, which is what sends overmerge's move-aside to its copy fallback.
 */
export function renamesLowerDirectories(features: Pick<OverlayFeatures, 'redirectDir'>): boolean {
  return features.redirectDir.value === 'on';
}
