/**
 * One deb822 paragraph: fields in their original order, names as written, values as the text after
 * `Name:` with continuation lines kept (joined with '\n', each continuation line without its first space).
 * Lookups ignore case, as dpkg's do.
 */
export class Paragraph {
  readonly fields: Array<[name: string, value: string]>;

  constructor(fields: Array<[string, string]> = []) {
    this.fields = fields;
  }

  get(name: string): string | undefined {
    // Asked for every installed package at each transaction (relations, trigger snapshot): a name as
    // written, or of another length, is told without making a lower-case copy.
    const fields = this.fields;
    let want: string | undefined;
    for (let i = 0; i < fields.length; i++) {
      const n = fields[i][0];
      if (n === name) return fields[i][1];
      if (n.length === name.length && n.toLowerCase() === (want ??= name.toLowerCase())) return fields[i][1];
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Sets a field, replacing an existing one of the same name (any case) in place, else appending. */
  set(name: string, value: string): void {
    const want = name.toLowerCase();
    const i = this.fields.findIndex(([n]) => n.toLowerCase() === want);
    if (i >= 0) this.fields[i] = [this.fields[i][0], value];
    else this.fields.push([name, value]);
  }

  delete(name: string): void {
    const want = name.toLowerCase();
    const i = this.fields.findIndex(([n]) => n.toLowerCase() === want);
    if (i >= 0) this.fields.splice(i, 1);
  }
}
