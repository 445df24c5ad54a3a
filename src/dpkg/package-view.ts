import { formatParagraph } from '../control/deb822';
import { Paragraph } from '../control/paragraph';
import { formatVersion } from '../control/version';
import { OvermergeError } from '../errors';
import { fromText, toText, type ByteString } from './bytes';
import { stanzaText } from './dump';
import type { MultiArch, PkgEntry, StatusTriple } from './model';
import { scanStanzas, StanzaError, type RawStanza } from './stanza';

/**
 * The engine's view of one package instance: ordinary (UTF-8 decoded) strings, and the paragraph in the
 * project's convention (src/control/paragraph.ts: continuation lines without their first blank). Built
 * from a PkgEntry; the paragraph is made on first use.
 */
export interface DpkgPackage {
  readonly name: string;
  /** '' when the instance has no architecture. */
  readonly arch: string;
  /** The name as dpkg prints it: `name`, or `name:arch` where the name alone would be ambiguous. */
  readonly displayName: string;
  readonly multiArch: MultiArch;
  readonly status: StatusTriple;
  readonly version?: string;
  /**
   * The version last configured, as dpkg holds it: the Config-Version field, or for an installed (or
   * triggers-pending) package its Version — dpkg writes the field only for the states in between.
   */
  readonly configVersion?: string;
  readonly essential: boolean;
  readonly conffiles: readonly ConffileView[];
  readonly triggersPending: readonly string[];
  readonly triggersAwaited: readonly string[];
  /** Every field as dpkg writes the stanza (status field order). */
  readonly paragraph: Paragraph;
}

export interface ConffileView {
  readonly path: string;
  readonly hash: string;
  readonly obsolete: boolean;
  readonly removeOnUpgrade: boolean;
}

/**
 * `paragraphs`: paragraphs already made, by entry. An entry is never changed in place (the table replaces
 * it), so its paragraph is made once however many views of it are asked for — the engine asks for every
 * installed package's at each transaction and each configure queue (triggers, fingerprints, relations).
 */
export function viewOf(e: PkgEntry, qualified: boolean, paragraphs?: WeakMap<PkgEntry, Paragraph>): DpkgPackage {
  let paragraph: Paragraph | undefined = paragraphs?.get(e);
  return {
    name: e.name,
    arch: e.arch,
    displayName: qualified ? `${e.name}:${e.arch}` : e.name,
    multiArch: e.multiArch,
    status: e.status,
    version: e.version && toText(formatVersion(e.version) as ByteString),
    configVersion: e.configVersion && toText(formatVersion(e.configVersion) as ByteString),
    essential: e.essential,
    conffiles: e.conffiles.map((c) => ({ path: toText(c.path), hash: toText(c.hash), obsolete: c.obsolete, removeOnUpgrade: c.removeOnUpgrade })),
    triggersPending: e.triggersPending.map(toText),
    triggersAwaited: e.triggersAwaited.map(toText),
    get paragraph() {
      if (paragraph === undefined) {
        paragraph = stanzaToParagraph(stanzaText(e));
        // Shared by every view of the entry from now on: a change through one would be a bug, made loud.
        if (paragraphs) paragraphs.set(e, freezeFields(paragraph));
      }
      return paragraph;
    },
  };
}

function freezeFields(p: Paragraph): Paragraph {
  for (const field of p.fields) Object.freeze(field);
  Object.freeze(p.fields);
  return p;
}

/** A stanza's fields in the project's paragraph convention, decoded as UTF-8. */
export function stanzaToParagraph(text: ByteString): Paragraph {
  const [stanza] = scanStanzas(text, true);
  return new Paragraph(
    (stanza?.fields ?? []).map(({ name, value }): [string, string] => {
      const lines = value.split('\n');
      const joined = [lines[0], ...lines.slice(1).map((l) => l.slice(1))].join('\n');
      return [toText(name), toText(joined as ByteString)];
    }),
  );
}

/**
 * A paragraph given by the engine as the raw stanza dpkg's reader would see: written with the project's
 * deb822 writer (which refuses names and values that would not read back), then scanned. Throws
 * E_BAD_CONTROL for a paragraph that cannot be a stanza.
 */
export function paragraphToStanza(p: Paragraph): RawStanza {
  const text = fromText(formatParagraph(p));
  try {
    const stanzas = scanStanzas(text, false);
    if (stanzas.length !== 1) throw new StanzaError(1, 'not exactly one stanza');
    return stanzas[0];
  } catch (err) {
    if (err instanceof StanzaError) {
      throw new OvermergeError('E_BAD_CONTROL', `cannot write package paragraph: ${err.problem}`, { op: 'write dpkg database' });
    }
    throw err;
  }
}
