import { mkdtempSync, promises as fsp, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Temporary folders of the tests, all made one way: `PARENT/overmerge-PREFIX-XXXXXX` (mkdtemp: mode 0700,
 * and a name no other test or run can take). PARENT is os.tmpdir(), unless the name says otherwise
 * (`{ prefix, parent }`: inside a test file's scratch tmpfs, say). Each helper removes what it made
 * whatever the test does, except makeTempDir, whose caller chooses the moment.
 */
export type TempName = string | { prefix: string; parent: string };

function template(name: TempName): string {
  const { prefix, parent } = typeof name === 'string' ? { prefix: name, parent: os.tmpdir() } : name;
  return path.join(parent, `overmerge-${prefix}-`);
}

/** A temporary folder for the duration of `fn`, removed afterwards whatever happens. */
export async function withTempDir<T>(name: TempName, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fsp.mkdtemp(template(name));
  try {
    return await fn(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

/** withTempDir for synchronous tests (the database tests are synchronous, like better-sqlite3). */
export function withTempDirSync<T>(name: TempName, fn: (dir: string) => T): T {
  const dir = mkdtempSync(template(name));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a temporary folder can live as long as: a test (its context `t`), or a test file ({ after }). */
export interface TempScope {
  after(fn: () => Promise<void>): void;
}

/**
 * A temporary folder removed when `scope` ends, for one that does not fit a callback: a test file's work
 * folder (`const workDir = tempDir('install', { after })` at the top level of the file, with node:test's
 * `after`), or a test's (`tempDir('x', t)`). Made synchronously, so that a file can make it at its top
 * level. Not with node:test's `after` inside a before() hook: that registers on the hook, which ends (and
 * would remove the folder) before the first test runs.
 */
export function tempDir(name: TempName, scope: TempScope): string {
  const dir = mkdtempSync(template(name));
  scope.after(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A temporary folder its caller removes, for helpers that must choose the moment: after unmounting what
 * is mounted inside it (removing it before would delete through the mount), or when a fixture living in
 * it is made anew halfway through a file. Tests use the helpers above.
 */
export function makeTempDir(name: TempName): Promise<string> {
  return fsp.mkdtemp(template(name));
}
