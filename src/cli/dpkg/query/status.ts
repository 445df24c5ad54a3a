import { stanzaText } from '../../../dpkg/dump';
import { isInformative } from '../../../dpkg/entry';
import type { QueryAction } from './query-context';
import { parsePkgName } from './pkgspec';

/**
 * -s / --status (src/query/main.c print_status): each named package's stanza as dpkg writes it to status,
 * separated by empty lines; without names, the whole status file as dpkg would write it.
 */
export const printStatus: QueryAction = (q, args) => {
  const world = q.open();
  if (args.length === 0) {
    q.out(
      world
        .sorted()
        .filter((i) => isInformative(i.entry))
        .map((i) => `${stanzaText(i.entry)}\n`)
        .join(''),
    );
    return 0;
  }
  let failures = 0;
  args.forEach((arg, k) => {
    const inst = parsePkgName(world, arg, q.action, q.report);
    const e = inst.entry;
    const nothing = e.status.state === 'not-installed' && e.priority === undefined && e.section === undefined && e.status.want === 'unknown' && !isInformative(e);
    if (nothing) {
      q.report.notice(`package '${world.displayName(inst)}' is not installed and no information is available`);
      failures++;
    } else {
      q.out(stanzaText(e));
    }
    if (k < args.length - 1) q.out('\n');
  });
  if (failures) q.report.raw('Use dpkg --info (= dpkg-deb --info) to examine archive files.\n');
  return failures;
};
