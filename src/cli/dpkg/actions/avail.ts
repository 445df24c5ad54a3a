import * as fs from 'node:fs';
import { nativeArchOf } from '../../../dpkg/native-arch';
import type { Action } from '../context';
import { formatAvailStanza } from '../db/available';
import { fsPath, latin1 } from '../report';

/**
 * --update-avail, --merge-avail, --clear-avail (src/main/update.c): the `available` file replaced by a
 * Packages file, merged with one (a stanza never replaced by an older version), or emptied. apt runs
 * `dpkg --merge-avail -` with dummy records before it sets a selection for a package dpkg does not know,
 * so that the selection is kept. The file is read and written as dpkg does (see db/available.ts), under
 * dpkg's locks, and written whole (available-new, then rename).
 */
export const updateAvail: Action = async (ctx, args) => {
  const action = ctx.settings.action!.name;
  let source = args[0];
  if (action === 'clear-avail') {
    if (args.length > 0) ctx.report.badUsage(`--${action} takes no arguments`);
  } else if (source === undefined) {
    source = '-';
  } else if (args.length > 1) {
    ctx.report.badUsage(`--${action} takes at most one Packages-file argument`);
  }
  const dir = ctx.settings.dirs.admindir;
  let release: (() => void) | undefined;
  if (!ctx.settings.noAct) {
    try {
      fs.accessSync(fsPath(dir), fs.constants.W_OK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EACCES') ctx.report.fatal(`unable to access dpkg database directory '${dir}' for bulk available update: ${(err as Error).message}`);
      ctx.report.fatal(`required write access to dpkg database directory '${dir}' for bulk available update`);
    }
    release = (await import('../locks')).lockDatabase(ctx);
  }
  try {
    if (action === 'update-avail') ctx.out(`Replacing available packages info, using ${source}.\n`);
    if (action === 'merge-avail') ctx.out(`Updating available packages info, using ${source}.\n`);
    const { World } = await import('../db/world');
    const world = World.empty(fsPath(dir), nativeArchOf(), ctx.report);
    const file = `${world.admindir}/available`;
    if (action === 'merge-avail') world.loadAvailable(file, ctx.report);
    let count = 0;
    if (action !== 'clear-avail') {
      const text = source === '-' ? await ctx.io.readStdin() : undefined;
      count = world.loadAvailable(source === '-' ? source : fsPath(source!), ctx.report, { ignoreOlder: true, text });
    }
    if (!ctx.settings.noAct) {
      const body = world
        .sorted()
        .filter((i) => world.availableInformative(i))
        .map((i) => `${formatAvailStanza(i.available!, world.sectionOf(i), world.priorityOf(i))}\n`)
        .join('');
      const { atomicWrite } = await import('../../../fs/atomic-file');
      try {
        atomicWrite(file, latin1(body));
      } catch (err) {
        ctx.report.fatal(`failed to write available database '${dir}/available': ${(err as Error).message}`);
      }
    }
    if (action !== 'clear-avail') ctx.out(`Information about ${count} package${count === 1 ? ' was' : 's was'} updated.\n`);
  } finally {
    release?.();
  }
  return 0;
};

export const forgetOldUnavail: Action = (ctx, args) => {
  const action = ctx.settings.action!.name;
  if (args.length > 0) ctx.report.badUsage(`--${action} takes no arguments`);
  ctx.report.warning(`obsolete '--${action}' option; unavailable packages are automatically cleaned up`);
  return 0;
};
