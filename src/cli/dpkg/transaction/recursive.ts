import * as fs from 'node:fs';
import type { Reporter } from '../report';

/**
 * --recursive DIR... (src/main/archives.c archivefiles): every regular file whose path ends in `.deb`
 * beneath each DIR, in the order dpkg's tree walker (lib/dpkg/treewalk.c treewalk_next) returns them:
 * depth first, each directory's entries sorted by name (strcmp), symlinks followed, a directory that is
 * one of its own ancestors not entered. DIR itself must be a directory, not a symlink to one. Paths are
 * DIR/NAME/... as dpkg builds them. Byte strings in and out.
 *
 * The walker is ported step for step, quirk included: after skipping a directory loop it returns the
 * entry that follows the loop twice, as dpkg does (so dpkg unpacks that archive twice). Nobody relies on
 * that, but the same command line then means the same list of archives.
 */
interface Node {
  readonly pathname: string;
  readonly name: string;
  readonly up?: Node;
  next?: Node;
  down?: Node[];
  readonly dir: boolean;
  readonly regular: boolean;
  readonly dev?: number;
  readonly ino?: number;
}

export function expandRecursive(dirs: readonly string[], report: Reporter): string[] {
  const out: string[] = [];
  for (const dir of dirs) {
    const walk = new TreeWalk(dir, report);
    for (let node = walk.next(); node; node = walk.next()) {
      if (node.regular && node.pathname.endsWith('.deb')) out.push(node.pathname);
    }
  }
  if (out.length === 0) report.fatal('searched, but found no packages (files matching *.deb)');
  return out;
}

class TreeWalk {
  private root?: Node;
  private curdir?: Node;
  private curnode?: Node;

  constructor(
    rootdir: string,
    private readonly report: Reporter,
  ) {
    const st = this.stat(rootdir, fs.lstatSync);
    if (!st.isDirectory()) report.fatal(`treewalk root ${rootdir} is not a directory`);
    this.root = { pathname: rootdir, name: rootdir, dir: true, regular: false, dev: st.dev, ino: st.ino };
    this.curdir = this.root;
    this.curnode = this.root;
  }

  /** treewalk_next(). */
  next(): Node | undefined {
    if (!this.root) return undefined;
    let node = this.curnode;
    if (!node) return undefined;
    if (node.dir) {
      this.fill(node);
      this.curdir = node;
      let loop = false;
      for (let d = node.up; d; d = d.up) if (d.dev === node.dev && d.ino === node.ino) loop = true;
      node = loop ? node.next : node.down![0];
    } else {
      node = node.next;
    }
    while (!node) {
      const olddir = this.curdir!;
      if (olddir.next) {
        node = olddir.next;
        this.curdir = olddir.up;
      } else if (olddir.up) {
        node = olddir.up.next;
        this.curdir = olddir.up.up;
      } else {
        break;
      }
      if (!this.curdir) {
        this.root = undefined;
        break;
      }
    }
    this.curnode = node;
    return node;
  }

  /** treenode_fill_down() and treenode_sort_down(): the entries, sorted, linked. */
  private fill(dir: Node): void {
    let entries: fs.Dirent<Buffer>[];
    try {
      entries = fs.readdirSync(Buffer.from(dir.pathname, 'latin1'), { withFileTypes: true, encoding: 'buffer' });
    } catch (err) {
      return this.report.fatal(`cannot open directory '${dir.pathname}': ${strerror(err)}`);
    }
    const down = entries.map((e): Node => {
      const name = e.name.toString('latin1');
      const pathname = `${dir.pathname}/${name}`;
      // dpkg trusts the directory entry's type except for directories, symlinks and unknown types,
      // which it stats (following symlinks).
      if (e.isFile()) return { pathname, name, up: dir, dir: false, regular: true };
      if (!e.isDirectory() && !e.isSymbolicLink() && !isUnknown(e)) return { pathname, name, up: dir, dir: false, regular: false };
      const st = this.stat(pathname, fs.statSync);
      return { pathname, name, up: dir, dir: st.isDirectory(), regular: st.isFile(), dev: st.dev, ino: st.ino };
    });
    down.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    down.forEach((n, i) => (n.next = down[i + 1]));
    dir.down = down;
  }

  private stat(pathname: string, how: (p: Buffer) => fs.Stats): fs.Stats {
    try {
      return how(Buffer.from(pathname, 'latin1'));
    } catch (err) {
      return this.report.fatal(`cannot stat pathname '${pathname}': ${strerror(err)}`);
    }
  }
}

function isUnknown(e: fs.Dirent<Buffer>): boolean {
  return !e.isFile() && !e.isDirectory() && !e.isSymbolicLink() && !e.isFIFO() && !e.isSocket() && !e.isCharacterDevice() && !e.isBlockDevice();
}

function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const known: Record<string, string> = { ENOENT: 'No such file or directory', EACCES: 'Permission denied', ENOTDIR: 'Not a directory', ELOOP: 'Too many levels of symbolic links' };
  return (code && known[code]) ?? (err as Error).message;
}
