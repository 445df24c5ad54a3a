import { checkVersion, compareVersions as compare, type Version } from '../../../control/version';
import type { Action, ActionContext } from '../context';
import { archNameProblem, packageNameProblem, triggerNameProblem } from '../names';

/**
 * --compare-versions and --validate-* (src/main/enquiry.c cmpversions, validate_*), with dpkg's exit
 * statuses: 0 true or valid, 1 false (or a version dpkg only warns about), 2 refused.
 */

/** Exit statuses per relation: [lesser, equal, greater, a empty, both empty, b empty, obsolete]. */
type Row = readonly [number, number, number, number, number, number, boolean?];

const RELATIONS: ReadonlyArray<readonly [string, Row]> = [
  ['le', [0, 0, 1, 0, 0, 1]],
  ['lt', [0, 1, 1, 0, 1, 1]],
  ['eq', [1, 0, 1, 1, 0, 1]],
  ['ne', [0, 1, 0, 0, 1, 0]],
  ['ge', [1, 0, 0, 1, 0, 0]],
  ['gt', [1, 1, 0, 1, 1, 0]],
  // An empty version counts as later than any version.
  ['le-nl', [0, 0, 1, 1, 0, 0]],
  ['lt-nl', [0, 1, 1, 1, 1, 0]],
  ['ge-nl', [1, 0, 0, 0, 0, 1]],
  ['gt-nl', [1, 1, 0, 0, 1, 1]],
  // For compatibility with control file syntax; `<` and `>` mean "or equal" and are obsolete.
  ['<', [0, 0, 1, 0, 0, 1, true]],
  ['<=', [0, 0, 1, 0, 0, 1]],
  ['<<', [0, 1, 1, 0, 1, 1]],
  ['=', [1, 0, 1, 1, 0, 1]],
  ['>', [1, 0, 0, 1, 0, 0, true]],
  ['>=', [1, 0, 0, 1, 0, 0]],
  ['>>', [1, 1, 0, 1, 1, 0]],
];

export const compareVersions: Action = (ctx, args) => {
  if (args.length !== 3 || args.slice(0, 3).some((a) => a === undefined)) {
    ctx.report.badUsage('--compare-versions takes three arguments: <version> <relation> <version>');
  }
  const [a, op, b] = args;
  const row = RELATIONS.find(([name]) => name === op)?.[1];
  if (!row) return ctx.report.badUsage('--compare-versions bad relation');
  if (row[6]) ctx.report.warning(`--${ctx.settings.action!.name} used with obsolete relation operator '${op}'`);
  const va = operand(ctx, a);
  const vb = operand(ctx, b);
  const [lesser, equal, greater, noneA, noneBoth, noneB] = row;
  if (va === undefined) return vb === undefined ? noneBoth : noneA;
  if (vb === undefined) return noneB;
  const c = compare(va, vb);
  return c > 0 ? greater : c < 0 ? lesser : equal;
};

/** A version operand: undefined for '' and '<unknown>'; a bad one is warned about or refused as dpkg does. */
function operand(ctx: ActionContext, text: string): Version | undefined {
  if (text === '' || text === '<unknown>') return undefined;
  const { version, problem } = checkVersion(text);
  if (problem) {
    const message = `version '${text}' has bad syntax: ${problem.reason}`;
    if (problem.severity === 'error') ctx.report.fatal(message);
    ctx.report.warning(message);
  }
  return version;
}

export const validateVersion: Action = (ctx, args) => {
  const text = oneArgument(ctx, args, 'version');
  const { problem } = checkVersion(text);
  if (!problem) return 0;
  const message = `version '${text}' has bad syntax: ${problem.reason}`;
  if (problem.severity === 'error') ctx.report.fatal(message);
  ctx.report.warning(message);
  return 1;
};

export const validatePkgname: Action = (ctx, args) => validate(ctx, oneArgument(ctx, args, 'pkgname'), packageNameProblem, 'package name');
export const validateTrigname: Action = (ctx, args) => validate(ctx, oneArgument(ctx, args, 'trigname'), triggerNameProblem, 'trigger name');
export const validateArchname: Action = (ctx, args) => validate(ctx, oneArgument(ctx, args, 'archname'), archNameProblem, 'architecture name');

function validate(ctx: ActionContext, text: string, problemOf: (s: string) => string | undefined, what: string): number {
  const problem = problemOf(text);
  if (problem) ctx.report.fatal(`${what} '${text}' is invalid: ${problem}`);
  return 0;
}

function oneArgument(ctx: ActionContext, args: string[], thing: string): string {
  if (args.length !== 1) ctx.report.badUsage(`--${ctx.settings.action!.name} takes one <${thing}> argument`);
  return args[0];
}
