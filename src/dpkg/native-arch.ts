/**
 * dpkg's native architecture for Node's `process.arch` (dpkg has its own compiled in; this is the default).
 * A leaf module: `overmerge-dpkg --print-architecture` loads this and nothing else of the database code.
 */
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
