import * as fs from 'node:fs';
import { adminDir, statusPath, updatesPath, type AdminDir } from '../../../dpkg/admindir';
import { byteString, type ByteString } from '../../../dpkg/bytes';
import { corrupt } from '../../../dpkg/corrupt';
import { blankEntry, EntryError, readEntry, type StanzaKind } from '../../../dpkg/entry';
import { readInfoFormat } from '../../../dpkg/info-files';
import { infoFileName, infoPrefix } from '../../../dpkg/info-names';
import { stateIndex, type PkgEntry, type PkgState } from '../../../dpkg/model';
import { PackageTable, TableError } from '../../../dpkg/package-table';
import { scanStanzas, StanzaError, type RawStanza } from '../../../dpkg/stanza';
import { listUpdates } from '../../../dpkg/updates';
import { OvermergeError } from '../../../errors';
import { ArchList, type ArchType } from '../arch-list';
import type { Reporter } from '../report';
import { availIsInformative, readAvailable, replacesAvail, AvailError, type AvailEntry } from './available';
import { relationNames, RELATION_FIELDS } from './relation-names';

/**
 * dpkg's database as one run of dpkg holds it in memory (lib/dpkg/pkg-hash.c, parse.c, dbmodify.c
 * modstatdb_open): package *sets* by name, each with its *instances* (one per architecture), including the
 * sets dpkg creates for every name it meets — in a relation field, a Triggers-Awaited field, a diversion —
 * which have a single blank instance. That is why `dpkg -l 'PATTERN'` lists `un` lines for names nothing
 * installs, and why the order dpkg walks its packages in is its hash table's: bins of FNV-1a of the name
 * modulo 65521, names sharing a bin in the order they were met, instances of a set in the order they were
 * made. The content of each instance is read by src/dpkg (entry.ts, package-table.ts), as for DpkgDb.
 *
 * Read-only: actions that write go through DpkgDb (src/dpkg/dpkg-db.ts).
 */
export interface Inst {
  readonly set: PkgSet;
  /** The installed half as read (a blank one for an instance made only by a reference). */
  entry: PkgEntry;
  /** No architecture at all (a blank slot), as opposed to an empty Architecture field. */
  archNone: boolean;
  /** The available half (the `available` file), when it was loaded. */
  available?: AvailEntry;
  /**
   * Section and Priority belong to the package in dpkg, not to a half: reading `available` after status
   * replaces them with the available stanza's (status is read "weakly", available not). Set when that
   * happened; otherwise the installed half's apply.
   */
  section?: ByteString;
  priority?: ByteString;
}

export interface PkgSet {
  readonly name: ByteString;
  readonly insts: Inst[];
}

const BINS = 65521;

export class World {
  readonly sets = new Map<string, PkgSet>();
  readonly admin: AdminDir;
  readonly infoFormat: number;
  /**
   * The paths of triggers/File (file trigger interests), in order: dpkg reads them when it opens the
   * database, read-only included, and so meets these paths before any `.list` (see fsys.ts).
   */
  readonly triggerPaths: string[] = [];
  private readonly table: PackageTable;

  private constructor(
    readonly admindir: string,
    readonly arches: ArchList,
  ) {
    this.admin = adminDir(admindir);
    this.table = new PackageTable(arches.native);
    this.infoFormat = 0;
  }

  /** modstatdb_open(msdbrw_readonly): the arch list, status, then every update entry. */
  static open(admindir: string, native: string, report: Reporter): World {
    const w = new World(admindir, ArchList.load(native, admindir, report));
    try {
      w.load(statusPath(w.admin), 'status');
      for (const { name } of listUpdates(w.admin)) w.load(updatesPath(w.admin, name), 'update');
      (w as { infoFormat: number }).infoFormat = readInfoFormat(w.admin);
      w.readFileTriggers(report);
    } catch (err) {
      if (err instanceof OvermergeError) report.fatal(err.message);
      throw err;
    }
    return w;
  }

  /** An empty world (modstatdb_init() without opening: --merge-avail reads no status). */
  static empty(admindir: string, native: string, report: Reporter): World {
    return new World(admindir, ArchList.load(native, admindir, report));
  }

  /**
   * parsedb(pdb_parse_available [| pdb_ignoreolder]): the stanzas of an available or Packages file into
   * the available halves. Returns how many were taken. `file` '-' with `text` given: standard input.
   */
  loadAvailable(file: string, report: Reporter, options: { ignoreOlder?: boolean; text?: Buffer } = {}): number {
    let bytes = options.text;
    if (bytes === undefined) {
      try {
        bytes = fs.readFileSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
        report.fatal(`failed to open package info file '${file.slice(0, 255)}' for reading: ${errnoText(err)}`);
      }
    }
    let read: ReturnType<typeof readAvailable>;
    try {
      read = readAvailable(byteString(bytes));
    } catch (err) {
      if (err instanceof AvailError) {
        for (const w of err.warnings) report.warning(`parsing file '${file}' near line ${w.line} package '${w.name}':\n ${w.message}`);
        const who = err.pkg === undefined ? '' : ` package '${err.pkg}'`;
        report.fatal(`parsing file '${file}' near line ${err.line}${who}:\n ${err.problem}`);
      }
      throw err;
    }
    for (const w of read.warnings) report.warning(`parsing file '${file}' near line ${w.line} package '${w.name}':\n ${w.message}`);
    let count = 0;
    for (const { entry, names } of read.entries) {
      for (const name of names) this.findSet(name);
      const set = this.findSet(entry.name);
      const inst = this.installedInstances(set) === 1 && entry.multiArch !== 'same' ? this.singleton(set)! : this.instanceFor(set, entry.arch);
      if (inst.available && !replacesAvail(inst.available, entry.version)) continue;
      if (entry.section !== undefined) inst.section = entry.section;
      if (entry.priority !== undefined) inst.priority = entry.priority;
      inst.available = entry;
      count++;
    }
    return count;
  }

  /** Section as dpkg holds it for the package (see Inst.section). */
  sectionOf(inst: Inst): ByteString | undefined {
    return inst.section ?? inst.entry.section;
  }

  priorityOf(inst: Inst): ByteString | undefined {
    return inst.priority ?? inst.entry.priority;
  }

  availableInformative(inst: Inst): boolean {
    return inst.available !== undefined && availIsInformative(inst.available);
  }

  /** pkg_hash_find_set(): the set of `name` (any case), made (with a blank instance) when new. */
  findSet(name: string): PkgSet {
    const lower = name.toLowerCase() as ByteString;
    let set = this.sets.get(lower);
    if (!set) {
      set = { name: lower, insts: [] };
      set.insts.push(blank(set));
      this.sets.set(lower, set);
    }
    return set;
  }

  /** Every instance in dpkg's hash order (pkg_hash_iter_next_pkg). */
  hashOrder(): Inst[] {
    const sets = [...this.sets.values()].map((set, seen) => ({ set, seen, bin: fnv1a(set.name) % BINS }));
    sets.sort((a, b) => a.bin - b.bin || a.seen - b.seen);
    return sets.flatMap((s) => s.set.insts);
  }

  /** Every instance sorted as pkg_array_sort(pkg_sorter_by_nonambig_name_arch) leaves them. */
  sorted(): Inst[] {
    const all = this.hashOrder();
    // glibc's qsort is a merge sort for arrays this size: stable, so equal keys keep the hash order.
    return all.map((inst, i) => ({ inst, i })).sort((a, b) => this.compare(a.inst, b.inst) || a.i - b.i).map((x) => x.inst);
  }

  /** pkg_sorter_by_nonambig_name_arch(). */
  private compare(a: Inst, b: Inst): number {
    if (a.set !== b.set) return byteCompare(a.set.name, b.set.name);
    if (this.sameArch(a, b)) return 0;
    if (this.needsArch(a)) return this.needsArch(b) ? byteCompare(a.entry.arch, b.entry.arch) : 1;
    return -1;
  }

  private sameArch(a: Inst, b: Inst): boolean {
    if (a.archNone || b.archNone) return a.archNone === b.archNone;
    return a.entry.arch === b.entry.arch;
  }

  archType(inst: Inst): ArchType {
    return inst.archNone ? 'none' : this.arches.typeOf(inst.entry.arch);
  }

  /** pkgbin_name_needs_arch(pnaw_nonambig): Multi-Arch: same, or an architecture other than native and all. */
  needsArch(inst: Inst): boolean {
    const type = this.archType(inst);
    if (type === 'none' || type === 'empty') return false;
    if (inst.entry.multiArch === 'same') return true;
    return type !== 'native' && type !== 'all';
  }

  /** pkg_name(pkg, pnaw_nonambig). */
  displayName(inst: Inst): string {
    return this.needsArch(inst) ? `${inst.set.name}:${inst.entry.arch}` : inst.set.name;
  }

  /** pkgset_installed_instances(). */
  installedInstances(set: PkgSet): number {
    return set.insts.filter((i) => i.entry.status.state !== 'not-installed').length;
  }

  /**
   * pkg_hash_get_singleton(): with no installed instance, the first whose available architecture is native
   * or all, else the first; the installed one when there is one; undefined when several are installed.
   */
  singleton(set: PkgSet): Inst | undefined {
    const installed = set.insts.filter((i) => i.entry.status.state !== 'not-installed');
    if (installed.length > 1) return undefined;
    if (installed.length === 1) return installed[0];
    const native = set.insts.find((i) => {
      const arch = i.available ? i.available.arch : i.archNone ? undefined : i.entry.arch;
      const type = arch === undefined ? 'none' : this.arches.typeOf(arch);
      return type === 'native' || type === 'all';
    });
    return native ?? set.insts[0];
  }

  /** pkg_hash_get_pkg(): the instance of `arch` in `set`, made when missing. */
  instanceFor(set: PkgSet, arch: string): Inst {
    const [first] = set.insts;
    if (set.insts.length === 1 && first.archNone) {
      first.archNone = false;
      first.entry = { ...first.entry, arch: arch as ByteString };
      return first;
    }
    const found = set.insts.find((i) => !i.archNone && i.entry.arch === arch);
    if (found) return found;
    const inst: Inst = { set, entry: { ...blankEntry(set.name), arch: arch as ByteString }, archNone: false };
    set.insts.push(inst);
    return inst;
  }

  /** The path of one of the instance's info files (pkg_infodb_get_file()). */
  infoFile(inst: Inst, type: string): string {
    const prefix = infoPrefix({ name: inst.set.name, arch: inst.entry.arch, multiArch: inst.entry.multiArch }, this.infoFormat);
    return `${this.admindir}/info/${infoFileName(prefix, type)}`;
  }

  /** trig_file_interests_ensure(): `PATH PACKAGE[/noawait]` per line; the packages' sets are made too. */
  private readFileTriggers(report: Reporter): void {
    const file = `${this.admindir}/triggers/File`;
    let text: string;
    try {
      text = fs.readFileSync(file).toString('latin1');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      return report.fatal(`unable to read file triggers file '${file.slice(0, 250)}': ${(err as Error).message}`);
    }
    const lines = text.split('\n');
    if (lines.pop() !== '') report.fatal(`too-long line or missing newline in '${file.slice(0, 250)}'`);
    for (const line of lines) {
      const space = line.indexOf(' ');
      if (space < 0 || !line.startsWith('/')) report.fatal(`syntax error in file triggers file '${file.slice(0, 250)}'`);
      this.triggerPaths.push(line.slice(0, space));
      this.findSet(line.slice(space + 1).split('/')[0].split(':')[0]);
    }
  }

  /** Reads one file of stanzas into the world as dpkg's parser does (status, or one update entry). */
  private load(file: string, kind: StanzaKind): void {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new OvermergeError('E_DPKG_DB', `failed to open package info file '${file}' for reading: ${(err as Error).message}`);
    }
    let stanzas: RawStanza[];
    try {
      stanzas = scanStanzas(byteString(bytes), true);
    } catch (err) {
      if (err instanceof StanzaError) throw corrupt(file, err.line, err.problem);
      throw err;
    }
    for (const stanza of stanzas) this.loadStanza(stanza, file, kind);
  }

  private loadStanza(stanza: RawStanza, file: string, kind: StanzaKind): void {
    // The sets dpkg makes while it reads the fields: the package's own, then each name in a relation.
    for (const field of stanza.fields) {
      const lower = field.name.toLowerCase();
      if (lower === 'package') this.findSet(field.value.replace(/\0.*$/s, ''));
      else if (RELATION_FIELDS.has(lower)) for (const name of relationNames(field.value)) this.findSet(name);
      else if (lower === 'triggers-awaited') for (const word of field.value.split(/[\t\n\v\f\r ]+/)) if (word !== '') this.findSet(word.split(':')[0]);
    }
    let entry: PkgEntry;
    try {
      entry = readEntry(stanza, kind).entry;
    } catch (err) {
      if (err instanceof EntryError) throw corrupt(file, err.line, err.problem);
      throw err;
    }
    let landed: { stored: PkgEntry; replaced?: PkgEntry };
    try {
      landed = this.table.apply(entry, kind);
    } catch (err) {
      if (err instanceof TableError) throw corrupt(file, stanza.line, err.problem);
      throw err;
    }
    this.place(landed.stored, landed.replaced);
  }

  /** Mirrors where package-table.ts put the entry, in dpkg's slot order. */
  private place(stored: PkgEntry, replaced: PkgEntry | undefined): void {
    const set = this.findSet(stored.name);
    const old = replaced && set.insts.find((i) => i.entry === replaced);
    if (old) {
      old.entry = stored;
      old.archNone = false;
    } else {
      this.instanceFor(set, stored.arch).entry = stored;
    }
    // A cross-grade onto the architecture of a mere selection: that selection goes (as in the table).
    const clash = set.insts.findIndex((i) => i.entry !== stored && !i.archNone && i.entry.arch === stored.arch);
    if (clash >= 0) set.insts.splice(clash, 1);
  }
}

function blank(set: PkgSet): Inst {
  return { set, entry: blankEntry(set.name), archNone: true };
}

/**
 * FNV-1a as dpkg computes it (lib/dpkg/strhash.c) on a byte string. dpkg feeds it `char`s, which are signed
 * on x86 (a byte >= 0x80 is XORed sign-extended) and unsigned on ARM, POWER, s390x and RISC-V.
 */
export function fnv1a(s: string, signedChar = SIGNED_CHAR): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i) & 0xff;
    if (signedChar && c >= 0x80) c |= 0xffffff00;
    h ^= c;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const SIGNED_CHAR = process.arch === 'x64' || process.arch === 'ia32';

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EACCES' ? 'Permission denied' : code === 'EISDIR' ? 'Is a directory' : (err as Error).message;
}

export function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function stateAtLeast(state: PkgState, than: PkgState): boolean {
  return stateIndex(state) >= stateIndex(than);
}
