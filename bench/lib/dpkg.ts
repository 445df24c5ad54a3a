import { BIN } from '../../test/helpers/run-cli';

/**
 * How the benchmarks run the two programs they compare.
 *
 * "Durable dpkg" is dpkg as it runs by default on a Debian system: it fsyncs every file before renaming it
 * into place. `--refuse-unsafe-io` says so explicitly, because a container's /etc/dpkg/dpkg.cfg.d often
 * sets force-unsafe-io (Docker's images do, and dpkg reads the host's configuration even with --root).
 * `--force-script-chrootless` runs maintainer scripts on the host with DPKG_ROOT set instead of chrooting
 * into a root that has no shell yet; the generated packages have no scripts, and the real ones' are
 * neutralised (see `interpreters`).
 */
export const DURABLE_DPKG = ['--force-script-chrootless', '--refuse-unsafe-io'];

/** Environment of every timed run: messages in English, no debconf questions. */
export const RUN_ENV: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' };

/**
 * argv of durable dpkg on `root`. With `interpreters` (host paths of the archives' script interpreters,
 * from scriptInterpreters()), dpkg runs in a private mount namespace where each of them is /usr/bin/true
 * bind-mounted over it, as test/helpers/dpkg-unpack.ts does: scripts "succeed" doing nothing, as with
 * `overmerge --no-scripts`, and none touches the host. The namespace costs a few milliseconds, so
 * packages without scripts run dpkg directly.
 */
export function dpkgArgv(root: string, args: string[], interpreters: string[] = []): string[] {
  if (interpreters.length === 0) return ['dpkg', `--root=${root}`, ...DURABLE_DPKG, ...args];
  const quote = (p: string): string => `'${p.replace(/'/g, `'\\''`)}'`;
  const mounts = interpreters.map((p) => `mount --bind /usr/bin/true ${quote(p)} || exit 97`).join('\n');
  const script = `${mounts}\nexec dpkg --root="$0" ${DURABLE_DPKG.join(' ')} "$@"`;
  return ['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, root, ...args];
}

/** argv of the overmerge CLI (the built one, bin/overmerge, run as a program, as people run it) on `root`, quiet. */
export function overmergeArgv(root: string, args: string[]): string[] {
  return [BIN, '--root', root, '--quiet', ...args];
}
