import type { Paragraph } from './paragraph';

/**
 * Checks a binary package's control paragraph the way dpkg does before it accepts an archive: required
 * fields present, Package, Version and Architecture well-formed. Throws OvermergeError('E_BAD_CONTROL')
 * naming `source` (the archive path) and the field.
 *
 * Owned by the control module; this is the agreed signature.
 */
export function validateControlFields(p: Paragraph, source: string): void {
  void p;
  void source;
}
