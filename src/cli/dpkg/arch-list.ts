import * as fs from 'node:fs';
import { archNameProblem } from './names';
import type { Reporter } from './report';

/**
 * dpkg's list of architectures (lib/dpkg/arch.c) as one run of dpkg holds it: the native one, `all` and
 * `any` built in, then those read from ADMINDIR/arch (written by --add-architecture), then any other name
 * met while reading the database. Each has a type, which decides how a package name is printed (`name` or
 * `name:arch`), what --audit says, and what --print-foreign-architectures lists.
 */
export type ArchType = 'none' | 'empty' | 'illegal' | 'unknown' | 'wildcard' | 'all' | 'native' | 'foreign';

export const ARCH_FILE = 'arch';

interface ArchItem {
  readonly name: string;
  type: ArchType;
}

export class ArchList {
  private readonly items: ArchItem[];
  /** The file was missing: dpkg then writes it at the next save even if nothing was added. */
  private dirty = false;

  constructor(readonly native: string) {
    this.items = [
      { name: native, type: 'native' },
      { name: 'all', type: 'all' },
      { name: 'any', type: 'wildcard' },
    ];
  }

  /** dpkg_arch_load_list(): ADMINDIR/arch, one name per line; a file that cannot be opened is none. */
  static load(native: string, admindir: string, report: Reporter): ArchList {
    const list = new ArchList(native);
    const file = `${admindir}/${ARCH_FILE}`;
    let text: string;
    try {
      text = fs.readFileSync(file).toString('latin1');
    } catch (err) {
      // fopen() failing for any reason means "no list"; reading a directory fails later, in fgets.
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') report.fatal(`read error in '${file.slice(0, 250)}': Is a directory`);
      list.dirty = true;
      return list;
    }
    const lines = text.split('\n');
    const last = lines.pop();
    if (last !== '') report.fatal(`too-long line or missing newline in '${file.slice(0, 250)}'`);
    for (const line of lines) list.add(line.split('\0')[0]);
    return list;
  }

  /** dpkg_arch_find(): the item of `name`, added as unknown (or illegal) when new. */
  find(name: string | undefined): { name: string; type: ArchType } {
    if (name === undefined) return { name: '', type: 'none' };
    if (name === '') return { name: '', type: 'empty' };
    let item = this.items.find((a) => a.name === name);
    if (!item) {
      item = { name, type: archNameProblem(name) ? 'illegal' : 'unknown' };
      this.items.push(item);
    }
    return item;
  }

  typeOf(name: string | undefined): ArchType {
    return this.find(name).type;
  }

  /** dpkg_arch_add(): an unknown name becomes foreign. Returns the item. */
  add(name: string): { name: string; type: ArchType } {
    const item = this.find(name) as ArchItem;
    if (item.type === 'unknown') {
      item.type = 'foreign';
      this.dirty = true;
    }
    return item;
  }

  /** dpkg_arch_unmark(): a foreign one becomes unknown again. */
  unmark(name: string): void {
    const item = this.items.find((a) => a.name === name);
    if (item && item.type === 'foreign') {
      item.type = 'unknown';
      this.dirty = true;
    }
  }

  get foreign(): string[] {
    return this.items.filter((a) => a.type === 'foreign').map((a) => a.name);
  }

  /** Whether the file must be written (dpkg_arch_save_list() writes only then). */
  get needsSave(): boolean {
    return this.dirty;
  }

  /** The file's content as dpkg writes it: the native architecture, then the foreign ones, in list order. */
  format(): string {
    return this.items
      .filter((a) => a.type === 'native' || a.type === 'foreign')
      .map((a) => `${a.name}\n`)
      .join('');
  }
}
