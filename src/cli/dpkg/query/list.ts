import { formatVersion } from '../../../control/version';
import { EFLAGS, STATES, WANTS, type PkgEntry } from '../../../dpkg/model';
import type { Inst, World } from '../db/world';
import type { QueryAction } from './query-context';
import { PkgPattern } from './pkgspec';
import { crop, isUtf8Locale, padField, strWidth } from './width';

/**
 * -l / --list (src/query/main.c listpackages): a header, then one line per package — three status letters,
 * name, version, architecture, the first line of the description — in columns as wide as their longest
 * entry (at least 14, 12, 12 and 33). dpkg 1.21 does not look at COLUMNS: the widths come from the content
 * alone (and, for wide characters, from the locale). Without patterns, packages that are not installed are
 * left out; with patterns, every package dpkg knows of that matches is listed, names only referenced by a
 * relation included (`un` lines).
 */
export const listPackages: QueryAction = (q, args) => {
  const world = q.open();
  const all = world.sorted();
  const utf8 = isUtf8Locale(q.env);
  let shown: Inst[];
  let rc = 0;
  const patterns = args.map((a) => new PkgPattern(a, world));
  const found = patterns.map(() => 0);
  if (args.length === 0) {
    shown = all.filter((i) => i.entry.status.state !== 'not-installed');
  } else {
    shown = all.filter((inst) => {
      let any = false;
      patterns.forEach((p, k) => {
        if (p.matches(inst)) {
          any = true;
          found[k]++;
        }
      });
      return any;
    });
  }
  if (shown.length > 0) {
    const rows = shown.map((inst) => row(world, inst));
    const w = {
      name: Math.max(14, ...rows.map((r) => strWidth(r.name, utf8))),
      version: Math.max(12, ...rows.map((r) => strWidth(r.version, utf8))),
      arch: Math.max(12, ...rows.map((r) => strWidth(r.arch, utf8))),
      desc: Math.max(33, ...rows.map((r) => r.desc.length)),
    };
    const line = (c: string, name: string, version: string, arch: string, desc: string, descLen: number): string =>
      `${c} ${padField(name, crop(name, w.name, utf8))} ${padField(version, crop(version, w.version, utf8))} ${padField(arch, crop(arch, w.arch, utf8))} ${desc.slice(0, crop(desc, descLen, utf8).strBytes)}\n`;
    let out =
      'Desired=Unknown/Install/Remove/Purge/Hold\n' +
      '| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend\n' +
      '|/ Err?=(none)/Reinst-required (Status,Err: uppercase=bad)\n' +
      line('||/', 'Name', 'Version', 'Architecture', 'Description', w.desc) +
      `+++-${'='.repeat(w.name)}-${'='.repeat(w.version)}-${'='.repeat(w.arch)}-${'='.repeat(w.desc)}\n`;
    for (const r of rows) out += line(r.letters, r.name, r.version, r.arch, r.desc, Math.min(r.desc.length, w.desc));
    q.out(out);
  }
  patterns.forEach((p, k) => {
    if (found[k] === 0) {
      q.report.notice(`no packages found matching ${p.text}`);
      rc++;
    }
  });
  return rc;
};

interface Row {
  letters: string;
  name: string;
  version: string;
  arch: string;
  /** The first line of the description. */
  desc: string;
}

function row(world: World, inst: Inst): Row {
  const e = inst.entry;
  return {
    letters: statusLetters(e),
    name: world.displayName(inst),
    version: versionDescribe(e),
    arch: inst.archNone ? '<none>' : e.arch === '' ? '<empty>' : e.arch,
    desc: synopsis(inst),
  };
}

/** pkg_abbrev_want/status/eflag. */
export function statusLetters(e: PkgEntry): string {
  return `${'uihrp'[WANTS.indexOf(e.status.want)]}${'ncHUFWti'[STATES.indexOf(e.status.state)]}${' R'[EFLAGS.indexOf(e.status.flag)]}`;
}

/** versiondescribe(vdew_nonambig): the version, or `<none>`. */
export function versionDescribe(e: PkgEntry): string {
  return e.version === undefined ? '<none>' : formatVersion(e.version);
}

/** pkg_synopsis(): the first line of the installed description, else the available one's. */
export function synopsis(inst: Inst): string {
  const d = inst.entry.text.Description ?? inst.available?.text.Description ?? '(no description available)';
  const nl = d.indexOf('\n');
  return nl < 0 ? d : d.slice(0, nl);
}
