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

/** dpkg's native architecture for Node's `process.arch` (dpkg has its own compiled in; this is the default). */
export function nativeArchOf(nodeArch: string = process.arch): string {
  const known: Record<string, string> = {
    x64: 'amd64',
    ia32: 'i386',
    arm64: 'arm64',
    arm: 'armhf',
    ppc64: 'ppc64el',
    s390x: 's390x',
    riscv64: 'riscv64',
    mips64el: 'mips64el',
    loong64: 'loong64',
  };
  return known[nodeArch] ?? nodeArch;
}
