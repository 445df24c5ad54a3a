import { nativeArchOf } from '../../../dpkg/native-arch';
import { isInformative } from '../../../dpkg/entry';
import { WANTS } from '../../../dpkg/model';
import type { Action, ActionContext } from '../context';
import type { Inst, World } from '../db/world';
import { PkgPattern } from '../query/pkgspec';
import { bytesOfText, fsPath } from '../report';

/**
 * --get-selections, --set-selections, --clear-selections (src/main/select.c). The writing ones open the
 * database as dpkg does for writing (locks taken, see locks.ts), change the selections (the "want" word of
 * Status) in memory, and write status once at the end, through DpkgDb (update entries incorporated, status
 * rewritten with status-old kept) — as dpkg's modstatdb_shutdown() does. With --no-act nothing is locked
 * or written.
 *
 * Two things dpkg does when it opens its database for writing are not done here: converting a legacy
 * info/ directory (overmerge's DpkgDb refuses to write into one and says so), and incorporating trigger
 * activations left in triggers/Unincorp (the next dpkg or overmerge transaction does it).
 */

export const getSelections: Action = async (ctx, args) => {
  const world = await openWorld(ctx);
  const sorted = world.sorted();
  let out = '';
  if (args.length === 0) {
    for (const inst of sorted) if (inst.entry.status.state !== 'not-installed') out += selectionLine(world, inst);
    ctx.out(out);
    return 0;
  }
  for (const arg of args) {
    const p = new PkgPattern(arg, world);
    let found = 0;
    for (const inst of sorted) {
      if (!p.matches(inst)) continue;
      out += selectionLine(world, inst);
      found++;
    }
    ctx.out(out);
    out = '';
    if (!found) ctx.report.notice(`no packages found matching ${arg}`);
  }
  return 0;
};

/** getsel1package(): name, tabs to column 48 (at least one), the selection; nothing for `unknown`. */
function selectionLine(world: World, inst: Inst): string {
  if (inst.entry.status.want === 'unknown') return '';
  const name = world.displayName(inst);
  const tabs = Math.max(1, 6 - (name.length >> 3));
  return `${name}${'\t'.repeat(tabs)}${inst.entry.status.want}\n`;
}

export const setSelections: Action = async (ctx, args) => {
  if (args.length > 0) ctx.report.badUsage(`--${ctx.settings.action!.name} takes no arguments`);
  const release = ctx.settings.noAct ? undefined : (await import('../locks')).lockDatabase(ctx);
  try {
    const world = await openWorld(ctx);
    world.loadAvailable(`${world.admindir}/available`, ctx.report);
    const input = (await ctx.io.readStdin()).toString('latin1');
    const { lookupPkg } = await import('../query/pkgspec');
    let outdated = false;
    for (const { name, selection, line } of readSelections(input, ctx)) {
      const inst = lookupPkg(world, name);
      if (typeof inst === 'string') return ctx.report.fatal(`illegal package name at line ${line}: ${inst.slice(0, 250)}`);
      if (!isInformative(inst.entry) && !world.availableInformative(inst)) {
        outdated = true;
        ctx.report.warning(`package not in status nor available database at line ${line}: ${name.slice(0, 250)}`);
        continue;
      }
      const want = WANTS.find((w) => selection.slice(0, w.length).toLowerCase() === w);
      if (want === undefined) return ctx.report.fatal(`unknown wanted status at line ${line}: ${selection.slice(0, 250)}`);
      inst.entry = { ...inst.entry, status: { ...inst.entry.status, want } };
    }
    if (!ctx.settings.noAct) await writeSelections(ctx, world, true);
    if (outdated) {
      ctx.report.warning(
        'found unknown packages; this might mean the available database\nis outdated, and needs to be updated through a frontend method;\nplease see the FAQ <https://wiki.debian.org/Teams/Dpkg/FAQ#set-selections>',
      );
    }
  } finally {
    release?.();
  }
  return 0;
};

/**
 * The lines of --set-selections' input as dpkg's reader takes them: blank lines and `#` comments skipped;
 * a package name and a selection separated by white space; nothing else on the line but white space.
 */
function* readSelections(input: string, ctx: ActionContext): Generator<{ name: string; selection: string; line: number }> {
  const isSpace = (c: string | undefined): boolean => c !== undefined && ' \t\n\v\f\r'.includes(c);
  let i = 0;
  let line = 1;
  const get = (): string | undefined => (i < input.length ? input[i++] : undefined);
  for (;;) {
    let c: string | undefined;
    do {
      c = get();
      if (c === '\n') line++;
    } while (c !== undefined && isSpace(c));
    if (c === undefined) return;
    if (c === '#') {
      do {
        c = get();
        if (c === '\n') line++;
      } while (c !== undefined && c !== '\n');
      continue;
    }
    let name = '';
    while (!isSpace(c)) {
      name += c;
      c = get();
      if (c === undefined) ctx.report.fatal(`unexpected end of file in package name at line ${line}`);
      if (c === '\n') ctx.report.fatal(`unexpected end of line in package name at line ${line}`);
    }
    while (c !== undefined && isSpace(c)) {
      c = get();
      if (c === undefined) ctx.report.fatal(`unexpected end of file after package name at line ${line}`);
      if (c === '\n') ctx.report.fatal(`unexpected end of line after package name at line ${line}`);
    }
    let selection = '';
    while (c !== undefined && !isSpace(c)) {
      selection += c;
      c = get();
    }
    while (c !== undefined && c !== '\n') {
      c = get();
      // dpkg reads EOF here as a non-space character.
      if (!isSpace(c)) ctx.report.fatal(`unexpected data after package and selection at line ${line}`);
    }
    yield { name, selection, line };
    if (c === undefined) return;
    line++;
  }
}

export const clearSelections: Action = async (ctx, args) => {
  if (args.length > 0) ctx.report.badUsage(`--${ctx.settings.action!.name} takes no arguments`);
  const release = ctx.settings.noAct ? undefined : (await import('../locks')).lockDatabase(ctx);
  try {
    const world = await openWorld(ctx);
    for (const inst of world.hashOrder()) {
      const e = inst.entry;
      if (!e.essential && !e.protected && e.status.want !== 'unknown') inst.entry = { ...e, status: { ...e.status, want: 'deinstall' } };
    }
    if (!ctx.settings.noAct) await writeSelections(ctx, world, false);
  } finally {
    release?.();
  }
  return 0;
};

async function openWorld(ctx: ActionContext): Promise<World> {
  const { World } = await import('../db/world');
  return World.open(fsPath(ctx.settings.dirs.admindir), nativeArchOf(), ctx.report);
}

/**
 * modstatdb_shutdown() after a change of selections: status rewritten through DpkgDb, each instance as
 * the world now holds it (its selection, and — when `available` was read — the package's Section and
 * Priority as dpkg then holds them).
 */
async function writeSelections(ctx: ActionContext, world: World, withAvailable: boolean): Promise<void> {
  const { DpkgDb } = await import('../../../dpkg/dpkg-db');
  const { Paragraph } = await import('../../../control/paragraph');
  const { toText } = await import('../../../dpkg/bytes');
  const db = DpkgDb.open(world.admindir, { nativeArch: world.arches.native });
  try {
    for (const inst of world.hashOrder()) {
      const e = inst.entry;
      const section = withAvailable ? world.sectionOf(inst) : e.section;
      const priority = withAvailable ? world.priorityOf(inst) : e.priority;
      const ref = { name: toText(e.name), arch: toText(e.arch) };
      const current = inst.archNone ? undefined : db.get(ref.name, ref.arch);
      if (current) {
        const same = current.status.want === e.status.want && section === e.section && priority === e.priority;
        if (same) continue;
        db.setStatus(ref, current.status.want === e.status.want ? current.status : { ...current.status, want: e.status.want }, {
          section: section === undefined ? undefined : toText(section),
          priority: priority === undefined ? undefined : toText(priority),
        });
      } else if (e.status.want !== 'unknown') {
        // A selection for a package only `available` knows: dpkg writes its blank installed half with
        // the selection, the architecture and the package's classification.
        const fields: Array<[string, string]> = [
          ['Package', toText(e.name)],
          ['Status', `${e.status.want} ${e.status.flag} ${e.status.state}`],
        ];
        if (priority !== undefined) fields.push(['Priority', toText(priority)]);
        if (section !== undefined) fields.push(['Section', toText(section)]);
        if (!inst.archNone && e.arch !== '') fields.push(['Architecture', toText(e.arch)]);
        db.writePackage(new Paragraph(fields));
      }
    }
    db.checkpoint();
  } catch (err) {
    const { OvermergeError } = await import('../../../errors');
    if (err instanceof OvermergeError) ctx.report.fatal(bytesOfText(err.message));
    throw err;
  } finally {
    db.close();
  }
}
