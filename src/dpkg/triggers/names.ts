/**
 * Trigger names as dpkg 1.21 reads them (lib/dpkg/trigname.c, triglib.c trig_classify_byname).
 *
 * Two checks, made at different moments, and dpkg keeps them apart:
 * - every name in a `triggers` control file, a Triggers-Pending field or a dpkg-trigger call must be
 *   printable 7-bit ASCII without blanks (`triggerNameProblem`);
 * - the kind follows from the spelling (`triggerKind`): `/absolute/path` is a file trigger, a name spelled
 *   like a package name without `_` an explicit one, anything else "unknown". An unknown name may be
 *   activated (nothing happens) but not declared as an interest: dpkg refuses the package.
 */
export type TriggerKind = 'file' | 'explicit' | 'unknown';

/** Why dpkg refuses `name` as a trigger name (dpkg's own wording), or undefined. */
export function triggerNameProblem(name: string): string | undefined {
  if (name === '') return 'empty trigger names are not permitted';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return 'trigger name contains invalid character';
  }
  return undefined;
}

/**
 * The kind dpkg gives a (valid) trigger name. A file trigger is an absolute path without an empty
 * component or a trailing slash (`/a//b` and `/a/` are "unknown"); `.` and `..` components are allowed,
 * and matching is textual, so `/usr/./share` never matches anything dpkg unpacks.
 */
export function triggerKind(name: string): TriggerKind {
  if (name.startsWith('/')) {
    for (let i = 0; i >= 0; i = name.indexOf('/', i + 2)) {
      const next = name[i + 1];
      if (next === undefined || next === '/') return 'unknown';
    }
    return 'file';
  }
  return explicitNameOk(name) ? 'explicit' : 'unknown';
}

// pkg_name_is_illegal (alphanumeric first, then alphanumerics and `-+._`, upper case allowed) without `_`.
function explicitNameOk(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9+.-]*$/.test(name);
}
