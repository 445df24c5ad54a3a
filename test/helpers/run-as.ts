import { spawnSync } from 'node:child_process';
import { constants as C, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BIN, REPO_ROOT } from './run-cli';

/**
 * Running the CLI as another user (root tests that drop to `nobody`). That user must be able to reach the
 * Node binary, bin/overmerge, dist/ and node_modules/; a checkout in a private folder (root's home, mode
 * 700) or a Node unpacked there is out of its reach. Then a copy of what the CLI needs is made in a
 * temporary folder of mode 755: hard links where the filesystem allows and the file is readable by all,
 * else copies made readable.
 */

export interface User {
  uid: number;
  gid: number;
}

/** How to start the CLI as the user: `node` and `bin` to spawn; `remove` undoes any copy. */
export interface CliAs {
  node: string;
  bin: string;
  /** Why a copy was made, or undefined when the checkout and Node are used in place. */
  copied?: string;
  remove(): Promise<void>;
}

/** The CLI as `user` can start it, or why it cannot be had (then the test skips, saying so). */
export async function cliFor(user: User): Promise<CliAs | { unavailable: string }> {
  const inPlace = { node: process.execPath, bin: BIN, remove: async () => undefined };
  const first = probe(user, inPlace.node, inPlace.bin);
  if (first === undefined) return inPlace;
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'overmerge-cli-as-'));
  const remove = () => fsp.rm(dir, { recursive: true, force: true });
  try {
    await fsp.chmod(dir, 0o755);
    const copy = { node: process.execPath, bin: path.join(dir, 'bin', 'overmerge') };
    if (probe(user, process.execPath, undefined) !== undefined) {
      copy.node = path.join(dir, 'node');
      await mirrorFile(process.execPath, copy.node);
    }
    // overmerge's own addons are built beside their sources, not under node_modules.
    for (const part of ['package.json', 'bin', path.join('dist', 'src'), 'node_modules', path.join('src', 'fs', 'native', 'build', 'Release')]) {
      await fsp.mkdir(path.dirname(path.join(dir, part)), { recursive: true, mode: 0o755 });
      await mirror(path.join(REPO_ROOT, part), path.join(dir, part), SKIP);
    }
    const second = probe(user, copy.node, copy.bin);
    if (second !== undefined) {
      await remove();
      return { unavailable: `user ${user.uid} cannot run overmerge from ${REPO_ROOT} (${first}) nor from a copy in ${dir} (${second})` };
    }
    return { ...copy, copied: `user ${user.uid} cannot run overmerge from ${REPO_ROOT} (${first}); running a copy in ${dir}`, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** Development-only parts of node_modules and build leftovers the CLI never loads. */
const SKIP = new Set(['typescript', '@types', 'obj.target', '.deps']);

/** Undefined when `user` can run `node` (and, given, `bin --version`); else what went wrong. */
function probe(user: User, node: string, bin: string | undefined): string | undefined {
  const r = spawnSync(node, bin === undefined ? ['--version'] : [bin, '--version'], { ...user, cwd: '/', encoding: 'utf8', timeout: 60_000 });
  if (r.error) return `${path.basename(node)}: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`;
  if (r.status !== 0) {
    const lines = r.stderr.trim().split('\n');
    return (lines.find((l) => /Error|EACCES|overmerge:/.test(l)) ?? lines[0] ?? `exit status ${r.status}`).slice(0, 200);
  }
  return undefined;
}

async function mirror(from: string, to: string, skip: ReadonlySet<string>): Promise<void> {
  const st = await fsp.lstat(from);
  if (st.isSymbolicLink()) {
    await fsp.symlink(await fsp.readlink(from), to);
  } else if (st.isDirectory()) {
    await fsp.mkdir(to, { mode: 0o755 });
    await fsp.chmod(to, 0o755);
    for (const name of await fsp.readdir(from)) {
      if (!skip.has(name)) await mirror(path.join(from, name), path.join(to, name), skip);
    }
  } else if (st.isFile()) {
    await mirrorFile(from, to);
  }
}

/** A hard link when the file is readable (and, if executable, runnable) by all; else a copy made so. */
async function mirrorFile(from: string, to: string): Promise<void> {
  const { mode } = await fsp.stat(from);
  const wanted = mode & 0o100 ? 0o755 : 0o644;
  if ((mode & wanted) === wanted) {
    try {
      await fsp.link(from, to);
      return;
    } catch {
      // another filesystem, or links not allowed: copy
    }
  }
  await fsp.copyFile(from, to, C.COPYFILE_EXCL);
  await fsp.chmod(to, (mode & 0o7777) | wanted);
}
