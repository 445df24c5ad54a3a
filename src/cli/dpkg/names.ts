/**
 * dpkg's checks of the names given on its command line, with its words (lib/dpkg/parsehelp.c
 * pkg_name_is_illegal, arch.c dpkg_arch_name_is_illegal, triglib.c trig_name_is_illegal). A leaf module:
 * the option table needs these, and every run loads the option table. (src/dpkg/field-readers.ts applies
 * the same package-name rule to the database.)
 */

/** pkg_name_is_illegal(): an ASCII letter or digit first, then letters, digits and `-+._`. */
export function packageNameProblem(name: string): string | undefined {
  if (name === '') return 'may not be empty string';
  if (!isAlnum(name[0])) return 'must start with an alphanumeric character';
  for (const c of name) if (!isAlnum(c) && !'-+._'.includes(c)) return `character '${c}' not allowed (only letters, digits and characters '-+._')`;
  return undefined;
}

/** dpkg_arch_name_is_illegal(): an ASCII letter or digit first, then letters, digits and `-`. */
export function archNameProblem(name: string): string | undefined {
  if (name === '') return 'may not be empty string';
  if (!isAlnum(name[0])) return 'must start with an alphanumeric';
  for (const c of name.slice(1)) if (!isAlnum(c) && c !== '-') return `character '${c}' not allowed (only letters, digits and characters '-')`;
  return undefined;
}

/** trig_name_is_illegal(): not empty, printable ASCII without blanks. */
export function triggerNameProblem(name: string): string | undefined {
  if (name === '') return 'empty trigger names are not permitted';
  for (const c of name) {
    const code = c.charCodeAt(0);
    if (code <= 0x20 || code >= 0x7f) return 'trigger name contains invalid character';
  }
  return undefined;
}

function isAlnum(c: string): boolean {
  return /^[A-Za-z0-9]$/.test(c);
}
