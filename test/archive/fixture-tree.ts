/**
 * Package trees for builder tests, made in a temporary folder: a setuid binary, a symlink, a hard link,
 * an empty folder, a conffile, maintainer scripts, a long and a non-ASCII name.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

export const execFileP = promisify(execFile);

export const FIXTURE_PACKAGE = 'om-fixture';

export const FIXTURE_CONTROL = `Package: ${FIXTURE_PACKAGE}
Version: 1:2.0-1
Architecture: all
Maintainer: Overmerge Tests <tests@example.org>
Section: misc
Priority: optional
Description: overmerge builder fixture
 A package tree with every kind of entry.
 .
 Second paragraph.
`;

export const LONG_DIR = `usr/share/${'long-folder-name-'.repeat(5)}`;

/** Writes the fixture tree into `dir` (created). mtimes are set to `mtime` unless said otherwise. */
export async function makeFixtureTree(dir: string, mtime = 1600000000): Promise<void> {
  const w = async (rel: string, data: string, mode = 0o644): Promise<void> => {
    await fsp.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fsp.writeFile(path.join(dir, rel), data);
    await fsp.chmod(path.join(dir, rel), mode);
  };
  await fsp.mkdir(dir, { recursive: true });
  await fsp.chmod(dir, 0o755);
  await w('DEBIAN/control', FIXTURE_CONTROL);
  await w('DEBIAN/conffiles', `/etc/${FIXTURE_PACKAGE}.conf\n`);
  await w('DEBIAN/postinst', '#!/bin/sh\nset -e\nif [ -n "$DPKG_ROOT" ]; then echo "$1" > "$DPKG_ROOT/postinst-ran"; fi\n', 0o755);
  await w('DEBIAN/prerm', '#!/bin/sh\nexit 0\n', 0o755);
  await fsp.chmod(path.join(dir, 'DEBIAN'), 0o755);
  await w(`etc/${FIXTURE_PACKAGE}.conf`, 'setting = 1\n');
  await w('usr/bin/om-tool', '#!/bin/sh\necho tool\n', 0o4755);
  await fsp.link(path.join(dir, 'usr/bin/om-tool'), path.join(dir, 'usr/bin/om-tool-hard'));
  await fsp.symlink('om-tool', path.join(dir, 'usr/bin/om-tool-link'));
  await fsp.mkdir(path.join(dir, 'usr/share/om-empty'), { recursive: true });
  await w(`${LONG_DIR}/${'very-long-file-name-'.repeat(5)}.txt`, 'long\n');
  await w('usr/share/doc/om-fixture/café.txt', 'non-ascii name\n');
  await w('usr/share/doc/om-fixture/big.bin', 'z'.repeat(300000));
  await fsp.chmod(path.join(dir, 'usr/share/om-empty'), 0o755);
  await setTimes(dir, mtime);
}

/** Sets every mtime below `dir` (links themselves included) to `mtime`. */
export async function setTimes(dir: string, mtime: number): Promise<void> {
  await execFileP('find', [dir, '-exec', 'touch', '-h', '-d', `@${mtime}`, '{}', '+']);
}

/** A minimal dpkg admin folder inside `root`, enough for `dpkg --root=ROOT -i`. */
export async function makeDpkgRoot(root: string): Promise<void> {
  for (const sub of ['info', 'updates', 'triggers']) await fsp.mkdir(path.join(root, 'var/lib/dpkg', sub), { recursive: true });
  await fsp.writeFile(path.join(root, 'var/lib/dpkg/status'), '');
}

/** dpkg against a temporary root: scripts run on the host (chrootless) with DPKG_ROOT set. */
export function dpkgInRoot(root: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileP('dpkg', [`--root=${root}`, '--force-not-root', '--force-script-chrootless', ...args], { maxBuffer: 1 << 24 });
}
