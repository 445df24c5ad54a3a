import { OvermergeError } from '../errors';
import { memberToRootPath, type RootPath } from '../fs/rootpath';

/**
 * Parses control.tar's `conffiles`: one absolute path a line, optionally preceded by a flag (dpkg 1.20+
 * knows `remove-on-upgrade`). Returns root paths in file order.
 */
export function parseConffiles(archive: string, text: Buffer | undefined): RootPath[] {
  if (!text) return [];
  const out: RootPath[] = [];
  for (const raw of text.toString('utf8').split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const parts = line.split(/\s+/);
    const file = parts[parts.length - 1];
    if (!file.startsWith('/')) {
      throw new OvermergeError('E_BAD_CONTROL', `${archive}: conffiles line '${line}' does not name an absolute path`, {
        op: 'read conffiles',
        path: archive,
      });
    }
    // Flags other than the path are accepted and ignored; remove-on-upgrade needs scripts' support later.
    out.push(memberToRootPath(`.${file}`));
  }
  return out;
}
