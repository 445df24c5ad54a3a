import { formatRelations, parseRelations } from '../control/relations';
import { checkVersion } from '../control/version';
import type { ByteString } from './bytes';
import type { DepField } from './model';

/**
 * A relation field (Depends, Breaks, ...) in the form dpkg writes it, from its value as read: checked as
 * dpkg's reader checks it, and rewritten the way dpkg writes it (lib/dpkg/dump.c varbufdependency):
 * `name[:arch][ (op version)]`, alternatives joined by ' | ', groups by ', ', obsolete `<` and `>` as `<=`
 * and `>=`. Throws a plain Error with the reason. Pure.
 */
export function relationFieldValue(field: DepField, value: ByteString): ByteString {
  return canonicalRelations(value, field) ?? (formatRelations(parseRelations(field, value, { allowRestrictions: false, laxVersions: true })) as ByteString);
}

// What dpkg writes: `name[:arch][ (op version)]`, alternatives joined by ' | ', groups by ', '.
const CANONICAL_REL = String.raw`[a-z0-9][a-z0-9+._-]*(?::[A-Za-z0-9][A-Za-z0-9-]*)?(?: \((?:<<|<=|=|>=|>>) ([^ ()]+)\))?`;
const CANONICAL = new RegExp(String.raw`^${CANONICAL_REL}(?: \| ${CANONICAL_REL})*(?:, ${CANONICAL_REL}(?: \| ${CANONICAL_REL})*)*$`);
const VERSION_IN_REL = /\((?:<<|<=|=|>=|>>) ([^ ()]+)\)/g;

/**
 * The value itself when it is already in dpkg's written form (every status dpkg wrote), its versions
 * checked as dpkg's reader checks them; undefined otherwise. Reading a status of thousands of packages
 * then costs a regular expression per field instead of a parse.
 */
function canonicalRelations(value: ByteString, field: DepField): ByteString | undefined {
  if (!CANONICAL.test(value)) return undefined;
  if (value.includes(' | ') && NO_ALTERNATIVES.has(field)) return undefined;
  for (const m of value.matchAll(VERSION_IN_REL)) if (checkVersion(m[1]).version === undefined) return undefined;
  return value;
}

const NO_ALTERNATIVES = new Set<DepField>(['Breaks', 'Conflicts', 'Replaces', 'Provides']);
