import { OvermergeError } from '../errors';
import { checkVersion, compareVersions, type Version } from '../control/version';
import { defineCommand, type Io } from './command';
import { printable } from '../control/printable';

/** dpkg's exit status for a version it refuses, the same as for a usage error. */
const EXIT_BAD_VERSION = 2;

/**
 * How each relation reads a comparison result; `noneFirst` says whether an empty version sorts before every
 * version (the plain relations) or after every version (the `-nl`, "not less", ones).
 */
interface RelationRule {
  test: (cmp: number) => boolean;
  noneFirst: boolean;
  obsolete?: boolean;
}

const lt = (c: number): boolean => c < 0;
const le = (c: number): boolean => c <= 0;
const eq = (c: number): boolean => c === 0;
const ne = (c: number): boolean => c !== 0;
const ge = (c: number): boolean => c >= 0;
const gt = (c: number): boolean => c > 0;

const RELATIONS: Record<string, RelationRule> = {
  lt: { test: lt, noneFirst: true },
  le: { test: le, noneFirst: true },
  eq: { test: eq, noneFirst: true },
  ne: { test: ne, noneFirst: true },
  ge: { test: ge, noneFirst: true },
  gt: { test: gt, noneFirst: true },
  '<<': { test: lt, noneFirst: true },
  '<=': { test: le, noneFirst: true },
  '=': { test: eq, noneFirst: true },
  '>=': { test: ge, noneFirst: true },
  '>>': { test: gt, noneFirst: true },
  'lt-nl': { test: lt, noneFirst: false },
  'le-nl': { test: le, noneFirst: false },
  'ge-nl': { test: ge, noneFirst: false },
  'gt-nl': { test: gt, noneFirst: false },
  // Obsolete, and they mean "or equal", as dpkg still reads them.
  '<': { test: le, noneFirst: true, obsolete: true },
  '>': { test: ge, noneFirst: true, obsolete: true },
};

const DESCRIBE =
  'Compare two versions as dpkg does: VERSION RELATION VERSION, exit 0 if true, 1 if false. RELATION is ' +
  'lt le eq ne ge gt, << <= = >= >>, or lt-nl le-nl ge-nl gt-nl (an empty version counts as newest).';

const USAGE = 'compare-versions takes three arguments: <version> <relation> <version>';

interface Args {
  words?: string[];
  '--'?: string[];
}

export const compareVersionsCommand = defineCommand<Args>({
  command: 'compare-versions [words..]',
  describe: DESCRIBE,
  builder: (y) =>
    y
      // Versions are opaque words: "1.0" must not become 1, "0x10" not 16, "-1" or "--x" not an option.
      .parserConfiguration({
        'parse-numbers': false,
        'parse-positional-numbers': false,
        'unknown-options-as-args': true,
        'populate--': true,
      })
      .usage(`$0 compare-versions VERSION RELATION VERSION\n\n${DESCRIBE}`)
      .positional('words', { type: 'string', array: true, describe: 'VERSION RELATION VERSION' })
      .example('$0 compare-versions 1.0~rc1 lt 1.0', 'true: a tilde sorts before the release'),
  run: async (args, io) => {
    const words = [...(args.words ?? []), ...(args['--'] ?? [])].map(String);
    if (words.length !== 3) throw new OvermergeError('E_USAGE', USAGE);
    const [a, relation, b] = words;
    const rule = RELATIONS[relation];
    if (!rule) {
      throw new OvermergeError('E_USAGE', `compare-versions: bad relation '${relation}'`, {
        hint: 'use lt le eq ne ge gt, << <= = >= >>, or lt-nl le-nl ge-nl gt-nl',
      });
    }
    if (rule.obsolete) {
      io.stderr.write(`overmerge: warning: compare-versions used with obsolete relation operator '${printable(relation)}'\n`);
    }
    // Like dpkg, stop at the first version that is refused outright.
    const va = readOperand(a, io);
    if (va === 'bad') return EXIT_BAD_VERSION;
    const vb = readOperand(b, io);
    if (vb === 'bad') return EXIT_BAD_VERSION;
    return rule.test(compareOperands(va, vb, rule.noneFirst)) ? 0 : 1;
  },
});

/** An operand: a version, null for "no version" ('' or dpkg's '<unknown>'), or 'bad' once reported. */
type Operand = Version | null | 'bad';

function readOperand(text: string, io: Io): Operand {
  if (text === '' || text === '<unknown>') return null;
  const { version, problem } = checkVersion(text);
  if (problem) {
    const warn = problem.severity === 'warning' ? 'warning: ' : '';
    io.stderr.write(`overmerge: ${printable(`${warn}version '${text}' has bad syntax: ${problem.reason}`)}\n`);
  }
  return version ?? 'bad';
}

function compareOperands(a: Version | null, b: Version | null, noneFirst: boolean): number {
  if (a === null && b === null) return 0;
  if (a === null) return noneFirst ? -1 : 1;
  if (b === null) return noneFirst ? 1 : -1;
  return compareVersions(a, b);
}
