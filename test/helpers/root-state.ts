import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { Command, Io } from '../../src/cli/command';
import { filesCommand } from '../../src/cli/files';
import type { GlobalArgs } from '../../src/cli/global';
import { historyCommand } from '../../src/cli/history';
import { listCommand } from '../../src/cli/list';
import { diffSnapshots, snapshotTree, type TreeSnapshot } from './tree';

/** overmerge's own folder inside a root (database, lock, staging): not part of what a package installs. */
export const ADMIN_REL = 'var/lib/overmerge';

/**
 * The root as packages and users see it, for "exactly as before" assertions: every entry with type,
 * mode, owner, content, xattrs and file mtimes. Left out: overmerge's admin folder (the database changes
 * by design) and directory mtimes (adding an entry and taking it away again moves them; dpkg does not
 * restore them either).
 */
export async function rootState(root: string): Promise<TreeSnapshot> {
  const snap = await snapshotTree(root);
  const entries = snap.entries
    .filter((e) => e.path !== ADMIN_REL && !e.path.startsWith(`${ADMIN_REL}/`))
    .map(({ mtimeNs, ...rest }) => (rest.type === 'dir' ? rest : { ...rest, mtimeNs }));
  return { entries, linkGroups: snap.linkGroups.filter((g) => !g.some((p) => p.startsWith(`${ADMIN_REL}/`))) };
}

export function assertSameTree(actual: TreeSnapshot, expected: TreeSnapshot, what: string): void {
  const diff = diffSnapshots(expected, actual);
  assert.deepEqual(diff, [], `${what}:\n  ${diff.join('\n  ')}`);
}

/** What the database says, through the CLI: `list --json`, `files` of each package, `history --json`. */
export interface DbState {
  list: unknown;
  files: Record<string, string>;
  history: unknown;
}

/**
 * Reads the database of `root` with the read-only commands' own handlers (what `overmerge list --json`,
 * `files NAME` and `history --json` print). The handlers are called directly, without the argument
 * parser: sweeps read the state at every crash point, and parsing a command line costs more than the
 * reading. `db`/`staging` are the global options of the same names, if the root uses them.
 */
export async function dbState(root: string, where: { db?: string; staging?: string } = {}): Promise<DbState> {
  const globals: GlobalArgs = {
    root,
    db: where.db,
    staging: where.staging,
    mode: 'rename',
    json: true,
    scripts: 'auto',
    quiet: true,
    lockWait: 0,
    autoRecover: false,
  };
  const pkgs = JSON.parse(await output(listCommand, { ...globals, pattern: undefined })) as Array<{ name: string }>;
  const files: Record<string, string> = {};
  for (const p of pkgs) files[p.name] = await output(filesCommand, { ...globals, json: false, name: p.name });
  const history = JSON.parse(await output(historyCommand, globals)) as unknown;
  return { list: pkgs, files, history };
}

/** Runs a command handler and returns what it wrote to stdout; it must succeed without a word on stderr. */
async function output<A>(command: Command<A>, args: A): Promise<string> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const sink = (into: Buffer[]) =>
    new Writable({
      write(chunk: Buffer | string, _enc, done) {
        into.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
        done();
      },
    });
  const io: Io = { stdout: sink(out), stderr: sink(err), isTTY: false };
  const status = await command.run(args, io);
  assert.equal(status, 0, `${String(command.command)}: exit ${status}: ${Buffer.concat(err).toString()}`);
  assert.equal(Buffer.concat(err).toString(), '', `${String(command.command)} wrote to stderr`);
  return Buffer.concat(out).toString('utf8');
}
