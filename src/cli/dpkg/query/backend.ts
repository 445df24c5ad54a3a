import { nativeArchOf } from '../../../dpkg/native-arch';
import type { Action } from '../context';
import { World } from '../db/world';
import { fsPath, QUERY_HELP_HINT } from '../report';
import type { QueryAction, QueryContext } from './query-context';

/**
 * The actions dpkg hands to dpkg-query (src/main/main.c execbackend: `dpkg-query --ACTION -- ARGS`, with
 * DPKG_ROOT and DPKG_ADMINDIR exported): -l, -L, -s, -S, -p. overmerge-dpkg answers them itself, as
 * dpkg-query would — under dpkg-query's name and help hint, and with its exit statuses (0, 1 when
 * something was not found, 2 for an error).
 */
export const queryBackend: Action = async (ctx, args) => {
  const report = ctx.report.as('dpkg-query', QUERY_HELP_HINT);
  const action = ctx.settings.action!.name;
  const run = await loadQuery(action);
  let world: World | undefined;
  const open = (): World => (world ??= World.open(fsPath(ctx.settings.dirs.admindir), nativeArchOf(), report));
  const q: QueryContext = { report, out: ctx.out, env: ctx.io.env, action, open };
  return run(q, args) === 0 ? 0 : 1;
};

async function loadQuery(action: string): Promise<QueryAction> {
  switch (action) {
    case 'list':
      return (await import('./list')).listPackages;
    case 'listfiles':
      return (await import('./listfiles')).listFiles;
    case 'status':
      return (await import('./status')).printStatus;
    case 'search':
      return (await import('./search')).searchFiles;
    case 'print-avail':
      return (await import('./print-avail')).printAvail;
    default:
      throw new Error(`no query action ${action}`);
  }
}
