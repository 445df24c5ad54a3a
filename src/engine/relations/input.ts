import { parseParagraphs } from '../../control/deb822';
import type { Paragraph } from '../../control/paragraph';
import type { Db } from '../../db/db';
import type { PackageRow } from '../../db/types';
import type { DpkgDb, DpkgPackage } from '../../dpkg/dpkg-db';
import type { InstalledPackage, MultiArch, PackageData, PackageStatus, Selection } from '../../dpkg/relations';
import { displayPath, type RootPath } from '../../fs/rootpath';
import type { StagedPackage } from '../../model/staged-package';

/**
 * The relations planner's view of what is installed and of what is coming, read from the sources the
 * engine has: dpkg's database when the root has one (it is what dpkg itself would judge by), overmerge's
 * own otherwise; control paragraphs of the archives. Reads only.
 */

/** `name:arch`: how the file-list requests below name an instance. */
export const instanceKey = (name: string, arch: string): string => `${name}:${arch}`;

const yes = (v: string | undefined): boolean => (v ?? '').trim().toLowerCase() === 'yes';

/** The control fields the planner reads, from a paragraph (an archive's control file, or a status stanza). */
export function controlData(p: Paragraph, name: string, version: string, architecture: string): PackageData {
  const ma = (p.get('Multi-Arch') ?? 'no').trim().toLowerCase();
  return {
    name,
    version,
    architecture,
    multiArch: (['same', 'foreign', 'allowed'].includes(ma) ? ma : 'no') as MultiArch,
    essential: yes(p.get('Essential')),
    protected: yes(p.get('Protected')),
    preDepends: p.get('Pre-Depends'),
    depends: p.get('Depends'),
    recommends: p.get('Recommends'),
    breaks: p.get('Breaks'),
    conflicts: p.get('Conflicts'),
    replaces: p.get('Replaces'),
    provides: p.get('Provides'),
    // dpkg checks an archive's relations in its control file's order (it decides which problem comes first).
    fieldOrder: p.fields.map(([n]) => n),
  };
}

/**
 * An archive's name as dpkg's notices give it ("regarding .../hello_1.0_all.deb containing hello"): a long
 * path loses its leading folders, one at a time, until what is left is at most 30 characters or has no
 * folder left, and says so with `.../`.
 */
export function summarizedArchiveName(file: string): string {
  let rest = file;
  while (rest.length > 30 && rest.includes('/')) rest = rest.slice(rest.indexOf('/') + 1);
  return rest === file ? file : `.../${rest}`;
}

/** An archive as the planner takes it: its control data, whether it has a postinst, and (once staged) its paths. */
export function archiveData(a: { archive: string; control: Paragraph; controlFiles: ReadonlyMap<string, Buffer>; entries?: StagedPackage['entries'] }): PackageData {
  const c = a.control;
  const data = controlData(c, c.get('Package') ?? '', c.get('Version') ?? '', c.get('Architecture') ?? '');
  return {
    ...data,
    hasPostinst: a.controlFiles.has('postinst'),
    archive: summarizedArchiveName(a.archive),
    // Root paths are the relations' normalised form already (normalisePath): no second string per member.
    ...(a.entries ? { files: a.entries.paths() } : {}),
  };
}

/**
 * Every package dpkg's database lists (not-installed entries left out), with the complete file list of
 * those `withFiles` asks for (the planner needs them to find packages that disappear).
 */
export function installedFromDpkg(dpkg: DpkgDb, withFiles: ReadonlySet<string>): InstalledPackage[] {
  dpkg.refresh();
  const out: InstalledPackage[] = [];
  const infoFiles = dpkg.infoFilesLister();
  for (const p of dpkg.packages()) {
    if (p.status.state === 'not-installed') continue;
    const ref = { name: p.name, arch: p.arch };
    const data = installedControlData(p);
    out.push({
      ...data,
      // The status file's field order is dpkg's own, which is also the planner's default.
      fieldOrder: undefined,
      essential: p.essential,
      hasPostinst: infoFiles(ref).includes('postinst'),
      hasConffiles: p.conffiles.length > 0,
      ...(withFiles.has(instanceKey(p.name, p.arch)) ? { files: dpkg.files(ref) } : {}),
      status: p.status.state as PackageStatus,
      want: p.status.want as Selection,
      ...(p.configVersion !== undefined ? { configVersion: p.configVersion } : {}),
    });
  }
  return out;
}

/**
 * A memo by the status paragraph itself: dpkg's database makes each stanza's paragraph once and freezes it
 * (package-view.ts), and every judgement of relations reads every installed package's (two a transaction
 * in a bootstrap); what it returns is copied, never changed.
 */
const installedData = new WeakMap<Paragraph, PackageData>();

function installedControlData(p: DpkgPackage): PackageData {
  let data = installedData.get(p.paragraph);
  if (data === undefined) {
    data = controlData(p.paragraph, p.name, p.version ?? '', p.arch);
    installedData.set(p.paragraph, data);
  }
  return data;
}

/**
 * Every package overmerge's own database lists, for a root without dpkg's: no maintainer scripts ever ran
 * there (there is nowhere to keep them), so none has a postinst.
 */
export function installedFromDb(db: Db, withFiles: ReadonlySet<string>): InstalledPackage[] {
  return db.packages.list().map((row) => {
    const para = parseParagraphs(row.control, { source: `control of ${row.name}` })[0];
    const data = para ? controlData(para, row.name, row.version, row.architecture) : { name: row.name, version: row.version, architecture: row.architecture };
    const files = withFiles.has(instanceKey(row.name, row.architecture)) ? dbFileList(db, row) : undefined;
    return {
      ...data,
      fieldOrder: undefined,
      hasPostinst: false,
      hasConffiles: files === undefined ? undefined : [...db.files.filesOf(row.id)].some((f) => f.conffile),
      ...(files ? { files } : {}),
      status: row.status as PackageStatus,
    };
  });
}

function dbFileList(db: Db, row: PackageRow): string[] {
  return [...db.files.filesOf(row.id)].map((f) => displayPath(f.path as RootPath));
}

/**
 * The installed instances (`name:arch`) owning a non-directory path one of `installs` ships where it lands:
 * only they can disappear, so only their file lists are read. (The planner then treats a folder they share
 * with packages whose lists it was not given as theirs alone: such a package is kept where dpkg might let it
 * disappear — never the other way round.)
 */
export function possiblyDisappearing(db: Db, installs: ReadonlyArray<{ staged: StagedPackage; resolved: ReadonlyMap<RootPath, RootPath> }>): Set<string> {
  const own = new Set(installs.map((i) => instanceKey(i.staged.name, i.staged.architecture)));
  const out = new Set<string>();
  // By index: the path and the type of each member, not the whole entry decoded.
  const landing = function* (): Generator<RootPath> {
    for (const i of installs) {
      const m = i.staged.entries;
      for (let k = 0; k < m.length; k++) {
        if (m.kindAt(k).type === 'directory') continue;
        const p = m.pathAt(k);
        yield i.resolved.get(p) ?? p;
      }
    }
  };
  for (const rows of db.files.ownersOfMany(landing()).values()) {
    for (const o of rows) {
      const k = instanceKey(o.name, o.architecture);
      if (!own.has(k)) out.add(k);
    }
  }
  return out;
}
