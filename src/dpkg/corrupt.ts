import { printable } from '../control/printable';
import { OvermergeError } from '../errors';

/**
 * The one error for a dpkg database overmerge cannot read: one line, `FILE:LINE: problem`, naming the file
 * and (where there is one) the line. Nothing is ever written over a file that fails to read.
 */
export function corrupt(file: string, line: number | undefined, problem: string, hint?: string): OvermergeError {
  const where = line === undefined ? file : `${file}:${line}`;
  return new OvermergeError('E_DPKG_DB', printable(`${where}: ${problem}`), {
    op: 'read dpkg database',
    path: file,
    hint: hint ?? 'dpkg refuses this file too; repair it, or restore it from its -old copy or /var/backups',
  });
}
