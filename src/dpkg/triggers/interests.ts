import type { TriggerDeclarations, TriggerDirective } from './declarations';
import type { ExplicitInterest, FileInterest, TriggerInterests } from './model';
import { triggerKind } from './names';

/**
 * Who is interested in what, and how a package's interests change at unpack and removal (triglib.c's
 * interest_change callbacks). Pure: each function returns new data.
 */

/**
 * A file path as dpkg's file table knows it: leading slashes and `./` pairs dropped (path_skip_slash_dotslash),
 * trailing slashes dropped (a directory member `./usr/share/` is the node `/usr/share`), one leading slash.
 */
export function nodeName(path: string): string {
  let p = path;
  for (;;) {
    if (p.startsWith('/')) p = p.slice(1);
    else if (p.startsWith('./')) p = p.slice(2);
    else break;
  }
  while (p.endsWith('/')) p = p.slice(0, -1);
  return `/${p}`;
}

/**
 * The file interests in `path` (already a node name), in the order dpkg activates them: each file node keeps
 * its interested packages newest first, while triggers/File lists them oldest first, so this is File's order
 * reversed among the lines for that path.
 */
export function fileInterestsIn(interests: TriggerInterests, path: string): FileInterest[] {
  return interests.file.filter((i) => i.path === path).reverse();
}

/** The packages interested in explicit trigger `name`, in the order of its file. */
export function explicitInterestsIn(interests: TriggerInterests, name: string): readonly ExplicitInterest[] {
  return Object.hasOwn(interests.explicit, name) ? interests.explicit[name] : [];
}

/**
 * The interests after `pkg` drops those of `remove` (its old triggers file) and takes those of `add` (the
 * new one), as dpkg does at unpack (old then new) and removal (old only). Consequences worth knowing:
 * - an explicit trigger's file is rewritten without the package's lines, then the new line appended, so a
 *   reinstalled package moves to the end; a file whose last line goes is deleted;
 * - a file interest the package already has keeps its place in File and takes the new await option; a
 *   removed one is dropped and, if declared again, appended at the end.
 */
export function changeInterests(
  interests: TriggerInterests,
  pkg: string,
  remove: TriggerDeclarations | undefined,
  add: TriggerDeclarations | undefined,
): TriggerInterests {
  let file = interests.file.slice();
  const explicit: Record<string, ExplicitInterest[]> = { ...interests.explicit };
  const changeExplicit = (t: TriggerDirective, adding: boolean) => {
    const kept = (explicit[t.trigger] ?? []).filter((i) => i.package !== pkg);
    if (adding) kept.push({ package: pkg, noawait: t.noawait });
    if (kept.length > 0) explicit[t.trigger] = kept;
    else delete explicit[t.trigger];
  };
  for (const t of remove?.interests ?? []) {
    if (triggerKind(t.trigger) === 'explicit') changeExplicit(t, false);
    else if (triggerKind(t.trigger) === 'file') file = file.filter((i) => !(i.path === nodeName(t.trigger) && i.package === pkg));
  }
  for (const t of add?.interests ?? []) {
    if (triggerKind(t.trigger) === 'explicit') changeExplicit(t, true);
    else if (triggerKind(t.trigger) === 'file') {
      const path = nodeName(t.trigger);
      const at = file.findIndex((i) => i.path === path && i.package === pkg);
      if (at >= 0) file[at] = { path, package: pkg, noawait: t.noawait };
      else file.push({ path, package: pkg, noawait: t.noawait });
    }
  }
  return { file, explicit };
}

/** The explicit trigger names whose interest files differ between `a` and `b` (to rewrite or delete). */
export function changedExplicitNames(a: TriggerInterests, b: TriggerInterests): string[] {
  const names = new Set([...Object.keys(a.explicit), ...Object.keys(b.explicit)]);
  const same = (x: readonly ExplicitInterest[] = [], y: readonly ExplicitInterest[] = []) =>
    x.length === y.length && x.every((i, n) => i.package === y[n].package && i.noawait === y[n].noawait);
  return [...names].filter((n) => !same(a.explicit[n], b.explicit[n])).sort();
}
