import type { ByteString } from './bytes';

/**
 * dpkg's stanza scanner (lib/dpkg/parse.c parse_stanza) over a byte string, keeping what its reader
 * keeps: each value exactly as it stands in the file (continuation lines with their leading blank, inner
 * newlines, trailing white space trimmed), and — for writing an untouched stanza back byte for byte — the
 * span of the stanza's text.
 *
 * It differs from src/control/deb822.ts on purpose: that parser gives values in the project's convention
 * (first blank of each continuation line dropped), which cannot tell a tab from a space, and has no spans.
 *
 * Pure: no I/O. Problems are returned as `StanzaProblem`s (the caller names the file); the only warning dpkg
 * gives here (a blank continuation line, accepted in status and update files) is returned, not thrown.
 */
export interface RawField {
  readonly name: ByteString;
  readonly value: ByteString;
  /** The line the field's name is on (1-based). */
  readonly line: number;
}

export interface RawStanza {
  readonly fields: RawField[];
  /** Line of the first field. */
  readonly line: number;
  /** The stanza's text: from its first field to the newline ending its last field (included if present). */
  readonly text: ByteString;
  /** Lines with problems dpkg only warns about. */
  readonly warnings: StanzaProblem[];
}

export interface StanzaProblem {
  readonly line: number;
  readonly message: string;
}

export class StanzaError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`);
  }
}

const NL = 0x0a;
// dpkg still honours an MS-DOS end-of-file character (^Z) as a line end.
const MSDOS_EOF = 0x1a;

/** C's isspace: space, \t, \n, \v, \f, \r. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** Every stanza of `text`. `lax` accepts blank continuation lines with a warning (status, updates). */
export function scanStanzas(text: ByteString, lax: boolean): RawStanza[] {
  const out: RawStanza[] = [];
  const scanner = new Scanner(text, lax);
  for (let s = scanner.next(); s !== undefined; s = scanner.next()) out.push(s);
  return out;
}

class Scanner {
  private pos = 0;
  private line = 1;
  // ^Z is all but unheard of: looked for only when the text has one.
  private readonly hasMsdosEof: boolean;

  constructor(
    private readonly text: ByteString,
    private readonly lax: boolean,
  ) {
    this.hasMsdosEof = text.includes('\x1a');
  }

  next(): RawStanza | undefined {
    const t = this.text;
    while (this.pos < t.length && (t.charCodeAt(this.pos) === NL || t.charCodeAt(this.pos) === MSDOS_EOF)) {
      this.pos++;
      this.line++;
    }
    if (this.pos >= t.length) return undefined;
    const start = this.pos;
    const firstLine = this.line;
    const fields: RawField[] = [];
    const warnings: StanzaProblem[] = [];
    for (;;) {
      const field = this.field(warnings);
      fields.push(field.raw);
      if (field.endsStanza) break;
    }
    return { fields, line: firstLine, text: t.slice(start, this.pos) as ByteString, warnings };
  }

  /** One field, leaving the position at the start of the next line. */
  private field(warnings: StanzaProblem[]): { raw: RawField; endsStanza: boolean } {
    const t = this.text;
    const line = this.line;
    const nameStart = this.pos;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (isSpace(c) || c === 0x3a || c === MSDOS_EOF) break;
      this.pos++;
    }
    const name = t.slice(nameStart, this.pos) as ByteString;
    if (name === '') this.fail('empty field name');
    if (name.startsWith('-')) this.fail(`field name '${name}' cannot start with hyphen`);
    while (this.pos < t.length && t.charCodeAt(this.pos) !== NL && isSpace(t.charCodeAt(this.pos))) this.pos++;
    if (this.pos >= t.length) this.fail(`end of file after field name '${name}'`);
    const colon = t.charCodeAt(this.pos);
    if (colon === NL) this.fail(`newline in field name '${name}'`);
    if (colon === MSDOS_EOF) this.fail(`MSDOS end of file (^Z) in field name '${name}'`);
    if (colon !== 0x3a) this.fail(`field name '${name}' must be followed by colon`);
    this.pos++;
    // Blanks after the colon are skipped, but not the end of the line: an empty first line is kept empty.
    while (this.pos < t.length && t.charCodeAt(this.pos) !== NL && isSpace(t.charCodeAt(this.pos))) this.pos++;
    // dpkg reads the value's first character before it looks for the end: that character may not be the last.
    if (this.pos >= t.length - 1) this.fail(`end of file before value of field '${name}' (missing final newline)`);
    if (t.charCodeAt(this.pos) === MSDOS_EOF) this.fail(`MSDOS end of file (^Z) in value of field '${name}' (missing newline?)`);
    const valueStart = this.pos;
    let valueEnd: number;
    let endsStanza: boolean;
    for (let first = true; ; first = false) {
      const lineStart = this.pos;
      const eol = this.lineEnd();
      if (eol >= t.length) this.fail(`end of file during value of field '${name}' (missing final newline)`);
      this.pos = eol + 1;
      this.line++;
      // A continuation line of nothing but blanks is a "blank line" (an empty first line is fine).
      if (!first && this.allSpace(lineStart, eol)) {
        const problem = { line: this.line - 1, message: `blank line in value of field '${name}'` };
        if (!this.lax) this.fail(problem.message, problem.line);
        warnings.push(problem);
      }
      const next = this.pos < t.length ? t.charCodeAt(this.pos) : -1;
      if (next === -1 || next === NL || next === MSDOS_EOF || !isSpace(next)) {
        // dpkg's value runs up to and including the character that ended it, unless the file ends there;
        // a newline is then trimmed as white space, a ^Z stays (dpkg warns about "all^Z" as a bad name).
        valueEnd = next !== -1 && t.charCodeAt(eol) === MSDOS_EOF ? eol + 1 : eol;
        endsStanza = next === -1 || next === NL || next === MSDOS_EOF;
        break;
      }
    }
    let end = valueEnd;
    while (end > valueStart && isSpace(t.charCodeAt(end - 1))) end--;
    return { raw: { name, value: t.slice(valueStart, end) as ByteString, line }, endsStanza };
  }

  private allSpace(from: number, to: number): boolean {
    for (let i = from; i < to; i++) if (!isSpace(this.text.charCodeAt(i))) return false;
    return true;
  }

  /** The index of the newline (or ^Z) ending the current line, or the text's length. */
  private lineEnd(): number {
    const nl = this.text.indexOf('\n', this.pos);
    const end = nl < 0 ? this.text.length : nl;
    if (!this.hasMsdosEof) return end;
    const eof = this.text.indexOf('\x1a', this.pos);
    return eof >= 0 && eof < end ? eof : end;
  }

  private fail(problem: string, line = this.line): never {
    throw new StanzaError(line, problem);
  }
}
