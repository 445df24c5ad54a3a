import { lstatSync, type BigIntStats } from 'node:fs';
import { archiveIdentity } from '../archive/identity';
import { hostPath, type Root, type RootPath } from '../fs/rootpath';
import type { DiskState } from '../model/disk';
import type { StagedPackage } from '../model/staged-package';
import { diskStateOf, type Probe } from './probe';

/** One regular file as the laying transaction left it: where it landed and what lstat said right after. */
interface LaidFile {
  at: RootPath;
  state: DiskState;
}

interface LaidArchive {
  /** The archive file's identity when it was read (archiveIdentity): the same archive, unchanged. */
  identity: string | undefined;
  /** Its manifest, without staged content. */
  manifest: StagedPackage;
  /** Each regular file member (by shipped path) as laid. */
  files: Map<RootPath, LaidFile>;
}

/**
 * The files an earlier transaction of this process laid from archives, owned by no package (a bootstrap's
 * extraction, extract.ts): when the same archives are then installed, a package whose every regular file
 * is still exactly as laid — same inode, same change time, so nothing wrote, renamed, chmod-ed or linked
 * it since — takes its manifest from here and claims those files as the root holds them (claimsExisting),
 * instead of decoding its data.tar again and replacing each file with an identical copy.
 *
 * The claim is checked where staging happens, or only after the maintainer scripts that run before the
 * files where the caller checks it then anyway (install.ts): a package whose files changed is staged
 * from its archive after all.
 * Nothing here writes; a new process (a resumed bootstrap) has none of it and stages as usual.
 */
export class LaidFiles {
  private readonly archives = new Map<string, LaidArchive>();
  /** The manifests handed out by claim(): only these are claims to check again. */
  private readonly claims = new WeakSet<StagedPackage>();

  /**
   * Notes what a committed transaction laid from one archive: `resolved` is where its members landed in
   * `root` (the state of each file now is the reference every claim is held to).
   */
  note(identity: string | undefined, staged: StagedPackage, resolved: ReadonlyMap<RootPath, RootPath>, root: Root): void {
    const files = new Map<RootPath, LaidFile>();
    const m = staged.entries;
    for (let k = 0; k < m.length; k++) {
      // A member dpkg's path filters kept out was never laid: it is recorded, never claimed.
      const kind = m.kindAt(k);
      if (kind.type !== 'file' || kind.filtered) continue;
      const path = m.pathAt(k);
      const at = resolved.get(path) ?? path;
      // A plain lstat, right after the commit (3,700 files after a bootstrap's extraction, before anything
      // else can run): were a folder on the way replaced by a symlink, the state read would be another
      // file's, and the claim — checked by a probe, which reads nothing through a symlink — would fail.
      const st = lstatOrUndefined(hostPath(root, at));
      if (st === undefined || !st.isFile()) return; // not as laid: never claimed
      files.set(path, { at, state: diskStateOf(st) });
    }
    const entries = staged.entries.withoutStaged(false);
    this.archives.set(staged.archive, { identity, manifest: { ...staged, entries }, files });
  }

  /**
   * The manifest of `archive` with every regular file claimed as it stands, and where its members land —
   * if this process laid it and every file is still as laid; otherwise undefined (stage it). Its symlinks
   * are claimed too: the plan leaves each alone where the root holds that very link, and makes it again
   * where it does not (plan.ts), so they need no check here.
   */
  async claim(archive: string, probe: Probe, opts: { checkedLater?: boolean } = {}): Promise<{ staged: StagedPackage; resolved: Map<RootPath, RootPath> } | undefined> {
    const laid = this.archives.get(archive);
    if (laid === undefined || laid.identity === undefined || laid.identity !== archiveIdentity(archive)) return undefined;
    const staged: StagedPackage = {
      ...laid.manifest,
      entries: laid.manifest.entries.withoutStaged(true),
    };
    const resolved = await probe.resolveAll(staged);
    // `checkedLater`: the caller checks the claim after its scripts (holds), which forget what the probe
    // saw: a look now would be the same lstat of every file made twice (4,500 in a bootstrap), and a claim
    // that does not hold then is staged from its archive as one a preinst broke.
    if (opts.checkedLater !== true && !(await this.intact(laid, resolved, probe))) return undefined;
    this.claims.add(staged);
    return { staged, resolved };
  }

  /** Whether `staged` is a claim of claim(). */
  isClaim(staged: StagedPackage): boolean {
    return this.claims.has(staged);
  }

  /** Whether a claim still holds: each file where it was laid and untouched since (after scripts ran). */
  async holds(staged: StagedPackage, resolved: ReadonlyMap<RootPath, RootPath>, probe: Probe): Promise<boolean> {
    const laid = this.archives.get(staged.archive);
    return laid !== undefined && (await this.intact(laid, resolved, probe));
  }

  private async intact(laid: LaidArchive, resolved: ReadonlyMap<RootPath, RootPath>, probe: Probe): Promise<boolean> {
    for (const [shipped, file] of laid.files) {
      if ((resolved.get(shipped) ?? shipped) !== file.at) return false;
      if (!sameState(await probe.look(file.at), file.state)) return false;
    }
    return true;
  }
}

/**
 * The same inode, untouched: any write, chmod, chown, link or rename moves the change time, and a file
 * put in its place has another inode. Size, mode, owner and mtime are compared too, as a guard.
 */
function sameState(now: DiskState, then: DiskState): boolean {
  return (
    now.type === 'file' &&
    now.ino === then.ino &&
    now.ctimeNs === then.ctimeNs &&
    now.size === then.size &&
    now.mtimeNs === then.mtimeNs &&
    now.mode === then.mode &&
    now.uid === then.uid &&
    now.gid === then.gid
  );
}

function lstatOrUndefined(p: string): BigIntStats | undefined {
  try {
    return lstatSync(p, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR and the like: not as laid
  }
}
