import { printable } from '../control/printable';
import { displayPath, type RootPath } from '../fs/rootpath';
import { layerName, type LayerDir } from './layers';
import type { OverlayFeatures, Setting } from './options';
import type { Counts, StatusReport } from './status';
import type { Mask, Where } from './where';

/** `overlay status` for people: the overlay, then a table of packages, then (when asked) each one's paths. Pure. */

export function formatStatus(r: StatusReport, opts: { files: boolean }): string {
  const out: string[] = [];
  out.push(...formatOverlay(r));
  out.push('');
  out.push(...formatTable(r));
  if (opts.files) {
    for (const p of r.packages) {
      out.push('', `${p.name}:${p.architecture} ${p.version}`);
      out.push(...formatFiles(p.files));
    }
  }
  return `${out.join('\n')}\n`;
}

function formatOverlay(r: StatusReport): string[] {
  const o = r.overlay;
  const inside = o.rootOffset === '' ? '' : ` (the root is /${printable(o.rootOffset)} inside it)`;
  const out = [`overlay: ${printable(o.mountPoint)}${inside}${o.readOnly ? ', read-only' : ''}`];
  const layers: LayerDir[] = [...(o.layers.upper ? [o.layers.upper] : []), ...o.layers.lower, ...o.layers.data];
  const names = layers.map(layerName);
  const w = Math.max(0, ...names.map((n) => n.length));
  layers.forEach((l, i) => {
    out.push(`  ${names[i].padEnd(w)}  ${printable(l.path)}${l.reachable ? '' : `  (unreachable: ${l.why})`}`);
  });
  out.push(`options: ${formatFeatures(o.features)}`);
  const from = o.defaultsFrom === 'sysfs' ? '/sys/module/overlay/parameters' : "the kernel's built-in defaults (no /sys/module/overlay/parameters)";
  out.push(`  (* as the kernel prints them; the others are the module defaults, from ${from})`);
  if (o.features.volatile.value) {
    out.push("  volatile: the kernel drops every sync to the upper layer, so overmerge's journal is not durable here; after a crash the overlay refuses to mount until its upper and work folders are thrown away");
  }
  if (o.layers.sameFilesystem) out.push('  all layers are on one filesystem: inode numbers are the layers\' own whatever xino says');
  if (o.unknownOptions.length > 0) out.push(`  options not known to overmerge: ${o.unknownOptions.map((u) => printable(u)).join(',')}`);
  for (const d of r.database) out.push(`database: ${printable(displayPath(d.path))}  ${describeWhere(d)}${d.upperBytes > 0 ? `, ${formatSize(d.upperBytes)} in the upper layer` : ''}`);
  return out;
}

const FEATURE_NAMES: Array<[keyof OverlayFeatures, string]> = [
  ['redirectDir', 'redirect_dir'],
  ['index', 'index'],
  ['metacopy', 'metacopy'],
  ['xino', 'xino'],
  ['uuid', 'uuid'],
  ['nfsExport', 'nfs_export'],
  ['fsync', 'fsync'],
  ['userxattr', 'userxattr'],
  ['verity', 'verity'],
  ['defaultPermissions', 'default_permissions'],
];

export function formatFeatures(f: OverlayFeatures): string {
  return FEATURE_NAMES.map(([k, name]) => {
    const s = f[k] as Setting<unknown>;
    const v = typeof s.value === 'boolean' ? (s.value ? 'on' : 'off') : String(s.value);
    return `${name}=${v}${s.source === 'mountinfo' ? '*' : ''}`;
  }).join(' ');
}

const COLUMNS: Array<[string, (c: Counts) => number]> = [
  ['Lower', (c) => c.lower],
  ['Copied-up', (c) => c['copied-up']],
  ['Changed', (c) => c.changed],
  ['Upper', (c) => c.upper],
  ['Hidden', (c) => c.hidden],
  ['Absent', (c) => c.absent],
];

function formatTable(r: StatusReport): string[] {
  if (r.packages.length === 0) return ['no packages installed'];
  const rows: string[][] = [['Package', 'Version', 'Files', ...COLUMNS.map(([h]) => h), 'Upper bytes']];
  const row = (name: string, version: string, files: number, c: Counts, bytes: number): string[] => [
    name,
    version,
    String(files),
    ...COLUMNS.map(([, get]) => String(get(c))),
    formatSize(bytes),
  ];
  for (const p of r.packages) rows.push(row(printable(p.name), printable(p.version), p.files.length, p.counts, p.upperBytes));
  rows.push(row('Total', '', r.totals.files, r.totals.counts, r.totals.upperBytes));
  const widths = rows[0].map((_, i) => Math.max(...rows.map((x) => x[i].length)));
  // Names and versions read left to right; numbers line up on the right.
  return rows.map((x) => x.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd());
}

function formatFiles(files: Where[]): string[] {
  const described = files.map((w) => describeWhere(w));
  const width = Math.max(0, ...described.map((d) => d.length));
  return files.map((w, i) => {
    const bytes = w.upperBytes > 0 && w.kind !== 'directory' ? `  ${formatSize(w.upperBytes)}` : '';
    return `  ${described[i].padEnd(width)}  ${printable(displayPath(w.path))}${bytes}`;
  });
}

/** One path's class in words: `lower 0`, `copied-up, differs: content`, `hidden by whiteout /x`. */
export function describeWhere(w: Where): string {
  const extras: string[] = [];
  if (w.metacopy) extras.push('metacopy');
  if (w.opaque) extras.push('opaque');
  if (w.redirect !== undefined) extras.push(`redirect ${printable(w.redirect)}`);
  const tail = extras.length > 0 ? `, ${extras.join(', ')}` : '';
  switch (w.class) {
    case 'lower':
      return `lower ${w.from?.index ?? '?'}${tail}`;
    case 'copied-up':
      return `copied-up, ${w.same ? 'same' : `differs: ${(w.differs ?? []).join(',')}`}${tail}`;
    case 'upper':
      return `upper${tail}`;
    case 'hidden':
      return `hidden by ${describeMask(w.hiddenBy, w.path)}`;
    case 'absent':
      return 'absent';
  }
}

function describeMask(m: Mask | undefined, p: RootPath): string {
  if (!m) return 'the layers above';
  if (m.kind === 'whiteout' && m.path === p) return 'a whiteout';
  const what = m.kind === 'non-directory' ? 'a non-directory at' : m.kind === 'opaque' ? 'opaque directory' : 'whiteout';
  return `${what} ${printable(displayPath(m.path))}`;
}

/**
 * The report as `--json` prints it: paths as dpkg prints them (`/usr/bin/x`, `/.` for the root), in the
 * root and in each layer; a layer's st_dev, which only means something on this machine, left out.
 */
export function statusJson(r: StatusReport): unknown {
  const layer = (l: LayerDir | undefined): unknown => {
    if (!l) return undefined;
    const { dev: _dev, ...rest } = l;
    return rest;
  };
  const where = (w: Where): unknown => ({
    ...w,
    path: displayPath(w.path),
    from: w.from && { ...w.from, path: displayPath(w.from.path) },
    beneath: w.beneath && { ...w.beneath, path: displayPath(w.beneath.path) },
    dataFrom: w.dataFrom && { ...w.dataFrom, path: displayPath(w.dataFrom.path) },
    hiddenBy: w.hiddenBy && { ...w.hiddenBy, path: displayPath(w.hiddenBy.path) },
  });
  const { layers } = r.overlay;
  return {
    ...r,
    overlay: { ...r.overlay, layers: { ...layers, upper: layer(layers.upper), lower: layers.lower.map(layer), data: layers.data.map(layer) } },
    packages: r.packages.map((p) => ({ ...p, files: p.files.map(where) })),
    database: r.database.map(where),
  };
}

/** Sizes for a table: `0 B`, `512 B`, `4.0 KiB`, `1.2 MiB`. */
export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

