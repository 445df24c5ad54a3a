import * as fs from 'node:fs';
import { nativeArchOf } from '../../../dpkg/native-arch';
import type { Action } from '../context';
import type { Inst, World } from '../db/world';
import { fsPath } from '../report';

/**
 * -C / --audit and --yet-to-unpack (src/main/enquiry.c audit, unpackchk), with dpkg's checks, order and
 * wording. Both only read the database.
 */
interface Problem {
  readonly check: (world: World, inst: Inst) => boolean;
  readonly explanation: string;
}

const installedAtLeastHalf = (i: Inst): boolean => i.entry.status.state !== 'not-installed' && i.entry.status.state !== 'config-files';
const status = (state: string) => (_w: World, i: Inst): boolean => i.entry.status.flag !== 'reinstreq' && i.entry.status.state === state;
const missingInfo = (type: string) => (w: World, i: Inst): boolean => installedAtLeastHalf(i) && !exists(w.infoFile(i, type));
const archOfType = (type: string) => (w: World, i: Inst): boolean => installedAtLeastHalf(i) && w.archType(i) === type;

const PROBLEMS: readonly Problem[] = [
  {
    check: (_w, i) => i.entry.status.flag === 'reinstreq',
    explanation:
      'The following packages are in a mess due to serious problems during\ninstallation.  They must be reinstalled for them (and any packages\nthat depend on them) to function properly:\n',
  },
  {
    check: status('unpacked'),
    explanation: 'The following packages have been unpacked but not yet configured.\nThey must be configured using dpkg --configure or the configure\nmenu option in dselect for them to work:\n',
  },
  {
    check: status('half-configured'),
    explanation:
      'The following packages are only half configured, probably due to problems\nconfiguring them the first time.  The configuration should be retried using\ndpkg --configure <package> or the configure menu option in dselect:\n',
  },
  {
    check: status('half-installed'),
    explanation:
      'The following packages are only half installed, due to problems during\ninstallation.  The installation can probably be completed by retrying it;\nthe packages can be removed using dselect or dpkg --remove:\n',
  },
  {
    check: status('triggers-awaited'),
    explanation:
      'The following packages are awaiting processing of triggers that they\nhave activated in other packages.  This processing can be requested using\ndselect or dpkg --configure --pending (or dpkg --triggers-only):\n',
  },
  {
    check: status('triggers-pending'),
    explanation:
      'The following packages have been triggered, but the trigger processing\nhas not yet been done.  Trigger processing can be requested using\ndselect or dpkg --configure --pending (or dpkg --triggers-only):\n',
  },
  { check: missingInfo('list'), explanation: 'The following packages are missing the list control file in the\ndatabase, they need to be reinstalled:\n' },
  { check: missingInfo('md5sums'), explanation: 'The following packages are missing the md5sums control file in the\ndatabase, they need to be reinstalled:\n' },
  { check: archOfType('empty'), explanation: 'The following packages do not have an architecture:\n' },
  { check: archOfType('illegal'), explanation: 'The following packages have an illegal architecture:\n' },
  {
    check: archOfType('unknown'),
    explanation:
      'The following packages have an unknown foreign architecture, which will\ncause dependency issues on front-ends. This can be fixed by registering\nthe foreign architecture with dpkg --add-architecture:\n',
  },
];

export const audit: Action = async (ctx, args) => {
  const world = await open(ctx);
  let insts: Inst[];
  if (args.length === 0) {
    insts = world.hashOrder();
  } else {
    const { parsePkgName } = await import('../query/pkgspec');
    insts = args.map((a) => {
      const inst = parsePkgName(world, a, ctx.settings.action!.name, ctx.report);
      if (inst.entry.status.state === 'not-installed') ctx.report.notice(`package '${world.displayName(inst)}' is not installed`);
      return inst;
    });
  }
  const order = new Map(world.sorted().map((inst, k) => [inst, k]));
  insts = [...insts].sort((a, b) => order.get(a)! - order.get(b)!);
  let out = '';
  let running = false;
  for (const problem of PROBLEMS) {
    let head = false;
    for (const inst of insts) {
      if (!problem.check(world, inst)) continue;
      if (!running) {
        if (await databaseLocked(world)) {
          out += 'Another process has locked the database for writing, and might currently be\nmodifying it, some of the following problems might just be due to that.\n\n';
        }
        running = true;
      }
      if (!head) {
        out += problem.explanation;
        head = true;
      }
      out += describeBriefly(world, inst);
    }
    if (head) out += '\n';
  }
  ctx.out(out);
  return 0;
};

/** describebriefly(): the name in 20 columns, then as much of the synopsis as fits in 57 (less for long names). */
function describeBriefly(world: World, inst: Inst): string {
  let max = 57;
  const len = inst.set.name.length;
  if (len > 20) max -= len - 20;
  const d = inst.entry.text.Description ?? '(no description available)';
  const nl = d.indexOf('\n');
  const first = nl < 0 ? d : d.slice(0, nl);
  return ` ${world.displayName(inst).padEnd(20)} ${first.slice(0, Math.max(0, max))}\n`;
}

export const yetToUnpack: Action = async (ctx, args) => {
  if (args.length > 0) ctx.report.badUsage(`--${ctx.settings.action!.name} takes no arguments`);
  const world = await open(ctx);
  const section = (inst: Inst): string | undefined => {
    const e = inst.entry;
    if (e.status.want !== 'install') return undefined;
    if (e.status.state !== 'not-installed' && e.status.state !== 'half-installed' && e.status.state !== 'config-files') return undefined;
    return e.section !== undefined && e.section !== '' ? e.section : '<unknown>';
  };
  const all = world.hashOrder();
  const sections: Array<{ name: string; count: number }> = [];
  let total = 0;
  for (const inst of all) {
    const s = section(inst);
    if (s === undefined) continue;
    let entry = sections.find((e) => e.name.toLowerCase() === s.toLowerCase());
    if (!entry) {
      entry = { name: s, count: 0 };
      const at = sections.findIndex((e) => caseCompare(s, e.name) <= 0);
      sections.splice(at < 0 ? sections.length : at, 0, entry);
    }
    entry.count++;
    total++;
  }
  if (total === 0) return 0;
  let out = '';
  if (total <= 12) {
    for (const inst of all) if (section(inst) !== undefined) out += describeBriefly(world, inst);
  } else if (sections.length <= 12) {
    for (const se of sections) {
      out += ` ${se.count} in ${se.name}: `;
      let width = 70 - se.name.length - String(se.count).length;
      while (width > 59) {
        out += ' ';
        width--;
      }
      for (const inst of all) {
        const s = section(inst);
        if (s === undefined || s.toLowerCase() !== se.name.toLowerCase()) continue;
        const name = world.displayName(inst);
        width -= name.length + 1;
        if (width < 4) {
          out += ' ...';
          break;
        }
        out += ` ${name}`;
      }
      out += '\n';
    }
  } else {
    out += total === 1 ? ` ${total} package, from the following section:` : ` ${total} packages, from the following sections:`;
    let width = 0;
    for (const se of sections) {
      width -= 6 + se.name.length + String(se.count).length;
      if (width < 0) {
        out += '\n';
        width = 73 - se.name.length - String(se.count).length;
      }
      out += `   ${se.name} (${se.count})`;
    }
    out += '\n';
  }
  ctx.out(out);
  return 0;
};

/** strcasecmp() on ASCII. */
function caseCompare(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

async function open(ctx: Parameters<Action>[0]): Promise<World> {
  const { World } = await import('../db/world');
  return World.open(fsPath(ctx.settings.dirs.admindir), nativeArchOf(), ctx.report);
}

function exists(file: string): boolean {
  try {
    fs.lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** modstatdb_is_locked(): whether another process holds the database lock (F_GETLK on `lock`). */
async function databaseLocked(world: World): Promise<boolean> {
  let fd: number;
  try {
    fd = fs.openSync(`${world.admindir}/lock`, 'r');
  } catch {
    return false;
  }
  try {
    const { conflict } = await import('../../../fs/fcntl');
    return conflict(fd, 'write').kind !== 'none';
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}
