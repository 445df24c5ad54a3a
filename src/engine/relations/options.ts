import type { ForceOption } from '../../dpkg/relations';

/**
 * What the user said about package relations (dpkg's spellings: --force-depends, --auto-deconfigure,
 * --ignore-depends=...), as a transaction carries it (TxnOptions.relations). A leaf: the engine's
 * transaction module imports its type.
 */
export interface RelationsOptions {
  /** dpkg's relation forces in effect: each turns its kind of problem into a warning. */
  force: readonly ForceOption[];
  /** --auto-deconfigure (-B): packages a new one Breaks are deconfigured, then configured again. */
  autoDeconfigure: boolean;
  /** --ignore-depends: the relations of these packages (and on them) are not held against anything. */
  ignoreDepends: readonly string[];
  /**
   * Where dpkg's warnings go (a forced problem, a deconfiguration considered), each once, as they arise;
   * the text is dpkg's, lines after the first indented as dpkg indents them.
   */
  warn?: (message: string) => void;
}

/** Every relation is held: no force, no deconfiguration, nothing ignored (what a bare command does). */
export const STRICT_RELATIONS: RelationsOptions = Object.freeze({ force: [], autoDeconfigure: false, ignoreDepends: [] });
