/** The fields whose package names dpkg's parser looks up (and so makes package sets for) as it reads them. */
export const RELATION_FIELDS: ReadonlySet<string> = new Set([
  'replaces',
  'provides',
  'depends',
  'pre-depends',
  'recommends',
  'suggests',
  'breaks',
  'conflicts',
  'enhances',
  'recommended',
  'optional',
]);

/** The package names of a relation field's value, in the order written. */
export function relationNames(value: string): string[] {
  const out: string[] = [];
  for (const group of value.split(',')) {
    for (const alt of group.split('|')) {
      const m = /^[\t\n\v\f\r ]*([^\t\n\v\f\r (:[<]+)/.exec(alt);
      if (m) out.push(m[1]);
    }
  }
  return out;
}
