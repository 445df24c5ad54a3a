import assert from 'node:assert/strict';
import { diffSnapshots, snapshotTree, type TreeSnapshot } from './tree';
import { runCli } from './run-cli';

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

/** Reads the database of `root` (global options such as --db in `extra`) with the read-only commands. */
export async function dbState(root: string, extra: string[] = []): Promise<DbState> {
  const base = ['--root', root, ...extra];
  const list = await runCli([...base, 'list', '--json']);
  assert.equal(list.status, 0, list.stderr);
  const pkgs = JSON.parse(list.stdout) as Array<{ name: string }>;
  const files: Record<string, string> = {};
  for (const p of pkgs) {
    const r = await runCli([...base, 'files', p.name]);
    assert.equal(r.status, 0, r.stderr);
    files[p.name] = r.stdout;
  }
  const history = await runCli([...base, 'history', '--json']);
  assert.equal(history.status, 0, history.stderr);
  return { list: pkgs, files, history: JSON.parse(history.stdout) };
}
