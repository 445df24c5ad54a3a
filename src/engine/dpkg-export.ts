import { parseParagraphs } from '../control/deb822';
import { fromText } from '../dpkg/bytes';
import type { Db } from '../db/db';
import type { DpkgDb, InfoOwner, StatusTriple } from '../dpkg/dpkg-db';
import type { MultiArch } from '../dpkg/model';
import { displayPath, type RootPath } from '../fs/rootpath';
import type { StagedPackage } from '../model/staged-package';
import type { InstalledFile, PackageRef } from '../model/package';
import type { PackageRecord, Plan } from './plan-model';
import type { DpkgChangeStep, DpkgIntent } from './steps/dpkg-change';
import { formatTriggersAwaited, formatTriggersPending } from '../dpkg/triggers';
import { fieldsKey, type TriggerFields } from './trigger-activation';

/**
 * The changes to dpkg's database that go with a plan, once its files are in place, in the order dpkg
 * makes them: the package's info files (control members, the `.list`), then its stanza with the new
 * Status, version, control fields and Conffiles; the `.list` of a package that lost files to another
 * (Replaces, --force-overwrite) without them; a removed package's info files but its postrm and `.list`
 * (which then holds what is left); a purged package's info files and stanza forgotten. The state changes
 * before the files (half-installed with reinstreq, ...) are dpkg's maintainer-script protocol's
 * (script-plan.ts). Reads dpkg's database (what is there now) and overmerge's (control text of packages
 * without an archive in this transaction); changes nothing.
 */
export function dpkgStepsFor(plan: Plan, dpkg: DpkgDb, db: Db, triggerFields: ReadonlyMap<string, TriggerFields> = new Map()): DpkgChangeStep[] {
  const epilogue: DpkgChangeStep[] = [];
  const step = (intent: DpkgIntent): DpkgChangeStep => ({ kind: 'dpkg-change', intent });
  const deleted = new Set(plan.deleted.map(key));
  for (const rec of plan.records) {
    const now = dpkg.get(rec.ref.name, rec.ref.architecture);
    const owner = ownerOf(rec.ref, rec.staged?.control.get('Multi-Arch') ?? (now?.multiArch === 'same' ? 'same' : undefined));
    if (rec.staged) {
      epilogue.push(step({ op: 'info', owner, files: controlMembers(rec.staged) }));
      epilogue.push(step({ op: 'list', owner, paths: shippedList(rec.staged) }));
    } else if (REMOVING.has(rec.status)) {
      // dpkg keeps the postrm (for the purge) and the list, which now holds only what remains: the
      // conffiles, the folders holding them, and the root folder, which is never removed — but dpkg leaves
      // out a folder another package still lists, and keeps nothing when nothing else remains (no
      // conffiles). Checked against dpkg 1.21 under apt, on a chroot where every package lists '/.'.
      epilogue.push(step({ op: 'remove-info', owner, keep: ['postrm', 'list'] }));
      const left = rec.files.map((f) => displayPath(f.path));
      const hadRoot = now !== undefined && now.status.state !== 'not-installed' && dpkg.files({ name: rec.ref.name, arch: rec.ref.architecture }).includes('/.');
      const keepRoot = hadRoot && left.length > 0 && !rootListedByOthers(dpkg, rec.ref);
      epilogue.push(step({ op: 'list', owner, paths: keepRoot ? ['/.', ...left] : left }));
    }
    const control = rec.staged?.controlText ?? db.packages.get(rec.ref.name, rec.ref.architecture)?.control ?? '';
    epilogue.push(step({ op: 'package', fields: [...stanzaFields(control, rec, now?.configVersion), ...triggerLines(triggerFields.get(fieldsKey(rec.ref)))] }));
  }
  for (const ref of plan.deleted) {
    const now = dpkg.get(ref.name, ref.architecture);
    if (now === undefined || now.status.state === 'not-installed') continue;
    epilogue.push(step({ op: 'remove-info', owner: ownerOf(ref, now.multiArch === 'same' ? 'same' : undefined), keep: [] }));
    epilogue.push(step({ op: 'forget', name: ref.name, arch: ref.architecture }));
  }
  for (const [k, lost] of disownedByOwner(plan)) {
    const [name, arch] = k.split('\u0000');
    if (deleted.has(k)) continue;
    const now = dpkg.get(name, arch);
    if (now === undefined || now.status.state === 'not-installed') continue;
    const gone = new Set(lost.map(displayPath));
    epilogue.push(step({ op: 'list', owner: ownerOf({ name, architecture: arch }, now.multiArch === 'same' ? 'same' : undefined), paths: dpkg.files({ name, arch }).filter((p) => !gone.has(p)) }));
  }
  return epilogue;
}

/** States of a package whose files went: what remains in info/ is its postrm and its `.list`. */
const REMOVING = new Set(['config-files', 'half-installed']);

function key(r: Pick<PackageRef, 'name' | 'architecture'>): string {
  return `${r.name}\u0000${r.architecture}`;
}

function disownedByOwner(plan: Plan): Map<string, RootPath[]> {
  const out = new Map<string, RootPath[]>();
  for (const d of plan.disowned) {
    const k = key(d.owner);
    out.set(k, [...(out.get(k) ?? []), d.path]);
  }
  return out;
}

function triple(want: StatusTriple['want'], flag: StatusTriple['flag'], state: StatusTriple['state']): StatusTriple {
  return { want, flag, state };
}

function ownerOf(ref: Pick<PackageRef, 'name' | 'architecture'>, multiArch: string | undefined): InfoOwner {
  return { name: ref.name, arch: ref.architecture, multiArch: (multiArch?.toLowerCase() ?? 'no') as MultiArch };
}

/**
 * Every control member dpkg keeps in info/: all of control.tar's files but `control` itself. An archive
 * without `md5sums` (one built with plain `dpkg-deb -b`) gets the one dpkg writes for it: the MD5 of each
 * regular file and hard link, conffiles included, in archive order — so that `dpkg --verify` and
 * `dpkg --audit` find what they find after dpkg.
 */
function controlMembers(staged: StagedPackage): Record<string, { data: Buffer }> {
  const out: Record<string, { data: Buffer }> = {};
  for (const [name, data] of staged.controlFiles) if (name !== 'control') out[name] = { data };
  if (!staged.controlFiles.has('md5sums')) {
    const lines: string[] = [];
    for (const e of staged.entries) if (e.md5 !== undefined) lines.push(`${e.md5}  ${displayPath(e.path).slice(1)}\n`);
    if (lines.length > 0) out.md5sums = { data: Buffer.from(fromText(lines.join('')), 'latin1') };
  }
  return out;
}

/** The package's paths as dpkg's `.list` holds them: as shipped, in archive order, `/.` for the root. */
function shippedList(staged: StagedPackage): string[] {
  return staged.entries.paths().map(displayPath);
}

const STATE_OF: Record<string, StatusTriple> = {
  installed: triple('install', 'ok', 'installed'),
  unpacked: triple('install', 'ok', 'unpacked'),
  'half-configured': triple('install', 'ok', 'half-configured'),
  'config-files': triple('deinstall', 'ok', 'config-files'),
  // A removal whose postrm is still to run (script-tail.ts records the end state after it).
  'half-installed': triple('deinstall', 'ok', 'half-installed'),
};

/**
 * The package's stanza: its control fields as the archive had them (dpkg keeps them all), Status, the
 * Conffiles with the hashes the package last distributed (`newconffile` for one never configured;
 * `obsolete` for one a newer version no longer ships), and Config-Version while it is unpacked over a
 * configured version.
 */
function stanzaFields(control: string, rec: PackageRecord, configVersion: string | undefined): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  const para = parseParagraphs(control, { source: `control of ${rec.ref.name}` })[0];
  // dpkg forgets Essential and Protected of a package whose files are gone (remove.c).
  const skip = new Set(['status', 'conffiles', 'config-version', ...(rec.status === 'config-files' ? ['essential', 'protected'] : [])]);
  const t = STATE_OF[rec.status] ?? triple('install', 'ok', rec.status as StatusTriple['state']);
  for (const [name, value] of para?.fields ?? []) {
    if (skip.has(name.toLowerCase())) continue;
    if (name.toLowerCase() === 'version') fields.push(['Version', rec.ref.version]);
    else fields.push([name, value]);
    if (name.toLowerCase() === 'package') fields.push(['Status', `${t.want} ${t.flag} ${t.state}`]);
  }
  const conffiles = conffileLines(rec);
  if (conffiles.length > 0) fields.push(['Conffiles', ['', ...conffiles].join('\n')]);
  // The version last configured, which dpkg writes for every state short of installed.
  if (rec.status !== 'installed' && configVersion !== undefined) fields.push(['Config-Version', configVersion]);
  return fields;
}

/** A package's trigger fields as its stanza holds them (none when empty). */
function triggerLines(t: TriggerFields | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (t && t.awaited.length > 0) out.push(['Triggers-Awaited', formatTriggersAwaited(t.awaited)]);
  if (t && t.pending.length > 0) out.push(['Triggers-Pending', formatTriggersPending(t.pending)]);
  return out;
}

function conffileLines(rec: PackageRecord): string[] {
  const shipped = new Set<string>(rec.staged?.conffiles ?? []);
  return rec.files
    .filter((f: InstalledFile) => f.conffile)
    .map((f) => {
      const obsolete = rec.staged !== undefined && !shipped.has(f.path);
      return `${displayPath(f.path)} ${f.conffileHash ?? 'newconffile'}${obsolete ? ' obsolete' : ''}`;
    });
}

/** Whether a package other than `ref` still lists the root folder ('/.') in dpkg's database. */
function rootListedByOthers(dpkg: DpkgDb, ref: { name: string; architecture: string }): boolean {
  return dpkg.packages().some((p) => {
    if (p.name === ref.name && p.arch === ref.architecture) return false;
    if (p.status.state === 'not-installed') return false;
    return dpkg.files({ name: p.name, arch: p.arch }).includes('/.');
  });
}
