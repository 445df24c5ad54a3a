import { withSuffix, type RootPath } from '../fs/rootpath';
import { ABSENT, type DiskState } from '../model/disk';
import type { ManifestEntry } from '../model/entry';
import { refOf, type InstalledFile, type InstalledPackage } from '../model/package';
import { conffileVerdict, decideConffile, keptNotice, replacedNotice, type ConffileOnDisk } from './conffile-rules';
import type { PathStep, Plan, PlanOptions } from './plan-model';

/** A package to configure: its rows as unpack left them. */
export interface ConfigureInput {
  packages: InstalledPackage[];
  /** Disk states (md5 of regular files) of each conffile, its `.dpkg-new` and the names beside it. */
  disk: ReadonlyMap<RootPath, DiskState>;
  options: PlanOptions;
}

/** The names beside a conffile that configure looks at. */
export function configureCompanions(p: RootPath): RootPath[] {
  return ['.dpkg-new', '.dpkg-old', '.dpkg-dist'].map((s) => withSuffix(p, s));
}

/**
 * Configuring unpacked packages, as far as files go: each conffile whose new version unpack left as
 * `.dpkg-new` gets dpkg's conffile rules (conffile-rules.ts) — put in place, kept beside the
 * administrator's as `.dpkg-dist`, or dropped when the root already holds what it should. The rows then
 * record the distributed hash as the configured one, and the package is installed. Pure.
 */
export function planConfigure(input: ConfigureInput): Plan {
  const plan: Plan = { steps: [], records: [], deleted: [], disowned: [], changes: [], notices: [], bytes: 0 };
  const disk = (p: RootPath): DiskState => input.disk.get(p) ?? ABSENT;
  for (const pkg of input.packages) {
    const files: InstalledFile[] = [];
    for (const f of pkg.files) {
      files.push(f.conffile ? { ...f, conffileHash: f.md5 } : f);
      if (!f.conffile) continue;
      const pending = withSuffix(f.path, '.dpkg-new');
      const next = disk(pending);
      // Nothing beside it: unpack found the root already holding the new version, or it was configured.
      if (next.type !== 'file') continue;
      plan.steps.push(...conffileSteps(pkg.name, f, pending, next, disk, input.options, plan));
      plan.bytes += next.size ?? 0;
    }
    plan.records.push({ ref: refOf(pkg), status: 'installed', files });
    plan.changes.push({ name: pkg.name, architecture: pkg.architecture, action: 'configure', newVersion: pkg.version });
  }
  return plan;
}

function conffileSteps(
  pkg: string,
  f: InstalledFile,
  pending: RootPath,
  next: DiskState,
  disk: (p: RootPath) => DiskState,
  options: PlanOptions,
  plan: Plan,
): PathStep[] {
  const d = disk(f.path);
  const current: ConffileOnDisk = d.type === 'absent' ? 'absent' : { md5: d.type === 'file' ? d.md5 : undefined };
  const into = (to: RootPath): PathStep => ({ kind: 'rename', from: pending, path: to, aside: asideFor(disk(to)) });
  const removeIfPresent = (p: RootPath): PathStep[] => (disk(p).type === 'absent' ? [] : [{ kind: 'remove', path: p }]);
  const verdict = conffileVerdict(current, f.conffileHash, next.md5 ?? '', options.conffiles.forces);
  const decision = decideConffile(pkg, f.path, verdict, options.conffiles, { kind: 'beside', path: pending });
  if (decision.question) (plan.questions ??= []).push(decision.question);
  if (decision.note) (plan.conffileNotes ??= []).push({ path: f.path, note: decision.note });
  const old = withSuffix(f.path, '.dpkg-old');
  const dist = withSuffix(f.path, '.dpkg-dist');
  switch (decision.outcome) {
    case 'install':
      return [into(f.path)];
    case 'drop':
      return [{ kind: 'remove', path: pending }];
    case 'keep-backup':
      // As dpkg: an older .dpkg-old goes, the new version waits beside as .dpkg-dist.
      plan.notices.push(keptNotice(pkg, f.path, current === 'absent', dist));
      return [...removeIfPresent(old), into(dist)];
    case 'install-backup': {
      // As dpkg: an older .dpkg-dist goes, the administrator's version becomes the .dpkg-old.
      if (current === 'absent') {
        plan.notices.push(replacedNotice(pkg, f.path, undefined));
        return [...removeIfPresent(dist), ...removeIfPresent(old), into(f.path)];
      }
      plan.notices.push(replacedNotice(pkg, f.path, old));
      const link: ManifestEntry = { path: old, type: 'hardlink', linkTo: f.path, mode: f.mode, uid: f.uid, gid: f.gid, mtime: f.mtime, size: 0, conffile: false };
      return [...removeIfPresent(dist), { kind: 'place-special', path: old, entry: link, aside: asideFor(disk(old)), linkTo: f.path }, into(f.path)];
    }
  }
}

function asideFor(d: DiskState): 'none' | 'link' | 'move' {
  return d.type === 'absent' ? 'none' : d.type === 'directory' ? 'move' : 'link';
}
