import { OvermergeError } from '../errors';
import type { Paragraph } from './paragraph';
import { printable } from './printable';
import { archNameProblem, parseRelations, RELATION_FIELDS } from './relations';
import { checkVersion } from './version';

/**
 * The most control-file text overmerge reads from one archive. Real control files are a few KiB (the
 * largest Debian ones, with long Provides lists, stay well under 100 KiB); the bound keeps a hostile archive
 * from making us hold an arbitrary amount in memory.
 */
export const MAX_CONTROL_BYTES = 1024 * 1024;

/**
 * Turns the bytes of a control file into text, refusing what dpkg would misread: more than
 * MAX_CONTROL_BYTES, a NUL byte (dpkg silently cuts a value short there, so "Package: a\0b" installs as
 * "a"), or bytes that are not UTF-8. Throws OvermergeError('E_BAD_CONTROL') naming `source`.
 */
export function decodeControlText(bytes: Uint8Array, source: string): string {
  if (bytes.length > MAX_CONTROL_BYTES) {
    throw bad(source, `control file is ${bytes.length} bytes, more than the limit of ${MAX_CONTROL_BYTES}`);
  }
  if (bytes.includes(0)) throw bad(source, 'control file contains a NUL byte');
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw bad(source, 'control file is not valid UTF-8');
  }
}

/**
 * Checks a binary package's control paragraph the way dpkg does before it accepts an archive: required
 * fields present, Package, Version and Architecture well-formed. Throws OvermergeError('E_BAD_CONTROL')
 * naming `source` (the archive path) and the field.
 *
 * dpkg only warns about a missing Maintainer or Description, so those are not required. Where dpkg is laxer
 * than Debian policy in ways that would make names ambiguous, overmerge refuses: a Package with upper case
 * (dpkg folds it) or `_` (dpkg-deb refuses to build it).
 */
export function validateControlFields(p: Paragraph, source: string): void {
  checkText(p, source);
  checkDuplicates(p, source);
  const pkg = required(p, 'Package', source);
  const version = required(p, 'Version', source);
  const arch = required(p, 'Architecture', source);

  const nameProblem = packageNameProblem(pkg);
  if (nameProblem) throw invalid(source, 'Package', pkg, nameProblem);

  const { problem } = checkVersion(version);
  if (problem) throw invalid(source, 'Version', version, problem.reason);

  const archProblem = architectureProblem(arch);
  if (archProblem) throw invalid(source, 'Architecture', arch, archProblem);

  checkMultiArch(p, arch, source);
  for (const field of ['Essential', 'Protected']) checkBoolean(p, field, source);
  for (const field of RELATION_FIELDS) {
    const value = p.get(field);
    if (value === undefined) continue;
    try {
      parseRelations(field, value, { allowRestrictions: false });
    } catch (err) {
      if (err instanceof OvermergeError) throw bad(source, err.message);
      throw err;
    }
  }
}

/**
 * Why `name` is not a valid Package value, or undefined. Policy's rule, which dpkg-deb enforces when it
 * builds: lower-case letters, digits and `+-.`, starting with a letter or digit. dpkg itself accepts
 * one-character names, so overmerge does too.
 */
export function packageNameProblem(name: string): string | undefined {
  if (name === '') return 'may not be empty';
  if (!/^[a-z0-9]/.test(name)) {
    return /^[A-Z]/.test(name)
      ? 'upper case is not allowed'
      : 'must start with a lower-case letter or digit';
  }
  const bad = /[^a-z0-9+.-]/.exec(name);
  if (!bad) return undefined;
  if (/[A-Z]/.test(bad[0])) return 'upper case is not allowed';
  return `character '${bad[0]}' not allowed (only lower-case letters, digits and '+-.')`;
}

/**
 * Why `arch` is not a valid Architecture for a binary package, or undefined: `all` or one architecture
 * name in dpkg's syntax, lower case. `any` and wildcards such as `linux-any` belong to source packages; dpkg
 * refuses to install them ("does not match system").
 */
export function architectureProblem(arch: string): string | undefined {
  if (arch === 'all') return undefined;
  const syntax = archNameProblem(arch);
  if (syntax) return syntax;
  if (/[A-Z]/.test(arch)) return 'upper case is not allowed';
  if (arch.split('-').includes('any')) return 'an architecture wildcard is only valid in a source package';
  return undefined;
}

function checkText(p: Paragraph, source: string): void {
  let size = 0;
  for (const [name, value] of p.fields) {
    size += name.length + value.length + 3;
    if (name.includes('\0') || value.includes('\0')) throw bad(source, `field ${name} contains a NUL byte`);
  }
  if (size > MAX_CONTROL_BYTES) {
    throw bad(source, `control data is about ${size} bytes, more than the limit of ${MAX_CONTROL_BYTES}`);
  }
}

function checkDuplicates(p: Paragraph, source: string): void {
  const seen = new Set<string>();
  for (const [name] of p.fields) {
    const key = name.toLowerCase();
    if (seen.has(key)) throw bad(source, `duplicate ${name} field`);
    seen.add(key);
  }
}

function required(p: Paragraph, field: string, source: string): string {
  const value = p.get(field);
  if (value === undefined) throw bad(source, `missing ${field} field`);
  const trimmed = value.trim();
  if (trimmed === '') throw bad(source, `empty ${field} field`);
  return trimmed;
}

function checkMultiArch(p: Paragraph, arch: string, source: string): void {
  const value = p.get('Multi-Arch')?.trim();
  if (value === undefined) return;
  const lower = value.toLowerCase();
  if (!['no', 'same', 'foreign', 'allowed'].includes(lower)) {
    throw invalid(source, 'Multi-Arch', value, 'must be no, same, foreign or allowed');
  }
  if (lower === 'same' && arch === 'all') {
    throw invalid(source, 'Multi-Arch', value, "'same' is not allowed for architecture 'all'");
  }
}

function checkBoolean(p: Paragraph, field: string, source: string): void {
  const value = p.get(field)?.trim();
  if (value === undefined) return;
  if (!['yes', 'no'].includes(value.toLowerCase())) throw invalid(source, field, value, 'must be yes or no');
}

function invalid(source: string, field: string, value: string, reason: string): OvermergeError {
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return bad(source, `invalid ${field} field "${shown}": ${reason}`);
}

function bad(source: string, message: string): OvermergeError {
  return new OvermergeError('E_BAD_CONTROL', printable(`${source}: ${message}`), {
    op: 'check control fields',
    path: source,
  });
}
