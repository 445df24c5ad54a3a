import { Fsys, type FsysNode } from '../db/fsys';
import { trimSlashSlashdot } from '../dirs';
import type { QueryAction } from './query-context';
import { compile } from '../../../dpkg/fnmatch';

/**
 * -S / --search (src/query/main.c searchfiles): the packages whose lists name a path. A word without `*`,
 * `[`, `?` or '/' at its start is searched as `*WORD*`; one without pattern characters after that is a
 * path (trailing '/' and '/.' dropped) looked up directly, else a pattern matched against every path dpkg
 * knows, in dpkg's hash order. A diverted path also prints its diversion.
 */
export const searchFiles: QueryAction = (q, args) => {
  if (args.length === 0) q.report.badUsage('--search needs at least one file name pattern argument');
  const world = q.open();
  const fsys = new Fsys(world, q.report);
  fsys.loadAll();
  fsys.loadDiversions();
  let failures = 0;
  for (const arg of args) {
    let pattern = arg;
    // dpkg's strchr("*[?/", c) also finds the terminating NUL: an empty word is not wrapped.
    if (pattern !== '' && !'*[?/'.includes(pattern[0])) pattern = `*${pattern}*`;
    let out = '';
    let found = 0;
    const show = (node: FsysNode): void => {
      const r = searchOutput(node);
      out += r.text;
      found += r.found;
    };
    if (!/[*[?\\]/.test(pattern)) {
      show(fsys.find(trimSlashSlashdot(pattern)));
    } else {
      const re = compile(pattern);
      for (const node of fsys.hashOrder()) if (re.test(node.name)) show(node);
    }
    q.out(out);
    if (!found) {
      q.report.notice(`no path found matching pattern ${pattern}`);
      failures++;
    }
  }
  return failures;

  function searchOutput(node: FsysNode): { text: string; found: number } {
    let text = '';
    const d = node.divert;
    if (d) {
      const from = d.camefrom ? d.camefrom.name : node.name;
      const to = d.useinstead ? d.useinstead.name : node.name;
      if (d.pkgset !== null) text += `diversion by ${d.pkgset} from: ${from}\ndiversion by ${d.pkgset} to: ${to}\n`;
      else text += `local diversion from: ${from}\nlocal diversion to: ${to}\n`;
    }
    const owners = node.owners.map((o) => world.displayName(o));
    if (owners.length > 0) text += `${owners.join(', ')}: ${node.name}\n`;
    return { text, found: owners.length + (d ? 1 : 0) };
  }
};
