import type { ByteString } from './bytes';
import { corrupt } from './corrupt';
import { stanzaText } from './dump';
import { EntryError, isInformative, readEntry, type StanzaKind } from './entry';
import type { PkgEntry } from './model';
import { TableError, type PackageTable } from './package-table';
import { StanzaError, scanStanzas, type StanzaProblem } from './stanza';

/**
 * Reading and writing whole files of stanzas: status (many) and update entries (one each). Pure: the
 * text is given and returned; `file` only names the source in messages.
 */
export interface Warning {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** Every stanza of `text` read as an entry, with its first line. Throws a one-line E_DPKG_DB error. */
export function readEntries(text: ByteString, file: string, kind: StanzaKind): { entries: Array<{ entry: PkgEntry; line: number }>; warnings: Warning[] } {
  const warnings: Warning[] = [];
  const note = (w: StanzaProblem): void => {
    warnings.push({ file, line: w.line, message: w.message });
  };
  try {
    const entries = scanStanzas(text, true).map((stanza) => {
      const { entry, warnings: ws } = readEntry(stanza, kind);
      ws.forEach(note);
      return { entry, line: stanza.line };
    });
    return { entries, warnings };
  } catch (err) {
    if (err instanceof StanzaError || err instanceof EntryError) throw corrupt(file, err.line, err.problem);
    throw err;
  }
}

/** Loads status into `table` (which should be empty), as dpkg's reader does. Returns the warnings. */
export function loadStatus(table: PackageTable, text: ByteString, file: string): Warning[] {
  const { entries, warnings } = readEntries(text, file, 'status');
  for (const { entry, line } of entries) landOrFail(() => table.apply(entry, 'status'), file, line);
  return warnings;
}

/**
 * Applies one update entry to `table`. dpkg writes one stanza per entry, but its reader (cleanupdates
 * calls parsedb without asking for a single stanza) applies whatever the file holds, in order: none for
 * an empty file or one of blank lines, several if someone put several there. Returns what was stored and
 * what it replaced, per stanza.
 */
export function loadUpdate(table: PackageTable, text: ByteString, file: string): { landed: Array<{ stored: PkgEntry; replaced?: PkgEntry }>; warnings: Warning[] } {
  const { entries, warnings } = readEntries(text, file, 'update');
  const landed = entries.map(({ entry, line }) => landOrFail(() => table.apply(entry, 'update'), file, line));
  return { landed, warnings };
}

function landOrFail<T>(apply: () => T, file: string, line: number): T {
  try {
    return apply();
  } catch (err) {
    if (err instanceof TableError) throw corrupt(file, line, err.problem);
    throw err;
  }
}

/**
 * The status file dpkg would write for `table` (dump.c writedb_stanzas): instances in dpkg's order,
 * those with nothing to say left out, every stanza followed by an empty line.
 */
export function formatStatus(table: PackageTable): ByteString {
  const parts: string[] = [];
  for (const e of table.sorted()) if (isInformative(e)) parts.push(stanzaText(e), '\n');
  return parts.join('') as ByteString;
}
