import type { Argv } from 'yargs';
import type { ForceOption } from '../dpkg/relations';
import { packageNameProblem } from '../control/relations';
import { UsageError } from './usage-error';

/**
 * dpkg's forces and relation options as overmerge's changing commands take them: each force as dpkg
 * spells it (`--force-depends`), or several at once as `--force=depends,breaks` (dpkg's own combined form
 * `--force-depends,breaks` is not an option name yargs can take); `--auto-deconfigure` (`-B`) and
 * `--ignore-depends=PKG,...` as in dpkg.
 */

/** The relation forces, as dpkg names them. */
export const RELATION_FORCES = ['depends', 'depends-version', 'conflicts', 'breaks', 'remove-essential', 'remove-protected', 'architecture'] as const;

/** Every force `--force=` accepts: the relation forces and the file ones overmerge had before them. */
const ALL_FORCES = [...RELATION_FORCES, 'overwrite', 'confnew', 'confold'] as const;
type Force = (typeof ALL_FORCES)[number];

const DESCRIBE: Record<(typeof RELATION_FORCES)[number], string> = {
  depends: 'turn dependency problems (Depends, Pre-Depends) into warnings',
  'depends-version': 'turn version mismatches of dependencies into warnings',
  conflicts: 'install packages that conflict with installed ones (both stay)',
  breaks: 'install packages that break installed ones',
  'remove-essential': 'remove Essential: yes packages',
  'remove-protected': 'remove Protected: yes packages',
  architecture: 'install packages of an architecture the root does not have',
};

export interface ForceArgs {
  force?: string | string[];
  ignoreDepends?: string | string[];
  autoDeconfigure?: boolean;
}

export function forceOptions(y: Argv): Argv {
  let out = y
    .option('force', {
      type: 'string',
      requiresArg: true,
      describe: `dpkg forces, comma-separated (may be repeated): ${ALL_FORCES.join(', ')}`,
    })
    .option('auto-deconfigure', { alias: 'B', type: 'boolean', default: false, describe: 'deconfigure packages a new one breaks, and configure them again after it' })
    .option('ignore-depends', { type: 'string', requiresArg: true, describe: 'ignore the relations of (and on) these packages, comma-separated' });
  for (const f of RELATION_FORCES) out = out.option(`force-${f}`, { type: 'boolean', describe: DESCRIBE[f] });
  // Checked while parsing, so a misspelt force is refused before the root is even opened.
  return out.check((argv) => {
    forcesOf(argv as ForceArgs);
    ignoredDepends(argv as ForceArgs);
    return true;
  });
}

/** The forces given, by either spelling; a misspelt one is a usage error. */
export function forcesOf(args: ForceArgs): Set<Force> {
  const out = new Set<Force>();
  for (const item of listOf(args.force)) {
    if (!(ALL_FORCES as readonly string[]).includes(item)) {
      throw new UsageError(`unknown force '${item}' (--force takes ${ALL_FORCES.join(', ')})`);
    }
    out.add(item as Force);
  }
  // Each force's own option (--force-depends, and the older --force-overwrite, ...), as yargs names it.
  const flags = args as Record<string, unknown>;
  for (const f of ALL_FORCES) if (flags[camel(`force-${f}`)] === true) out.add(f);
  if (out.has('confnew') && out.has('confold')) throw new UsageError('--force-confnew and --force-confold exclude each other');
  return out;
}

export function relationForces(forces: ReadonlySet<Force>): ForceOption[] {
  return RELATION_FORCES.filter((f) => forces.has(f));
}

/** --ignore-depends: package names, checked as dpkg checks them. */
export function ignoredDepends(args: ForceArgs): string[] {
  const names = listOf(args.ignoreDepends);
  for (const n of names) {
    const problem = packageNameProblem(n);
    if (problem) throw new UsageError(`--ignore-depends requires a legal package name; '${n}' is not: ${problem}`);
  }
  return names.map((n) => n.toLowerCase());
}

function listOf(v: string | string[] | undefined): string[] {
  return [v ?? []]
    .flat()
    .flatMap((s) => String(s).split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function camel(s: string): string {
  return s.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}
