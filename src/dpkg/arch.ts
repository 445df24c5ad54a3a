import { archNameProblem } from '../control/relations';
import type { ByteString } from './bytes';
import { corrupt } from './corrupt';

/**
 * `arch`: the architectures dpkg accepts packages for (lib/dpkg/arch.c), one per line, written by
 * `dpkg --add-architecture`: the native architecture first, then the foreign ones in the order they were
 * added. A missing file means "native only". Pure.
 */
export function parseArchList(text: ByteString, file: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.pop() !== '') throw corrupt(file, lines.length + 1, `too-long line or missing newline in '${file}'`);
  lines.forEach((l, i) => {
    const problem = archNameProblem(l);
    // dpkg adds what it reads and complains about a bad name only when one is used; an empty line is an
    // architecture nothing can match, so it is dropped rather than refused.
    if (problem && l !== '') throw corrupt(file, i + 1, `'${l}' is not a valid architecture name: ${problem}`);
  });
  return lines.filter((l) => l !== '');
}

/** The foreign architectures: every listed one but the native. */
export function foreignArchs(list: readonly string[], nativeArch: string): string[] {
  return list.filter((a) => a !== nativeArch && a !== 'all' && a !== 'any');
}

export { nativeArchOf } from './native-arch';
