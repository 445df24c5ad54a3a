import { Fsys } from '../db/fsys';
import type { QueryAction } from './query-context';
import { parsePkgName } from './pkgspec';

/**
 * -L / --listfiles (src/query/main.c list_files): the paths of each package's `.list`, each diverted one
 * followed by where its diversion sends it, packages separated by empty lines.
 */
export const listFiles: QueryAction = (q, args) => {
  if (args.length === 0) q.report.badUsage(`--${q.action} needs at least one package name argument`);
  const world = q.open();
  const fsys = new Fsys(world, q.report);
  let failures = 0;
  args.forEach((arg, k) => {
    const inst = parsePkgName(world, arg, q.action, q.report);
    if (inst.entry.status.state === 'not-installed') {
      q.report.notice(`package '${world.displayName(inst)}' is not installed`);
      failures++;
    } else {
      const files = fsys.filesOf(inst);
      fsys.loadDiversions();
      if (files.length === 0) {
        q.out(`Package '${world.displayName(inst)}' does not contain any files (!)\n`);
      } else {
        let out = '';
        for (const node of files) {
          out += `${node.name}\n`;
          const d = node.divert;
          if (d && !d.camefrom) {
            const to = d.useinstead!.name;
            if (d.pkgset === null) out += `locally diverted to: ${to}\n`;
            else if (d.pkgset === inst.set.name) out += `package diverts others to: ${to}\n`;
            else out += `diverted by ${d.pkgset} to: ${to}\n`;
          }
        }
        q.out(out);
      }
    }
    if (k < args.length - 1) q.out('\n');
  });
  if (failures) q.report.raw('Use dpkg --contents (= dpkg-deb --contents) to list archive files contents.\n');
  return failures;
};
