import { accessSync, constants, statSync } from 'node:fs';
import * as path from 'node:path';
import { cannotMount } from './mounts';

/**
 * The one way a test says what it needs of the machine, and skips loudly when it is not there: the skip
 * message starts with `SKIPPED:` and is written to stderr as well, so a reader of the test report sees
 * what did not run and why, instead of a green run that checked less than it seems.
 *
 *   if (gate(t, { root: 'file owners', mount: 'overlay' })) return;     // inside a test
 *   test('…', { skip: needs({ tools: ['dpkg-deb'] }) }, async () => …);  // the option of test()/describe()
 *   if (gate(t, await realDebs('required'))) return;                      // a resource the test fetched
 */

export type MountType = 'overlay' | 'tmpfs';

/** What a test needs; every field given must hold. */
export interface Needs {
  /** Root; a string says what for ("file owners") and goes into the skip message. */
  root?: true | string;
  /** Filesystem types the test mounts: root, and a kernel that has them. */
  mount?: MountType | MountType[];
  /** Programs that must be on PATH. */
  tools?: string[];
}

/** A resource the test probed or fetched itself (realDebs' result, a sandbox run): why it cannot be had. */
export interface Unavailable {
  skip: string;
}

interface Skippable {
  skip(message?: string): void;
}

/**
 * The first need that does not hold, in words ("needs root (file owners)"), or undefined when all hold.
 * For a test that does something else instead of skipping (roots on the disk when no tmpfs can be mounted).
 */
export function missing(n: Needs): string | undefined {
  if (n.root !== undefined && process.getuid?.() !== 0) return typeof n.root === 'string' ? `needs root (${n.root})` : 'needs root';
  for (const type of [n.mount ?? []].flat()) {
    const why = cannotMount(type);
    if (why !== undefined) return why;
  }
  for (const tool of n.tools ?? []) {
    if (!onPath(tool)) return `needs ${tool} on PATH`;
  }
  return undefined;
}

/** For the `skip` option of test() and describe(): the SKIPPED message when a need does not hold, else false. */
export function needs(n: Needs): string | false {
  const why = missing(n);
  return why === undefined ? false : announce(why);
}

/**
 * Skips test `t` when a need does not hold, or when a resource the test probed is `{ skip: why }`; true
 * when it skipped (the test then returns). With a probed resource it narrows the type, so the test reads
 * the resource's fields afterwards. (The signature refuses an object that cannot be `{ skip }`: a misspelt
 * need must not pass for a probe that found everything.)
 */
export function gate(t: Skippable, n: Needs): boolean;
export function gate<P extends object>(
  t: Skippable,
  probed: P & (Unavailable extends P ? unknown : never),
): probed is Extract<P, Unavailable> & (Unavailable extends P ? unknown : never);
export function gate(t: Skippable, what: Needs | Partial<Unavailable>): boolean {
  const why = 'skip' in what && typeof what.skip === 'string' ? what.skip : missing(what as Needs);
  if (why === undefined) return false;
  t.skip(announce(why));
  return true;
}

function announce(why: string): string {
  const message = `SKIPPED: ${why}`;
  process.stderr.write(`\n*** ${message}\n\n`);
  return message;
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir !== '' && isExecutableFile(path.join(dir, tool)));
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
