import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/** Why real dpkg cannot be shown failing here, or undefined when it can. */
export function whyNoDpkg(): string | undefined {
  const r = spawnSync('dpkg', ['--version'], { stdio: 'ignore' });
  if (r.error) return 'dpkg is not installed';
  return r.status === 0 ? undefined : `dpkg --version exited with ${r.status}`;
}

/**
 * The smallest administrative folder dpkg accepts under ROOT/var/lib/dpkg (what `--root` points it at):
 * an empty status database and the folders it expects to find.
 */
export async function makeDpkgAdmindir(root: string): Promise<void> {
  const admin = path.join(root, 'var', 'lib', 'dpkg');
  for (const sub of ['info', 'updates', 'triggers']) await fsp.mkdir(path.join(admin, sub), { recursive: true, mode: 0o755 });
  await fsp.writeFile(path.join(admin, 'status'), '');
  await fsp.writeFile(path.join(admin, 'available'), '');
}

/**
 * `dpkg -i` into a foreign root without maintainer scripts in a chroot. The log goes to `logFile` (inside
 * the demo's temporary folder): by default dpkg appends to the host's /var/log/dpkg.log.
 */
export function dpkgInstallArgs(root: string, logFile: string, deb: string): string[] {
  return [`--root=${root}`, '--force-not-root', '--force-script-chrootless', `--log=${logFile}`, '-i', deb];
}

/** The line of dpkg's output that says why it failed (the "unable to move aside" one, when present). */
export function dpkgErrorLine(output: string): string | undefined {
  const lines = output.split('\n').map((l) => l.trim());
  return lines.find((l) => /unable to move aside/.test(l)) ?? lines.find((l) => /^dpkg: error/.test(l));
}
