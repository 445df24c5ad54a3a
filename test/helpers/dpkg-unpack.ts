import { execFile, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { readDebControl } from '../../src/archive/deb';

const execFileP = promisify(execFile);

/**
 * dpkg as an oracle for `overmerge unpack --no-scripts`, on a root that is a plain folder.
 *
 * dpkg has no switch to skip maintainer scripts, and neither of its ways to run them fits a fresh folder:
 * chrooted (the default) needs a shell inside the root before any package has shipped one, and
 * `--force-script-chrootless` runs them on the HOST with DPKG_ROOT set, which not every script honours
 * (in the required set, libnewt0.52's preinst runs `rm -f /etc/newt/palette*` and cdebconf's runs
 * `mkdir -p /var/lib/cdebconf`, both on the host). So dpkg runs chrootless inside a private mount
 * namespace where every interpreter the archives' scripts name is /usr/bin/true bind-mounted over it:
 * each script "succeeds" without doing anything, exactly what --no-scripts means for overmerge, and no
 * script can touch the host. The namespace (and its mounts) ends with the dpkg process.
 */

/** Why dpkg cannot be run as an oracle here, or undefined when it can. */
export async function cannotRunDpkg(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (dpkg --root, and unshare -m to keep maintainer scripts off the host)';
  for (const tool of ['dpkg', 'dpkg-deb', 'unshare', 'mount']) {
    try {
      await execFileP('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `needs ${tool} on PATH`;
    }
  }
  try {
    await execFileP('unshare', ['-m', '--propagation', 'private', 'mount', '--bind', '/usr/bin/true', '/usr/bin/true']);
  } catch (err) {
    return `needs a private mount namespace (unshare -m + mount --bind) to neutralise maintainer scripts: ${firstLine(err)}`;
  }
  return undefined;
}

/** The admin folder `dpkg --root=ROOT` expects: ROOT/var/lib/dpkg/{status,available,info,updates}. */
export async function prepareDpkgAdmin(root: string): Promise<void> {
  const admin = path.join(root, 'var/lib/dpkg');
  await fsp.mkdir(path.join(admin, 'info'), { recursive: true });
  await fsp.mkdir(path.join(admin, 'updates'), { recursive: true });
  // Whatever the umask: dpkg leaves the existing var and var/lib as they are, packages ship them 0755.
  for (const d of ['var', 'var/lib', 'var/lib/dpkg', 'var/lib/dpkg/info', 'var/lib/dpkg/updates']) await fsp.chmod(path.join(root, d), 0o755);
  for (const f of ['status', 'available']) await fsp.writeFile(path.join(admin, f), '', { flag: 'a' });
}

/** Host paths (symlinks resolved) of every interpreter named by a maintainer script of `debs`, plus /bin/sh. */
export async function scriptInterpreters(debs: string[]): Promise<string[]> {
  const names = new Set<string>(['/bin/sh']);
  for (const deb of debs) {
    const control = await readDebControl(deb);
    for (const script of ['preinst', 'postinst', 'prerm', 'postrm']) {
      const body = control.files.get(script);
      const m = body?.subarray(0, 256).toString('latin1').match(/^#!\s*(\S+)/);
      if (m) names.add(m[1]);
    }
  }
  const real = new Set<string>();
  for (const n of names) {
    const r = await fsp.realpath(n).catch(() => undefined);
    if (r !== undefined) real.add(r);
  }
  return [...real].sort();
}

export interface DpkgRun {
  status: number;
  output: string;
}

/**
 * `dpkg --root=ROOT --unpack DEBS...` with maintainer scripts neutralised (see above), dependencies
 * not enforced (an unpack of a whole set in one call, as overmerge does it), triggers deferred. dpkg's
 * default durability: it fsyncs each file before renaming it into place.
 */
export function dpkgUnpack(root: string, debs: string[], interpreters: string[]): Promise<DpkgRun> {
  const mounts = interpreters.map((p) => `mount --bind /usr/bin/true '${p.replace(/'/g, `'\\''`)}' || exit 97`).join('\n');
  const script = `${mounts}\nexec dpkg --root="$0" --force-script-chrootless --force-depends --no-triggers --unpack "$@"`;
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, root, ...debs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
    });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ status: code ?? (signal ? 128 : 1), output: Buffer.concat(out).toString('utf8') }));
  });
}

/** The lines of dpkg's output worth showing when it failed (its pre-dependency chatter left out). */
export function dpkgErrors(output: string): string {
  return output
    .split('\n')
    .filter((l) => /error|unable|cannot|failed/i.test(l) && !/^(Preparing|Unpacking|Selecting)/.test(l))
    .slice(0, 20)
    .join('\n');
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return String(e.stderr || e.message || err).trim().split('\n')[0];
}

/** Host folders a maintainer script run on the host (chrootless) could write to, shadowed by inHostSandbox. */
const SANDBOXED = ['etc', 'var', 'usr', 'root', 'home', 'opt', 'srv'];

/**
 * Why `work` cannot hold a host sandbox's layers and the roots written in it (they must lie outside every
 * folder the sandbox shadows, or what the tools write there would vanish with it); undefined when it can.
 */
export async function cannotSandboxIn(work: string): Promise<string | undefined> {
  const real = await fsp.realpath(work);
  const shadowed = SANDBOXED.find((d) => real === `/${d}` || real.startsWith(`/${d}/`));
  return shadowed === undefined ? undefined : `${real} lies under /${shadowed}, which the host sandbox shadows (set TMPDIR elsewhere)`;
}

/**
 * Runs `argv` with maintainer scripts free to run for real on the host (chrootless), but with the host
 * kept out of their reach: in a private mount namespace whose /etc, /var, /usr, /root, /home, /opt and /srv
 * are overlays of themselves over a tmpfs in `layers` (a folder outside them: cannotSandboxIn). A script
 * that honours DPKG_ROOT writes into the root; one that does not (libnewt0.52's preinst removes
 * /etc/newt/palette*, cdebconf's makes /var/lib/cdebconf) writes into the throwaway layers. Everything
 * mounted ends with the process.
 */
export function inHostSandbox(layers: string, argv: string[], env: NodeJS.ProcessEnv = {}): Promise<DpkgRun> {
  const script = [
    'set -e',
    'mount -t tmpfs overmerge-sandbox "$0"',
    `for d in ${SANDBOXED.join(' ')}; do`,
    '  { [ -d "/$d" ] && [ ! -L "/$d" ]; } || continue',
    '  mkdir "$0/$d.upper" "$0/$d.work"',
    '  mount -t overlay overmerge-sandbox -o "lowerdir=/$d,upperdir=$0/$d.upper,workdir=$0/$d.work" "/$d"',
    'done',
    'exec "$@"',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, layers, ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive', ...env },
    });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ status: code ?? (signal ? 128 : 1), output: Buffer.concat(out).toString('utf8') }));
  });
}
