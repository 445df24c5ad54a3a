import { directStdio } from '../../fs/direct-stdio';
import { loadConfig } from './config';
import type { Action, ActionContext, DpkgIo } from './context';
import { DPKG_OPTIONS } from './dpkg-table';
import { parseOptions } from './options';
import { bytesOfText, DPKG_HELP_HINT, DpkgExit, latin1, Reporter } from './report';
import { DpkgSettings, type ActionName } from './settings';

/**
 * `overmerge-dpkg`: dpkg 1.21's command line over overmerge (src/main/main.c main()). In dpkg's order:
 * configuration files, then the command line, then "need an action option", then the environment dpkg
 * exports to what it runs, the pre-invoke hooks, the action, the post-invoke hooks.
 *
 * Start-up matters (apt runs `dpkg --print-architecture` and friends many times): this module loads the
 * option table and nothing else; each action's module is required only when that action runs, so
 * `--print-architecture` loads no database code, no SQLite and no native addon.
 */
type Loader = () => Promise<Action>;

const ACTIONS: Record<ActionName, Loader> = {
  'print-architecture': async () => (await import('./actions/arch')).printArchitecture,
  'print-foreign-architectures': async () => (await import('./actions/arch')).printForeignArchitectures,
  'add-architecture': async () => (await import('./actions/arch')).addArchitecture,
  'remove-architecture': async () => (await import('./actions/arch')).removeArchitecture,
  'compare-versions': async () => (await import('./actions/versions')).compareVersions,
  'validate-pkgname': async () => (await import('./actions/versions')).validatePkgname,
  'validate-trigname': async () => (await import('./actions/versions')).validateTrigname,
  'validate-archname': async () => (await import('./actions/versions')).validateArchname,
  'validate-version': async () => (await import('./actions/versions')).validateVersion,
  assert: async () => (await import('./actions/assert')).assertFeature,
  help: async () => (await import('./actions/help')).help,
  version: async () => (await import('./actions/help')).version,
  'get-selections': async () => (await import('./actions/selections')).getSelections,
  'set-selections': async () => (await import('./actions/selections')).setSelections,
  'clear-selections': async () => (await import('./actions/selections')).clearSelections,
  'update-avail': async () => (await import('./actions/avail')).updateAvail,
  'merge-avail': async () => (await import('./actions/avail')).updateAvail,
  'clear-avail': async () => (await import('./actions/avail')).updateAvail,
  'forget-old-unavail': async () => (await import('./actions/avail')).forgetOldUnavail,
  'record-avail': async () => (await import('./actions/unsupported')).recordAvail,
  audit: async () => (await import('./actions/audit')).audit,
  'yet-to-unpack': async () => (await import('./actions/audit')).yetToUnpack,
  'predep-package': async () => (await import('./actions/unsupported')).predepPackage,
  verify: async () => (await import('./actions/verify')).verify,
  list: async () => (await import('./query/backend')).queryBackend,
  listfiles: async () => (await import('./query/backend')).queryBackend,
  status: async () => (await import('./query/backend')).queryBackend,
  search: async () => (await import('./query/backend')).queryBackend,
  'print-avail': async () => (await import('./query/backend')).queryBackend,
  install: async () => (await import('./actions/transaction')).transaction,
  unpack: async () => (await import('./actions/transaction')).transaction,
  configure: async () => (await import('./actions/transaction')).transaction,
  remove: async () => (await import('./actions/transaction')).transaction,
  purge: async () => (await import('./actions/transaction')).transaction,
  'triggers-only': async () => (await import('./actions/transaction')).transaction,
  build: async () => (await import('./actions/deb-backend')).debBackend,
  contents: async () => (await import('./actions/deb-backend')).debBackend,
  control: async () => (await import('./actions/deb-backend')).debBackend,
  info: async () => (await import('./actions/deb-backend')).debBackend,
  field: async () => (await import('./actions/deb-backend')).debBackend,
  extract: async () => (await import('./actions/deb-backend')).debBackend,
  vextract: async () => (await import('./actions/deb-backend')).debBackend,
  'ctrl-tarfile': async () => (await import('./actions/deb-backend')).debBackend,
  'fsys-tarfile': async () => (await import('./actions/deb-backend')).debBackend,
};

/** The actions after which dpkg runs the --pre-invoke and --post-invoke hooks and the status loggers. */
const INVOKE_ACTIONS: ReadonlySet<ActionName> = new Set(['unpack', 'configure', 'install', 'triggers-only', 'remove', 'purge', 'add-architecture', 'remove-architecture']);

/** Runs overmerge-dpkg on `argv` (without node and script); resolves to the exit status. Never throws. */
export async function main(argv: readonly string[], io: DpkgIo): Promise<number> {
  const write = (stream: NodeJS.WritableStream) => (bytes: Buffer) => void stream.write(bytes);
  // Whether to colour is asked when something is printed: a program that prints no message never asks
  // whether stdout is a terminal (see processIo).
  const report = new Reporter({
    prog: 'dpkg',
    helpHint: DPKG_HELP_HINT,
    stderr: write(io.stderr),
    get color() {
      return useColor(io);
    },
  });
  try {
    const settings: DpkgSettings = new DpkgSettings(io.env, report);
    loadConfig('dpkg', DPKG_OPTIONS, settings, report, io.env, io.configDir);
    const args = parseOptions(argv.map(bytesOfText), DPKG_OPTIONS, settings, report);
    // dpkg's only debug line outside its transactions.
    if (settings.debug & 1) io.stderr.write(latin1(`D000001: root=${settings.dirs.root} admindir=${settings.dirs.admindir}\n`));
    const chosen = settings.action;
    if (!chosen) return report.badUsage('need an action option');
    const ctx: ActionContext = { settings, report, io, out: (text) => void io.stdout.write(latin1(text)) };
    const run = await ACTIONS[chosen.name]();
    const invoke = INVOKE_ACTIONS.has(chosen.name);
    if (invoke) await (await import('./hooks')).runHooks(ctx, settings.preInvoke);
    const status = await run(ctx, args);
    if (invoke) await (await import('./hooks')).runHooks(ctx, settings.postInvoke);
    return status;
  } catch (err) {
    if (err instanceof DpkgExit) {
      (err.stream === 'stdout' ? io.stdout : io.stderr).write(err.bytes);
      return err.status;
    }
    io.stderr.write(latin1(report.errorText(`internal error: ${bytesOfText(String((err as Error)?.stack ?? err))}`)));
    return 2;
  }
}

/** dpkg's colours: DPKG_COLORS=always, or auto (the default) with stdout on a terminal. */
function useColor(io: DpkgIo): boolean {
  const mode = io.env.DPKG_COLORS ?? 'auto';
  return mode === 'always' || (mode === 'auto' && io.isTTY);
}

/** The process's own streams and environment. */
export function processIo(): DpkgIo {
  // A reader that went away (`dpkg -l | head`) ends the program quietly.
  const brokenPipe = (): never => process.exit(process.exitCode ?? 0);
  const real = (which: 'stdout' | 'stderr') => (): NodeJS.WriteStream => {
    const stream = process[which];
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') brokenPipe();
      throw err;
    });
    return stream;
  };
  return {
    stdout: directStdio(1, real('stdout'), brokenPipe),
    stderr: directStdio(2, real('stderr'), brokenPipe),
    env: process.env,
    // node:tty loads Node's net module and streams (11 ms): only when asked.
    get isTTY() {
      return (require('node:tty') as typeof import('node:tty')).isatty(1);
    },
    readStdin: () =>
      new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        process.stdin.on('data', (b: Buffer) => chunks.push(b));
        process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
        process.stdin.on('error', reject);
      }),
  };
}
