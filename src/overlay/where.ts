import { baseName, isRootPath, joinRootPath, parentOf, type RootPath } from '../fs/rootpath';
import { attrOf, contentDigest, entryAt, refOf, symlinkTarget, type EntryKind, type LayerEntry, type LayerRef } from './layer-entry';
import type { LayerDir } from './layers';
import { followsRedirects, xattrPrefix, type OverlayFeatures } from './options';

/**
 * Where a path of the merged root lives, found by reading the layer folders the way overlayfs' lookup does
 * (fs/overlayfs/namei.c): the upper layer first, then each lower layer in the order the parent directory
 * merges them, a whiteout ending the search, an opaque directory ending the merge beneath it, and a
 * redirect (redirect_dir, or a metacopy file's) sending the search to another name in the layers below.
 * The merged view cannot tell any of this: it hides whiteouts and overlay attributes and answers stat with
 * whichever layer won.
 */

/**
 * - lower: only a lower layer provides it (`from` says which);
 * - copied-up: the upper layer has it and covers an entry of a lower layer at the same place (`same`
 *   says whether the two agree in type, mode, owner, size and content, symlink target or device number);
 * - upper: only the upper layer has it;
 * - hidden: a lower layer has it, but the merged view does not show it (`hiddenBy`: a whiteout, an opaque
 *   directory, or a non-directory above it);
 * - absent: no layer has it.
 */
export type WhereClass = 'lower' | 'copied-up' | 'upper' | 'hidden' | 'absent';

export type Difference = 'type' | 'mode' | 'owner' | 'size' | 'content' | 'target' | 'device';

/** What keeps a lower entry out of the merged view; `path` is in the overlay (it may lie above the root). */
export interface Mask {
  kind: 'whiteout' | 'opaque' | 'non-directory';
  path: RootPath;
  layer: LayerRef;
}

/** An entry in one layer: which layer, and its path there (another than the merged one below a redirect). */
export type LayerPlace = LayerRef & { path: RootPath };

export interface Where {
  /** The path asked about, in the root. */
  path: RootPath;
  class: WhereClass;
  /** What the merged view shows; for a hidden path, what is hidden. */
  kind?: EntryKind;
  size?: number;
  /** The entry the merged view shows. */
  from?: LayerPlace;
  /** copied-up: the lower entry the upper one covers. */
  beneath?: LayerPlace & { kind: EntryKind };
  same?: boolean;
  differs?: Difference[];
  /** Bytes the path's entry takes in the upper layer (st_blocks × 512; a whiteout's, if that is what is there). */
  upperBytes: number;
  /** `dev:ino` of the upper entry, so that hard links are counted once. */
  upperInode?: string;
  /** A metacopy file: the upper (or lower) entry holds metadata only; `dataFrom` holds the data. */
  metacopy?: boolean;
  dataFrom?: LayerPlace;
  /** The entry's overlay.redirect attribute (a renamed directory, or a renamed metacopy file). */
  redirect?: string;
  /** A directory marked opaque: nothing of the lower layers is merged into it. */
  opaque?: boolean;
  hiddenBy?: Mask;
}

/** One entry found for a name, with what overlayfs reads from it. */
interface Link {
  entry: LayerEntry;
  whiteout: boolean;
  opaque: boolean;
  metacopy: boolean;
  redirect?: string;
}

type Place = { layer: LayerDir; path: RootPath };

/** A directory of the merged view: the layer directories merged into it, topmost first. */
type DirState = { visible: true; stack: Place[]; cut?: Mask } | { visible: false; mask?: Mask };

export interface OverlayViewLayers {
  upper?: LayerDir;
  lower: readonly LayerDir[];
  data: readonly LayerDir[];
}

/**
 * Answers `where` for paths of one root on one overlay. Directory lookups are cached, so asking about many
 * paths under the same folders reads each folder's entries once; make a new view after the overlay changed.
 */
export class OverlayView {
  private readonly searchable: LayerDir[];
  private readonly prefix: string;
  private readonly dirs = new Map<RootPath, Promise<DirState>>();
  private readonly xwhiteoutDirs = new Map<string, Promise<boolean>>();

  constructor(
    private readonly layers: OverlayViewLayers,
    private readonly features: Pick<OverlayFeatures, 'userxattr' | 'redirectDir' | 'metacopy'>,
    /** Where the root lies inside the overlay ('' for the overlay's root). */
    private readonly rootOffset: RootPath = '' as RootPath,
  ) {
    this.searchable = [...(layers.upper ? [layers.upper] : []), ...layers.lower];
    this.prefix = xattrPrefix(features);
  }

  async where(p: RootPath): Promise<Where> {
    const op = this.inOverlay(p);
    if (op === '') return this.describe(p, await this.rootLinks());
    const parent = await this.dirState(parentOf(op));
    if (!parent.visible) return this.hiddenOrAbsent(p, op, parent.mask, this.layers.lower);
    const chain = await this.lookup(parent.stack, op);
    if (chain.length === 0) {
      const below = parent.cut ? this.layers.lower.filter((l) => !parent.stack.some((s) => s.layer === l)) : [];
      return this.hiddenOrAbsent(p, op, parent.cut, below);
    }
    return this.describe(p, chain);
  }

  private inOverlay(p: RootPath): RootPath {
    if (this.rootOffset === '') return p;
    return (p === '' ? this.rootOffset : `${this.rootOffset}/${p}`) as RootPath;
  }

  private async rootLinks(): Promise<Link[]> {
    const links: Link[] = [];
    for (const layer of this.searchable) {
      const e = await entryAt(layer, '' as RootPath);
      if (e) links.push(await this.linkOf(e, undefined));
    }
    return links;
  }

  /** The path is not visible: hidden if one of `layers` has it where the path names it, else absent. */
  private async hiddenOrAbsent(p: RootPath, op: RootPath, mask: Mask | undefined, layers: readonly LayerDir[]): Promise<Where> {
    if (mask) {
      for (const layer of layers) {
        const e = await entryAt(layer, op);
        if (e) return { path: p, class: 'hidden', hiddenBy: mask, from: place(e), kind: e.kind, upperBytes: 0 };
      }
    }
    return { path: p, class: 'absent', upperBytes: 0 };
  }

  private dirState(op: RootPath): Promise<DirState> {
    let s = this.dirs.get(op);
    if (!s) {
      s = this.computeDirState(op);
      this.dirs.set(op, s);
    }
    return s;
  }

  private async computeDirState(op: RootPath): Promise<DirState> {
    if (op === '') return { visible: true, stack: this.searchable.map((layer) => ({ layer, path: '' as RootPath })) };
    const parent = await this.dirState(parentOf(op));
    if (!parent.visible) return parent;
    const chain = await this.lookup(parent.stack, op);
    if (chain.length === 0) return { visible: false, mask: parent.cut };
    const top = chain[0];
    if (top.whiteout) return { visible: false, mask: maskAt('whiteout', op, top) };
    if (top.entry.kind !== 'directory') return { visible: false, mask: maskAt('non-directory', op, top) };
    const stack: Place[] = [placeIn(top.entry)];
    let cut: Mask | undefined = top.opaque ? maskAt('opaque', op, top) : undefined;
    for (let i = 1; i < chain.length && !cut; i++) {
      const l = chain[i];
      if (l.whiteout) cut = maskAt('whiteout', op, l);
      else if (l.entry.kind !== 'directory') cut = maskAt('non-directory', op, l);
      else {
        stack.push(placeIn(l.entry));
        if (l.opaque) cut = maskAt('opaque', op, l);
      }
    }
    return { visible: true, stack, cut: cut ?? parent.cut };
  }

  /**
   * Every entry for `op`'s name in the layers its parent merges, topmost first, following redirects into
   * the layers below the entry that has one. The search goes on past a whiteout, so that what it hides can
   * be named; describe() and computeDirState() apply overlayfs' rules to the chain.
   */
  private async lookup(stack: readonly Place[], op: RootPath): Promise<Link[]> {
    const chain: Link[] = [];
    let name = baseName(op);
    let absolute: RootPath | undefined;
    let places: readonly Place[] = stack;
    for (let i = 0; i < places.length; i++) {
      const { layer, path: dir } = places[i];
      const e = await entryAt(layer, absolute ?? joinRootPath(dir, name));
      if (!e) continue;
      const link = await this.linkOf(e, absolute === undefined ? dir : parentOf(absolute));
      chain.push(link);
      const r = this.redirectToFollow(link);
      if (r === undefined) continue;
      if (r.startsWith('/')) {
        // An absolute redirect names the path from each lower layer's root, in the layers below this one.
        absolute = r.slice(1) as RootPath;
        places = this.layers.lower.filter((l) => this.searchable.indexOf(l) > this.searchable.indexOf(layer)).map((l) => ({ layer: l, path: '' as RootPath }));
        i = -1;
      } else {
        name = r;
      }
    }
    return chain;
  }

  /** A redirect overlayfs would follow from this entry, if it is well formed; undefined otherwise. */
  private redirectToFollow(l: Link): string | undefined {
    if (l.redirect === undefined || l.whiteout) return undefined;
    const follow = l.entry.kind === 'directory' ? followsRedirects(this.features) : l.metacopy;
    if (!follow) return undefined;
    const r = l.redirect;
    if (r.startsWith('/')) return r.length > 1 && isRootPath(r.slice(1)) ? r : undefined;
    return r !== '' && !r.includes('/') && isRootPath(r) ? r : undefined;
  }

  private async linkOf(e: LayerEntry, dirInLayer: RootPath | undefined): Promise<Link> {
    const k = e.kind;
    const whiteout = (k === 'char' && e.st.rdev === 0) || (k === 'file' && e.st.size === 0 && dirInLayer !== undefined && (await this.isXwhiteout(e, dirInLayer)));
    if (whiteout) return { entry: e, whiteout, opaque: false, metacopy: false };
    const opaque = k === 'directory' && (await this.attr(e, 'opaque')) === 'y';
    const metacopy = k === 'file' && (await attrOf(e, `${this.prefix}metacopy`)) !== undefined;
    const redirect = k === 'directory' || metacopy ? await this.attr(e, 'redirect') : undefined;
    return { entry: e, whiteout, opaque, metacopy, redirect };
  }

  /**
   * A zero-size file marked overlay.whiteout is a whiteout only in a directory marked opaque=x (the
   * kernel's "alternative whiteout", made by tools that build layers; overlayfs never makes one itself).
   */
  private async isXwhiteout(e: LayerEntry, dirInLayer: RootPath): Promise<boolean> {
    if ((await attrOf(e, `${this.prefix}whiteout`)) === undefined) return false;
    const key = `${e.layer.role}:${e.layer.index}:${dirInLayer}`;
    let marked = this.xwhiteoutDirs.get(key);
    if (!marked) {
      marked = entryAt(e.layer, dirInLayer).then(async (d) => d !== undefined && (await this.attr(d, 'opaque')) === 'x');
      this.xwhiteoutDirs.set(key, marked);
    }
    return marked;
  }

  private async attr(e: LayerEntry, name: string): Promise<string | undefined> {
    return (await attrOf(e, `${this.prefix}${name}`))?.toString('utf8');
  }

  private async describe(p: RootPath, chain: Link[]): Promise<Where> {
    const top = chain[0];
    const op = this.inOverlay(p);
    if (top.whiteout) {
      const bytes = upperBytesOf(top.entry);
      const hidden = chain.slice(1).find((l) => !l.whiteout);
      if (hidden) return { path: p, class: 'hidden', hiddenBy: maskAt('whiteout', op, top), from: place(hidden.entry), kind: hidden.entry.kind, ...bytes };
      return { path: p, class: 'absent', ...bytes };
    }
    const e = top.entry;
    const below = chain[1] && !chain[1].whiteout ? chain[1] : undefined;
    const inUpper = e.layer.role === 'upper';
    const w: Where = {
      path: p,
      class: !inUpper ? 'lower' : below ? 'copied-up' : 'upper',
      kind: e.kind,
      size: e.st.size,
      from: place(e),
      ...upperBytesOf(e),
    };
    if (top.opaque) w.opaque = true;
    if (top.redirect !== undefined) w.redirect = top.redirect;
    if (top.metacopy) {
      w.metacopy = true;
      const data = await this.dataOf(chain, 0);
      if (data) w.dataFrom = place(data);
    }
    if (inUpper && below) {
      w.beneath = { ...place(below.entry), kind: below.entry.kind };
      w.differs = await this.compare(chain, 0, 1);
      w.same = w.differs.length === 0;
    }
    return w;
  }

  /**
   * The entry holding a file's data: itself, or for a metacopy file the first regular file below it in the
   * chain (its copy-up origin), or at its absolute redirect in the data-only layers.
   */
  private async dataOf(chain: Link[], k: number): Promise<LayerEntry | undefined> {
    const l = chain[k];
    if (!l.metacopy) return l.entry;
    for (let j = k + 1; j < chain.length; j++) {
      const below = chain[j];
      if (below.whiteout || below.entry.kind !== 'file') break;
      return this.dataOf(chain, j);
    }
    if (l.redirect?.startsWith('/') && isRootPath(l.redirect.slice(1))) {
      for (const layer of this.layers.data) {
        const d = await entryAt(layer, l.redirect.slice(1) as RootPath);
        if (d?.kind === 'file') return d;
      }
    }
    return undefined;
  }

  private async compare(chain: Link[], a: number, b: number): Promise<Difference[]> {
    const [x, y] = [chain[a].entry, chain[b].entry];
    if (x.kind !== y.kind) return ['type'];
    const out: Difference[] = [];
    if ((x.st.mode & 0o7777) !== (y.st.mode & 0o7777)) out.push('mode');
    if (x.st.uid !== y.st.uid || x.st.gid !== y.st.gid) out.push('owner');
    switch (x.kind) {
      case 'file': {
        if (x.st.size !== y.st.size) {
          out.push('size', 'content');
          break;
        }
        const [dx, dy] = await Promise.all([this.dataOf(chain, a), this.dataOf(chain, b)]);
        // A metacopy file's data is its origin's: the same file, nothing to read.
        if (!dx || !dy || dx.host === dy.host) break;
        const [hx, hy] = await Promise.all([contentDigest(dx.host), contentDigest(dy.host)]);
        if (hx !== hy) out.push('content');
        break;
      }
      case 'symlink':
        if ((await symlinkTarget(x.host)) !== (await symlinkTarget(y.host))) out.push('target');
        break;
      case 'char':
      case 'block':
        if (x.st.rdev !== y.st.rdev) out.push('device');
        break;
      default:
        break;
    }
    return out;
  }
}

function placeIn(e: LayerEntry): Place {
  return { layer: e.layer, path: e.path };
}

function place(e: LayerEntry): LayerPlace {
  return { ...refOf(e.layer), path: e.path };
}

function maskAt(kind: Mask['kind'], op: RootPath, l: Link): Mask {
  return { kind, path: op, layer: refOf(l.entry.layer) };
}

function upperBytesOf(e: LayerEntry): { upperBytes: number; upperInode?: string } {
  if (e.layer.role !== 'upper') return { upperBytes: 0 };
  return { upperBytes: e.st.blocks * 512, upperInode: `${e.st.dev}:${e.st.ino}` };
}
