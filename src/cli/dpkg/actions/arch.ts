import { nativeArchOf } from '../../../dpkg/native-arch';
import type { Action, ActionContext } from '../context';
import { ArchList, ARCH_FILE } from '../arch-list';
import { fsPath } from '../report';

/**
 * --print-architecture, --print-foreign-architectures, --add-architecture, --remove-architecture
 * (src/main/enquiry.c printarch, print_foreign_arches; main.c arch_add, arch_remove).
 *
 * --print-architecture is what apt runs most: this module loads nothing but the architecture list, and
 * that only for the other three.
 */
export const printArchitecture: Action = (ctx, args) => {
  noArguments(ctx, args);
  ctx.out(`${nativeArchOf()}\n`);
  return 0;
};

export const printForeignArchitectures: Action = (ctx, args) => {
  noArguments(ctx, args);
  const list = ArchList.load(nativeArchOf(), fsPath(ctx.settings.dirs.admindir), ctx.report);
  ctx.out(list.foreign.map((a) => `${a}\n`).join(''));
  return 0;
};

/**
 * dpkg adds the name to ADMINDIR/arch without opening the package database and without a lock (as dpkg
 * 1.21 does; --no-act does not stop it either). Adding the native architecture, or one already there,
 * writes nothing — except when the file does not exist yet, which is then written with the native one.
 */
export const addArchitecture: Action = async (ctx, args) => {
  const name = oneArgument(ctx, args);
  const list = ArchList.load(nativeArchOf(), fsPath(ctx.settings.dirs.admindir), ctx.report);
  const arch = list.add(name);
  if (arch.type === 'illegal') {
    const { archNameProblem } = await import('../names');
    ctx.report.fatal(`architecture '${name}' is illegal: ${archNameProblem(name)}`);
  }
  if (arch.type !== 'native' && arch.type !== 'foreign') ctx.report.fatal(`architecture '${name}' is reserved and cannot be added`);
  await save(ctx, list);
  return 0;
};

/**
 * Refused while an instance of that architecture is installed (half-installed or beyond), unless
 * --force-architecture, which only warns. The package database is read, not locked, as dpkg does.
 */
export const removeArchitecture: Action = async (ctx, args) => {
  const name = oneArgument(ctx, args);
  const { World } = await import('../db/world');
  const world = World.open(fsPath(ctx.settings.dirs.admindir), nativeArchOf(), ctx.report);
  const list = world.arches;
  const arch = list.find(name);
  if (arch.type !== 'foreign') {
    ctx.report.warning(`cannot remove non-foreign architecture '${arch.name}'`);
    return 0;
  }
  const inUse = world.hashOrder().some((i) => !i.archNone && i.entry.arch === name && i.entry.status.state !== 'not-installed' && i.entry.status.state !== 'config-files');
  if (inUse) {
    if (!ctx.settings.forces.has('architecture')) ctx.report.fatal(`cannot remove architecture '${name}' currently in use by the database`);
    ctx.report.warning(`removing architecture '${name}' currently in use by database`);
  }
  list.unmark(name);
  await save(ctx, list);
  return 0;
};

/** dpkg_arch_save_list(): ADMINDIR/arch written whole (ARCH-new, fsync, rename, directory fsync), if changed. */
async function save(ctx: ActionContext, list: ArchList): Promise<void> {
  if (!list.needsSave) return;
  const { atomicWrite, makeFoldersSync } = await import('../../../fs/atomic-file');
  const dir = fsPath(ctx.settings.dirs.admindir);
  try {
    makeFoldersSync(dir);
    atomicWrite(`${dir}/${ARCH_FILE}`, Buffer.from(list.format(), 'latin1'));
  } catch (err) {
    ctx.report.fatal(`cannot update architecture list '${dir}/${ARCH_FILE}': ${(err as Error).message}`);
  }
}

function noArguments(ctx: ActionContext, args: string[]): void {
  if (args.length > 0) ctx.report.badUsage(`--${ctx.settings.action!.name} takes no arguments`);
}

function oneArgument(ctx: ActionContext, args: string[]): string {
  if (args.length !== 1) ctx.report.badUsage(`--${ctx.settings.action!.name} takes exactly one argument`);
  return args[0];
}
