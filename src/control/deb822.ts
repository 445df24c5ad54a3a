import { OvermergeError } from '../errors';
import { Paragraph } from './paragraph';
import { printable } from './printable';

/**
 * deb822 paragraphs as dpkg's own parser reads them (control files, /var/lib/dpkg/status):
 * - `Name: value`, spaces allowed before the colon, leading blanks of the value dropped; names are any
 *   non-blank characters but `:`, and may not start with `-`;
 * - continuation lines start with a space or tab (a lone ` .` stands for an empty line in the text);
 *   a continuation line with nothing but blanks is an error ("blank line in value");
 * - paragraphs are separated by empty lines; trailing blanks of a whole value are dropped;
 * - a repeated field (names compare without case) is an error, and so is a missing final newline;
 * - `#` comment lines only where dpkg's tools accept them (source control files): `allowComments`.
 *
 * Linear and incremental: push text in chunks (a status file is read as a stream) and take paragraphs
 * as they complete. Values keep continuation lines joined by '\n', each without its first blank.
 */
export interface Deb822Options {
  /** Names the input in error messages (`SOURCE:LINE: problem`). */
  source?: string;
  /** Skip lines starting with `#` (debian/control style). dpkg's binary parser allows none. */
  allowComments?: boolean;
}

const TRAILING_BLANKS = /[ \t\r\n\v\f]+$/;
const LEADING_BLANKS = /^[ \t\r\n\v\f]+/;

export class Deb822Parser {
  private readonly source: string;
  private readonly allowComments: boolean;
  private partial = '';
  private line = 0;
  private fields: Array<[string, string]> = [];
  private names = new Set<string>();
  private fieldName: string | undefined;
  private fieldLine = 0;
  private valueLines: string[] = [];

  constructor(options: Deb822Options = {}) {
    this.source = options.source ?? 'input';
    this.allowComments = options.allowComments ?? false;
  }

  private fail(problem: string, line = this.line): OvermergeError {
    // Problems quote the input, which may hold a CR or other control characters: escaped, on one line.
    return new OvermergeError('E_BAD_CONTROL', printable(`${this.source}:${line}: ${problem}`), { op: 'parse control', path: this.source });
  }

  /** Feeds text; returns the paragraphs completed by it. */
  push(text: string): Paragraph[] {
    const out: Paragraph[] = [];
    let start = 0;
    let data = text;
    if (this.partial !== '') {
      data = this.partial + text;
      this.partial = '';
    }
    for (;;) {
      const nl = data.indexOf('\n', start);
      if (nl === -1) break;
      this.takeLine(data.slice(start, nl), out);
      start = nl + 1;
    }
    this.partial = data.slice(start);
    return out;
  }

  /** Ends the input; returns the last paragraph if one was open. */
  end(): Paragraph[] {
    if (this.partial !== '') {
      this.line++;
      throw this.fail(
        this.fieldName === undefined && !this.partial.startsWith(' ') && !this.partial.startsWith('\t')
          ? 'missing final newline'
          : `missing final newline in the value of field '${this.fieldName ?? this.partial.split(':')[0]}'`,
      );
    }
    const out: Paragraph[] = [];
    this.finishParagraph(out);
    return out;
  }

  private takeLine(line: string, out: Paragraph[]): void {
    this.line++;
    if (this.allowComments && line.startsWith('#')) return;
    if (line === '') {
      this.finishParagraph(out);
      return;
    }
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      if (this.fieldName === undefined) throw this.fail('continuation line outside a field');
      if (line.replace(LEADING_BLANKS, '') === '') throw this.fail(`blank line in value of field '${this.fieldName}'`);
      this.valueLines.push(line.slice(1));
      return;
    }
    this.finishField();
    this.startField(line);
  }

  private startField(line: string): void {
    let end = 0;
    while (end < line.length && line[end] !== ':' && !isBlank(line.charCodeAt(end))) end++;
    const name = line.slice(0, end);
    if (name === '') throw this.fail('empty field name');
    if (name.startsWith('-')) throw this.fail(`field name '${name}' cannot start with a hyphen`);
    let colon = end;
    while (colon < line.length && isBlank(line.charCodeAt(colon))) colon++;
    if (line[colon] !== ':') throw this.fail(`field name '${name}' must be followed by a colon`);
    const key = name.toLowerCase();
    if (this.names.has(key)) throw this.fail(`duplicate field '${name}'`);
    this.names.add(key);
    this.fieldName = name;
    this.fieldLine = this.line;
    this.valueLines = [line.slice(colon + 1).replace(LEADING_BLANKS, '')];
  }

  private finishField(): void {
    if (this.fieldName === undefined) return;
    const value = this.valueLines.join('\n').replace(TRAILING_BLANKS, '');
    this.fields.push([this.fieldName, value]);
    this.fieldName = undefined;
    this.valueLines = [];
  }

  private finishParagraph(out: Paragraph[]): void {
    this.finishField();
    if (this.fields.length > 0) out.push(new Paragraph(this.fields));
    this.fields = [];
    this.names = new Set();
  }

  /** The line the current field started on (for callers reporting semantic errors). */
  get currentFieldLine(): number {
    return this.fieldLine;
  }
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0b || c === 0x0c;
}

/** All paragraphs of `text`. Throws OvermergeError('E_BAD_CONTROL') with the line number. */
export function parseParagraphs(text: string, options: Deb822Options = {}): Paragraph[] {
  const parser = new Deb822Parser(options);
  const out = parser.push(text);
  out.push(...parser.end());
  return out;
}

/** Paragraphs of a stream (UTF-8 bytes or strings), one at a time, without reading it all first. */
export async function* readParagraphs(source: AsyncIterable<Buffer | string>, options: Deb822Options = {}): AsyncGenerator<Paragraph> {
  const parser = new Deb822Parser(options);
  // A byte order mark is kept, as decodeControlText keeps it and dpkg reads it: part of the first name.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  for await (const chunk of source) {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    yield* parser.push(text);
  }
  yield* parser.push(decoder.decode());
  yield* parser.end();
}

/**
 * One paragraph in dpkg's output format: `Name: value`, continuation lines indented by one space, a
 * newline after every field. dpkg writes Conffiles with its own writer, as `Conffiles:` and the lines
 * below it; everything else keeps the space after the colon even when the first line is empty.
 * Values that could not be read back the same (an empty continuation line, a bad name) are refused.
 */
export function formatParagraph(p: Paragraph): string {
  let out = '';
  for (const [name, value] of p.fields) {
    if (name === '' || /[:\s]/.test(name) || name.startsWith('-')) {
      throw new OvermergeError('E_BAD_CONTROL', `cannot write field name ${JSON.stringify(name)}`, { op: 'write control' });
    }
    const lines = value.split('\n');
    for (let i = 1; i < lines.length; i++) {
      if (lines[i].replace(LEADING_BLANKS, '') === '') {
        throw new OvermergeError('E_BAD_CONTROL', `cannot write field '${name}': empty continuation line (use ".")`, {
          op: 'write control',
        });
      }
    }
    const head = name.toLowerCase() === 'conffiles' && lines[0] === '' ? `${name}:` : `${name}: ${lines[0]}`;
    out += head;
    for (let i = 1; i < lines.length; i++) out += `\n ${lines[i]}`;
    out += '\n';
  }
  return out;
}

/** Paragraphs separated by one empty line, as in a status file. */
export function formatParagraphs(paragraphs: Iterable<Paragraph>): string {
  return Array.from(paragraphs, formatParagraph).join('\n');
}
