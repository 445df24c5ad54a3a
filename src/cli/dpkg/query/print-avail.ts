import { formatAvailStanza } from '../db/available';
import type { Inst, World } from '../db/world';
import type { QueryAction } from './query-context';
import { parsePkgName } from './pkgspec';

/**
 * -p / --print-avail (src/query/main.c print_avail): what the `available` file says of each named package,
 * in dpkg's form; without names, the whole file as dpkg would write it.
 */
export const printAvail: QueryAction = (q, args) => {
  const world = q.open();
  world.loadAvailable(`${world.admindir}/available`, q.report);
  const stanza = (i: Inst): string => formatAvailStanza(i.available!, world.sectionOf(i), world.priorityOf(i));
  if (args.length === 0) {
    q.out(
      world
        .sorted()
        .filter((i) => world.availableInformative(i))
        .map((i) => `${stanza(i)}\n`)
        .join(''),
    );
    return 0;
  }
  let failures = 0;
  args.forEach((arg, k) => {
    const inst = parsePkgName(world, arg, q.action, q.report);
    if (!world.availableInformative(inst)) {
      q.report.notice(`package '${availableName(world, inst)}' is not available`);
      failures++;
    } else {
      q.out(stanza(inst));
    }
    if (k < args.length - 1) q.out('\n');
  });
  return failures;
};

/** pkgbin_name(pkg, &pkg->available, pnaw_nonambig). */
function availableName(world: World, inst: Inst): string {
  const a = inst.available;
  const arch = a ? a.arch : inst.archNone ? undefined : inst.entry.arch;
  const type = arch === undefined ? 'none' : world.arches.typeOf(arch);
  if (type === 'none' || type === 'empty') return inst.set.name;
  if (a?.multiArch === 'same' || (type !== 'native' && type !== 'all')) return `${inst.set.name}:${arch}`;
  return inst.set.name;
}

