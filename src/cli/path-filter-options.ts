import type { Argv } from 'yargs';
import type { PathFilter } from '../model/path-filter';
import { UsageError } from './usage-error';

/** `--path-exclude` / `--path-include` as the parsers leave them: one list each, their interleaving lost. */
export interface PathFilterArgs {
  pathExclude?: string | string[];
  pathInclude?: string | string[];
}

/** dpkg's path filters on the commands that unpack archives (install, unpack). */
export function pathFilterOptions(y: Argv): Argv {
  return y
    .option('path-exclude', {
      // Not `array`: yargs would take the archives after it as more patterns. Repeated, it gives a list.
      type: 'string',
      requiresArg: true,
      describe: "don't install the archives' paths matching this shell pattern (as dpkg; repeatable)",
    })
    .option('path-include', {
      type: 'string',
      requiresArg: true,
      describe: 'install them after all when they match this pattern given after an exclusion (as dpkg)',
    });
}

const SPELLINGS: ReadonlyMap<string, boolean> = new Map([
  ['--path-exclude', false],
  ['--pathExclude', false],
  ['--path-include', true],
  ['--pathInclude', true],
]);

/**
 * The filters in the order the command line gives them. dpkg lets the last pattern that matches a path
 * decide, so `--path-exclude=/usr/share/doc/* --path-include=/usr/share/doc/x/*` is not the same as the
 * other way round; the parsers keep one list per option, so the order is read again from the words they
 * were given (up to `--`), and checked against what they parsed.
 */
export function pathFiltersInOrder(words: readonly string[], args: PathFilterArgs): PathFilter[] {
  const filters: PathFilter[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (word === '--') break;
    const eq = word.indexOf('=');
    const include = SPELLINGS.get(eq === -1 ? word : word.slice(0, eq));
    if (include === undefined) continue;
    const pattern = eq === -1 ? words[++i] : word.slice(eq + 1);
    if (pattern !== undefined) filters.push({ pattern, include });
  }
  const parsed = [args.pathExclude ?? [], args.pathInclude ?? []].flat().map(String).sort();
  const found = filters.map((f) => f.pattern).sort();
  if (parsed.length !== found.length || parsed.some((p, i) => p !== found[i])) {
    throw new UsageError('give each path filter as --path-exclude=PATTERN or --path-include=PATTERN');
  }
  return filters;
}
