import { printable } from '../control/printable';
import type { DpkgEvent } from '../model/events';
import type { Command, Io } from './command';
import type { GlobalArgs } from './global';
import { UsageError } from './usage-error';

interface BootstrapArgs extends GlobalArgs {
  dir: string;
  archives: string[];
}

export const bootstrapCommand: Command<BootstrapArgs> = {
  command: 'bootstrap <dir> <archives..>',
  describe: 'make a working Debian root in an empty folder from the archives of a package set',
  builder: (y) =>
    y
      .positional('dir', { type: 'string', describe: 'the folder to make the root in (missing or empty; or an interrupted bootstrap)' })
      .positional('archives', { type: 'string', array: true, describe: '.deb files: the whole package set (the Essential set at least)' })
      .check((argv) => {
        if (argv.root !== '/') throw new UsageError('bootstrap makes the root given as DIR; it takes no --root');
        for (const o of ['db', 'staging', 'admindir']) {
          if (argv[o] !== undefined) throw new UsageError(`bootstrap keeps its databases where the root's own tools look; it takes no --${o}`);
        }
        if (argv.scripts === 'disabled') throw new UsageError('bootstrap runs the maintainer scripts (a root without them does not work); --no-scripts is not for bootstrap');
        epochFrom(process.env.SOURCE_DATE_EPOCH);
        return true;
      }),
  async run(args: BootstrapArgs, io: Io) {
    // Before the engine loads, so that its code is tiered up under the bootstrap's budget from the start.
    (await import('../bootstrap/tier-up')).optimizeOnlyHotCode();
    const [{ bootstrap }, { txnOptions }] = await Promise.all([import('../bootstrap/run'), import('./engine-options')]);
    const scripts = args.scripts === 'chrootless' ? 'chrootless' : 'chroot';
    scriptEnvironment(scripts);
    const { opts, progress } = txnOptions(args, io);
    const say = (line: string): void => {
      if (args.quiet || args.json) return;
      progress.end();
      io.stdout.write(`bootstrap: ${printable(line)}\n`);
    };
    if (!io.isTTY && !args.quiet && !args.json) opts.events = (e) => dpkgLine(e, io);
    const started = Date.now();
    try {
      const out = await bootstrap({ dir: args.dir, archives: args.archives, scripts, epoch: epochFrom(process.env.SOURCE_DATE_EPOCH), lockWait: args.lockWait, txn: opts, say });
      progress.end();
      for (const f of out.failures) io.stderr.write(`overmerge: ${printable(f)}\n`);
      if (args.json) io.stdout.write(`${JSON.stringify(out)}\n`);
      else if (out.failures.length > 0) {
        io.stderr.write(`overmerge: the bootstrap of ${out.root} stopped; fix the cause and run the same bootstrap again to finish it\n`);
      } else if (!args.quiet) {
        io.stdout.write(`bootstrapped ${out.root}: ${out.packages} packages in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      }
      return out.failures.length > 0 ? 1 : 0;
    } finally {
      progress.end();
      opts.crash.recordCount();
    }
  },
};

/** SOURCE_DATE_EPOCH as reproducible-builds.org defines it: a whole number of seconds, or unset. */
function epochFrom(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`SOURCE_DATE_EPOCH must be a whole number of seconds, not '${v}'`);
  return Number(v);
}

/**
 * The environment maintainer scripts get during a bootstrap, as debootstrap and mmdebstrap give it: no
 * questions (debconf's noninteractive frontend, and the questions marked seen), the C.UTF-8 locale every
 * root has, and — in a chroot — the root's own PATH and no TMPDIR of the host's, which the chroot would
 * not have. The scripts inherit this process's environment (src/dpkg/script-env.ts).
 */
function scriptEnvironment(mode: 'chroot' | 'chrootless'): void {
  const env = process.env;
  env.DEBIAN_FRONTEND = 'noninteractive';
  env.DEBCONF_NONINTERACTIVE_SEEN = 'true';
  env.LC_ALL = 'C.UTF-8';
  env.LANGUAGE = 'C.UTF-8';
  env.LANG = 'C.UTF-8';
  if (mode === 'chroot') {
    env.PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    delete env.TMPDIR;
  }
}

/** dpkg's progress lines, for a log (not on a terminal, where the progress bar is drawn instead). */
function dpkgLine(e: DpkgEvent, io: Io): void {
  if (e.kind !== 'processing') return;
  const line =
    e.action === 'install' || e.action === 'upgrade'
      ? `Unpacking ${e.pkg.name} (${e.availableVersion}) ...`
      : e.action === 'configure'
        ? `Setting up ${e.pkg.name} (${e.availableVersion}) ...`
        : e.action === 'trigproc'
          ? `Processing triggers for ${e.pkg.name} (${e.installedVersion}) ...`
          : e.action === 'remove' || e.action === 'purge'
            ? `Removing ${e.pkg.name} (${e.installedVersion}) ...`
            : undefined;
  if (line !== undefined) io.stdout.write(`${printable(line)}\n`);
}
