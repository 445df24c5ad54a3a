import * as fs from 'node:fs';
import { argInt, type OptionSpec } from './options';
import { archNameProblem, packageNameProblem } from './names';
import { DpkgExit } from './report';
import type { ActionName, DpkgSettings } from './settings';

/**
 * dpkg's option table (src/main/main.c cmdinfos), in dpkg's order — the order decides which entry a long
 * option matches first — with each entry's effect on DpkgSettings.
 */
type Spec = OptionSpec<DpkgSettings>;

function action(long: ActionName, short?: string): Spec {
  return { long, short, takes: 0, set: (s, _v, spec) => setAction(s, spec) };
}

/** setaction(): a second action, even the same one again, is a usage error naming both. */
function setAction(s: DpkgSettings, spec: Spec, suffix?: string): void {
  if (s.action) {
    const letter = (c?: string): string => c ?? '\b';
    s.report.badUsage(`conflicting actions -${letter(spec.short)} (--${spec.long}) and -${letter(s.action.short)} (--${s.action.name})`);
  }
  s.action = { name: spec.long as ActionName, short: spec.short, suffix };
}

function flag(long: string | undefined, short: string | undefined, apply: (s: DpkgSettings) => void): Spec {
  return { long, short, takes: 0, set: (s) => apply(s) };
}

function valued(long: string, short: string | undefined, apply: (s: DpkgSettings, value: string, spec: Spec) => void): Spec {
  return { long, short, takes: 1, set: (s, v, spec) => apply(s, v!, spec) };
}

export const DPKG_OPTIONS: readonly Spec[] = [
  action('install', 'i'),
  action('unpack'),
  action('record-avail', 'A'),
  action('configure'),
  action('remove', 'r'),
  action('purge', 'P'),
  action('triggers-only'),
  action('verify', 'V'),
  action('listfiles', 'L'),
  action('status', 's'),
  action('get-selections'),
  action('set-selections'),
  action('clear-selections'),
  action('print-avail', 'p'),
  action('update-avail'),
  action('merge-avail'),
  action('clear-avail'),
  action('forget-old-unavail'),
  action('audit', 'C'),
  action('yet-to-unpack'),
  action('list', 'l'),
  action('search', 'S'),
  { long: 'assert', takes: 2, set: (s, v, spec) => setAction(s, spec, v) },
  action('add-architecture'),
  action('remove-architecture'),
  action('print-architecture'),
  action('print-foreign-architectures'),
  action('predep-package'),
  action('validate-pkgname'),
  action('validate-trigname'),
  action('validate-archname'),
  action('validate-version'),
  action('compare-versions'),
  action('help', '?'),
  action('version'),

  valued('pre-invoke', undefined, (s, v) => s.preInvoke.push(v)),
  valued('post-invoke', undefined, (s, v) => s.postInvoke.push(v)),
  valued('path-exclude', undefined, (s, v) => s.pathFilters.push({ pattern: v, include: false })),
  valued('path-include', undefined, (s, v) => s.pathFilters.push({ pattern: v, include: true })),
  valued('verify-format', undefined, (s, v) => {
    if (v !== 'rpm') s.report.badUsage(`unknown verify output format '${v}'`);
  }),
  valued('status-logger', undefined, (s, v) => s.statusLoggers.push(v)),
  valued('status-fd', undefined, (s, v, spec) => s.statusFds.push(statusFd(s, argInt(spec, v, s.report)))),
  valued('log', undefined, (s, v) => (s.log = v)),
  flag('pending', 'a', (s) => (s.pending = true)),
  flag('recursive', 'R', (s) => (s.recursive = true)),
  flag('no-act', undefined, (s) => (s.noAct = true)),
  flag('dry-run', undefined, (s) => (s.noAct = true)),
  flag('simulate', undefined, (s) => (s.noAct = true)),
  flag('no-pager', undefined, (s) => (s.noPager = true)),
  flag('no-debsig', undefined, (s) => (s.noDebsig = true)),
  // -G is --refuse-downgrade.
  flag(undefined, 'G', (s) => s.forces.set('downgrade', false)),
  flag('selected-only', 'O', (s) => (s.alsoSelect = false)),
  flag('triggers', undefined, (s) => (s.triggers = 1)),
  flag('no-triggers', undefined, (s) => (s.triggers = -1)),
  flag('no-also-select', 'N', (s) => (s.alsoSelect = false)),
  flag('skip-same-version', 'E', (s) => (s.skipSame = true)),
  flag('auto-deconfigure', 'B', (s) => (s.autoDeconfigure = true)),
  flag('robot', undefined, (s) => (s.robot = true)),
  valued('root', undefined, (s, v) => s.dirs.setRoot(v)),
  valued('abort-after', undefined, (s, v, spec) => (s.abortAfter = argInt(spec, v, s.report))),
  valued('admindir', undefined, (s, v) => s.dirs.setAdmindir(v)),
  valued('instdir', undefined, (s, v) => s.dirs.setInstdir(v)),
  valued('ignore-depends', undefined, (s, v, spec) => s.ignoreDepends.push(...ignoreDependsList(s, spec, v))),
  { long: 'force', takes: 2, set: (s, v) => s.forces.parse(v!, true, s.report) },
  { long: 'refuse', takes: 2, set: (s, v) => s.forces.parse(v!, false, s.report) },
  { long: 'no-force', takes: 2, set: (s, v) => s.forces.parse(v!, false, s.report) },
  valued('debug', 'D', (s, v, spec) => setDebug(s, v, spec)),
  action('build', 'b'),
  action('contents', 'c'),
  action('control', 'e'),
  action('info', 'I'),
  action('field', 'f'),
  action('extract', 'x'),
  action('vextract', 'X'),
  action('ctrl-tarfile'),
  action('fsys-tarfile'),
];

/** set_pipe(): dpkg marks the descriptor close-on-exec at once, so one that is not open is fatal here. */
function statusFd(s: DpkgSettings, fd: number): number {
  if (!callerDescriptor(fd)) s.report.fatal('unable to read filedescriptor flags for <package status and progress file descriptor>: Bad file descriptor');
  return fd;
}

/**
 * Whether `fd` is open and not one of Node's own. Node opens descriptors of its own before any code runs
 * (its event loop's epoll and eventfd, pipe pairs for signals and workers), at the lowest free numbers: a
 * descriptor number the caller did not pass on may be one of them, and writing status lines into it
 * would break Node. The caller's descriptors are never of those kinds (an eventpoll or eventfd, or a pipe
 * with both ends held here), so those count as not open, as they would be for dpkg.
 */
function callerDescriptor(fd: number): boolean {
  try {
    fs.fstatSync(fd);
  } catch {
    return false;
  }
  let target: string;
  try {
    target = fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return true;
  }
  if (target.startsWith('anon_inode:')) return false;
  if (!target.startsWith('pipe:')) return true;
  try {
    return !fs.readdirSync('/proc/self/fd').some((other) => Number(other) !== fd && safeReadlink(`/proc/self/fd/${other}`) === target);
  } catch {
    return true;
  }
}

function safeReadlink(p: string): string | undefined {
  try {
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
}

/** set_ignore_depends(): comma-separated package names, none empty. */
function ignoreDependsList(s: DpkgSettings, spec: Spec, value: string): string[] {
  // An empty value names nothing; an empty name in a list (",a", "a,,b", "a,") is refused.
  if (value === '') return [];
  const names = value.split(',');
  if (names.some((n) => n === '')) s.report.badUsage(`null package name in --${spec.long} comma-separated list '${value.slice(0, 250)}'`);
  for (const name of names) {
    const problem = pkgSpecProblem(name);
    if (problem) s.report.badUsage(`--${spec.long} needs a valid package name but '${name.slice(0, 250)}' is not: ${problem}`);
  }
  return names;
}

/** pkg_spec_parse_pkg()'s refusals of a NAME[:ARCH] given on the command line. */
export function pkgSpecProblem(text: string): string | undefined {
  const colon = text.indexOf(':');
  const name = colon < 0 ? text : text.slice(0, colon);
  const arch = colon < 0 ? undefined : text.slice(colon + 1);
  const problem = packageNameProblem(name);
  if (problem) return `illegal package name in specifier '${name}${arch === undefined ? '' : `:${arch}`}': ${problem}`;
  if (arch !== undefined) {
    const archProblem = archNameProblem(arch);
    if (archProblem) return `illegal architecture name in specifier '${name}:${arch}': ${archProblem}`;
  }
  return undefined;
}


const DEBUG_FLAGS: ReadonlyArray<readonly [number, string, string]> = [
  [0o1, 'general', 'Generally helpful progress information'],
  [0o2, 'scripts', 'Invocation and status of maintainer scripts'],
  [0o10, 'eachfile', 'Output for each file processed'],
  [0o100, 'eachfiledetail', 'Lots of output for each file processed'],
  [0o20, 'conff', 'Output for each configuration file'],
  [0o200, 'conffdetail', 'Lots of output for each configuration file'],
  [0o40, 'depcon', 'Dependencies and conflicts'],
  [0o400, 'depcondetail', 'Lots of dependencies/conflicts output'],
  [0o10000, 'triggers', 'Trigger activation and processing'],
  [0o20000, 'triggersdetail', 'Lots of output regarding triggers'],
  [0o40000, 'triggersstupid', 'Silly amounts of output regarding triggers'],
  [0o1000, 'veryverbose', 'Lots of drivel about eg the dpkg/info directory'],
  [0o2000, 'stupidlyverbose', 'Insane amounts of drivel'],
];

/** set_debug(): `help` (anything starting with h) prints the table; otherwise an octal mask. */
function setDebug(s: DpkgSettings, value: string, spec: Spec): void {
  if (value.startsWith('h')) {
    const rows = DEBUG_FLAGS.map(([n, name, desc]) => ` ${n.toString(8).padStart(6)}  ${name.padEnd(16)} ${desc}\n`).join('');
    throw new DpkgExit(
      `dpkg debugging option, --debug=<octal> or -D<octal>:\n\n Number  Ref. in source   Description\n${rows}\nDebugging options can be mixed using bitwise-or.\nNote that the meanings and values are subject to change.\n`,
      0,
      'stdout',
    );
  }
  const m = /^[\t\n\v\f\r ]*([+-]?)([0-7]+)$/.exec(value);
  const mask = m ? (m[1] === '-' ? -1 : 1) * parseInt(m[2], 8) : -1;
  if (!(mask >= 0) || mask > 0x7fffffffffff) s.report.badUsage(`--${spec.long} requires a positive octal argument`);
  s.debug = mask;
}
