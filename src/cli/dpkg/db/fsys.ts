import * as fs from 'node:fs';
import type { ByteString } from '../../../dpkg/bytes';
import { blockSize, firstExtentOffset } from '../../../fs/extents';
import type { Reporter } from '../report';
import { fnv1a, type Inst, type World } from './world';

/**
 * dpkg's in-memory file database (lib/dpkg/fsys-hash.c, db-fsys-files.c, db-fsys-divert.c): one node per
 * path met in a `.list` file, a diversion or md5sums, each with the packages that list it — the one read
 * last first, as dpkg prepends — and its diversion. Nodes are walked in dpkg's hash order: bins of FNV-1a
 * of the path (without its leading '/') modulo 262139, paths sharing a bin in the order they were met.
 * That order is what `dpkg -S PATTERN` prints in.
 *
 * The order packages' lists are read in — which shows in the order of several owners of one path
 * (`a, b: /usr/bin`) — is dpkg's (pkg_files_optimize_load): package-table order, then sorted (stably) by
 * the physical disk offset of each `.list` file's first extent, asked of the filesystem with FIEMAP
 * (src/fs/extents.ts); where the filesystem does not answer (tmpfs), table order stays.
 */
export interface FsysNode {
  /** The path as dpkg prints it: a '/' and the rest without leading slashes or './'. */
  readonly name: ByteString;
  /** The packages whose list names it, the one read last first. */
  readonly owners: Inst[];
  divert?: Diversion;
  /** From md5sums (verify). */
  newhash?: string;
  /** From Conffiles (verify). */
  oldhash?: string;
  oldConffile?: boolean;
}

/**
 * A diversion as dpkg links it to both its nodes: the diverted path's node has `useinstead` (where the
 * file goes), the diversion's node has `camefrom`. `pkgset` null: a local diversion.
 */
export interface Diversion {
  readonly camefrom?: FsysNode;
  readonly useinstead?: FsysNode;
  readonly pkgset: ByteString | null;
}

const BINS = 262139;

export class Fsys {
  private readonly nodes = new Map<string, FsysNode>();
  private readonly files = new Map<Inst, FsysNode[]>();
  private diversionsLoaded = false;

  constructor(
    private readonly world: World,
    private readonly report: Reporter,
  ) {
    for (const path of world.triggerPaths) this.find(path);
  }

  /** fsys_hash_find_node(name, 0): the node of `name`, made when new. */
  find(name: string): FsysNode {
    const key = skip(name);
    let node = this.nodes.get(key);
    if (!node) {
      node = { name: `/${key}` as ByteString, owners: [] };
      this.nodes.set(key, node);
    }
    return node;
  }

  /** Every node in dpkg's hash order (fsys_hash_iter_next). */
  hashOrder(): FsysNode[] {
    return [...this.nodes.entries()]
      .map(([key, node], seen) => ({ node, seen, bin: fnv1a(key) % BINS }))
      .sort((a, b) => a.bin - b.bin || a.seen - b.seen)
      .map((x) => x.node);
  }

  /** The nodes of an instance's `.list`, in its order (ensure_packagefiles_available). */
  filesOf(inst: Inst): FsysNode[] {
    let list = this.files.get(inst);
    if (list) return list;
    list = [];
    this.files.set(inst, list);
    const state = inst.entry.status.state;
    if (state === 'not-installed') return list;
    const file = this.world.infoFile(inst, 'list');
    let text: string;
    try {
      text = fs.readFileSync(file).toString('latin1');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const name = this.world.displayName(inst);
      if (code !== 'ENOENT') this.report.warning(`loading files list file for package '${name}': failed to read: ${(err as Error).message}`);
      if (state !== 'config-files' && inst.entry.configVersion !== undefined) {
        this.report.warning(`files list file for package '${name.slice(0, 250)}' missing; assuming package has no files currently installed`);
      }
      return list;
    }
    let pos = 0;
    while (pos < text.length) {
      const nl = text.indexOf('\n', pos);
      const name = this.world.displayName(inst).slice(0, 250);
      if (nl < 0) this.report.fatal(`files list file for package '${name}' is missing final newline`);
      let end = nl;
      if (end > pos && text[end - 1] === '/') end--;
      if (end === pos) this.report.fatal(`files list file for package '${name}' contains empty filename`);
      const node = this.find(text.slice(pos, end).split('\0')[0]);
      node.owners.unshift(inst);
      list.push(node);
      pos = nl + 1;
    }
    return list;
  }

  /** ensure_allinstfiles_available(): every instance's list, in dpkg's order (see above). */
  loadAll(): void {
    for (const inst of listOrder(this.world)) this.filesOf(inst);
  }

  /** ensure_diversions(): ADMINDIR/diversions, three lines per diversion (from, to, package or ':'). */
  loadDiversions(): void {
    if (this.diversionsLoaded) return;
    this.diversionsLoaded = true;
    const file = `${this.world.admindir}/diversions`;
    let text: string;
    try {
      text = fs.readFileSync(file).toString('latin1');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      return this.report.fatal(`failed to open diversions file: ${(err as Error).message}`);
    }
    const lines = text.split('\n');
    const last = lines.pop();
    if (last !== '') {
      // A last line without its newline: dpkg stops there, at whichever of the three reads met it.
      const index = lines.length;
      if (index % 3 === 0) this.report.fatal(`too-long line or missing newline in '${file.slice(0, 250)}'`);
      this.report.fatal(`too-long line or missing newline in '${file.slice(0, 250)}'`);
    }
    if (lines.length % 3 !== 0) this.report.fatal(`unexpected end of file reading '${file.slice(0, 250)}'`);
    for (let i = 0; i < lines.length; i += 3) {
      const from = this.find(lines[i]);
      const to = this.find(lines[i + 1]);
      const pkg = lines[i + 2] === ':' ? null : (this.world.findSet(lines[i + 2]).name as ByteString);
      if (from.divert || to.divert) this.report.fatal(`conflicting diversions involving '${from.name.slice(0, 250)}' or '${to.name.slice(0, 250)}'`);
      from.divert = { useinstead: to, pkgset: pkg };
      to.divert = { camefrom: from, pkgset: pkg };
    }
  }
}

/**
 * pkg_files_optimize_load(): the table's instances sorted by where their `.list` starts on disk: not
 * installed ones 0, those whose offset is unknown -1 (first), the others by offset.
 */
function listOrder(world: World): Inst[] {
  const all = world.hashOrder();
  const bsize = blockSize(`${world.admindir}/info`);
  if (bsize === undefined) return all;
  const offsets = all.map((inst) => (inst.entry.status.state === 'not-installed' ? 0 : firstExtentOffset(world.infoFile(inst, 'list'), bsize)));
  return all.map((inst, i) => ({ inst, i })).sort((a, b) => offsets[a.i] - offsets[b.i] || a.i - b.i).map((x) => x.inst);
}

/** path_skip_slash_dotslash(). */
function skip(path: string): string {
  let i = 0;
  while (path[i] === '/' || (path[i] === '.' && path[i + 1] === '/')) i++;
  return path.slice(i);
}
