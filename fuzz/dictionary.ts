/**
 * Words the structure-aware mutators write into names, link targets and header fields: the ones a hostile
 * archive would use. Everything that points "outside the root" points at `outside` — the install check's
 * canary folder — so an escape changes a canary instead of the host, and shows up in its snapshot. The
 * decoy names match the symlinks test/hostile/harness.ts plants in its roots.
 */
export interface Outside {
  /** An absolute folder outside the root (the canary). */
  abs: string;
  /** Its name, reached from inside the root by climbing `..` components. */
  relName: string;
}

/** For in-process targets nothing is written, but the words should still look like an attack. */
export const NOWHERE: Outside = { abs: '/nonexistent-overmerge-fuzz-canary', relName: 'canary' };

export interface Dictionary {
  names: string[];
  linkTargets: string[];
  hardlinkTargets: string[];
}

export function dictionary(outside: Outside): Dictionary {
  const climb = (n: number, rest: string): string => `${'../'.repeat(n)}${rest}`;
  const decoys = ['./etc-outside/x', './rel-outside/x', './usr/lib/evil/x', './lib/evil/x', './a/canary/x', './b/canary/x', './lib/evil/etc/passwd'];
  const names = [
    './', '.', '/', '', '..', '../x', './../x', './usr/../../x', './usr/./x', './usr//x', './x/.', './usr/',
    './usr/share/doc/', './usr/ok', './usr/bin/tool', './etc/hello.conf', `${outside.abs}/x`, `${outside.abs}/etc/passwd`,
    ...decoys,
    './etc-outside', './rel-outside', './usr/lib/evil', './lib', './a', './b',
    './var/lib/overmerge/db.sqlite', './var/lib/overmerge/lock', './var/lib/overmerge/staging/x', './var/lib/overmerge',
    `./${'d'.repeat(255)}/x`, `./${'n'.repeat(256)}`, `./${'long/'.repeat(60)}x`,
    './nul\0x', './new\nline', './\xff\xfe', './caf\u00e9', './cafe\u0301', './usr/share/x ', './-', './~',
  ];
  const linkTargets = [
    outside.abs, `${outside.abs}/x`, `${outside.abs}/etc`, '/', '.', '..', '', 'x', './x', 'usr/lib', 'etc-outside',
    climb(1, outside.relName), climb(2, `${outside.relName}/x`), climb(3, outside.relName), climb(4, `${outside.relName}/x`),
    climb(5, outside.relName), '../../..', 'a', 'b', `${'../'.repeat(40)}`, 'x'.repeat(300), 'nul\0x',
  ];
  const hardlinkTargets = [
    './usr/ok', 'usr/ok', './usr/', './', '../x', `${outside.abs}/passwd`, './etc-outside/passwd', './usr/lib/evil/x',
    './rel-outside/x', './var/lib/overmerge/db.sqlite', './usr/bin/tool', './nonexistent', './etc/hello.conf',
  ];
  return { names, linkTargets, hardlinkTargets };
}
