import { displayPath, type RootPath } from '../../fs/rootpath';
import { formatSize } from '../status-text';
import type { ReconcileLayers } from './gather';
import type { Note, NoteKind, OriginNote, PackageOutcome, ReconcilePlan, Removal, RemovalReason } from './plan';

/**
 * `overlay reconcile` as a person reads it: what happens to each package, then every change to the upper
 * layer grouped by why, with the bytes it frees, then what is kept for a person to look at, the overlay
 * attributes that refer to the replaced lower, and data that is lost. `--json` gives the plan itself.
 */

export interface ReportContext {
  layers: ReconcileLayers;
  applied: boolean;
  txnId?: number;
  stripOrigin: boolean;
}

export function formatReport(plan: ReconcilePlan, ctx: ReportContext): string {
  const out: string[] = [];
  out.push(ctx.applied ? `overlay reconcile: applied (transaction ${ctx.txnId})` : 'overlay reconcile: dry run, nothing changed (--apply does it)');
  out.push(`  upper layer    ${ctx.layers.upper.host}`);
  for (const l of ctx.layers.lower) out.push(`  lower layer ${l.index}  ${l.path}`);
  for (const l of ctx.layers.data) out.push(`  data layer ${l.index}   ${l.path}`);
  out.push('', ...formatPackages(plan.packages));
  out.push('', ...formatRemovals(plan));
  if (plan.additions.length > 0) {
    out.push('', `Added to the upper layer: ${plan.additions.length}`);
    for (const a of plan.additions) out.push(`  ${a.what === 'whiteout' ? 'whiteout ' : 'directory'}  ${displayPath(a.path)}${a.package ? `  (${a.package} is kept; the image's older version has it)` : '  (to hold a whiteout)'}`);
  }
  const opaque = plan.attributes.filter((a) => a.attr === 'opaque');
  if (opaque.length > 0) {
    out.push('', `Opaque marks removed (nothing beneath them in the new lower): ${opaque.length}`);
    for (const a of opaque) out.push(`  ${displayPath(a.path)}`);
  }
  out.push(...formatOrigins(plan.origins, ctx.stripOrigin));
  out.push(...formatNotes(plan.notes));
  if (plan.lost.length > 0) {
    out.push('', `Lost data: ${plan.lost.length} (it lived in the replaced lower layer; --apply refuses unless --accept-data-loss)`);
    for (const l of plan.lost) out.push(`  ${displayPath(l.path)}${l.package ? `  (${l.package})` : ''}: ${l.why}`);
  }
  out.push('', formatDatabase(plan));
  out.push(
    `Total: ${plan.removals.length} removed (${formatSize(plan.reclaimedBytes)} reclaimed), ${plan.additions.length} added, ${plan.attributes.length} attribute(s) removed, ${plan.lost.length} lost`,
  );
  return `${out.join('\n')}\n`;
}

const VERDICT: Record<PackageOutcome['verdict'], string> = {
  'image-only': 'from the image (the upper layer had none)',
  'image-newer': "from the image (newer than the upper layer's)",
  'image-same': "from the image (the same version as the upper layer's)",
  'image-over-unfinished': "from the image (the upper layer's was not installed)",
  'upper-newer': "kept (newer than the image's)",
  'upper-only': 'kept (the image lacks it)',
  dropped: "dropped (the new image no longer ships it; its files were the old image's)",
};

function formatPackages(all: readonly PackageOutcome[]): string[] {
  if (all.length === 0) return ['Packages: no overmerge database in either layer, no dpkg status in the upper layer'];
  // dpkg's image-only packages are the whole base system of an image: counted, not listed.
  const quiet = all.filter((p) => p.db === 'dpkg' && p.verdict === 'image-only' && p.removed === 0);
  const pkgs = all.filter((p) => !quiet.includes(p));
  const rows = pkgs.map((p) => [p.db === 'dpkg' ? `${p.name} (dpkg)` : p.name, versions(p), VERDICT[p.verdict], p.removed > 0 ? `${p.removed} upper entr${p.removed === 1 ? 'y' : 'ies'} removed` : '']);
  const w = [0, 1].map((i) => Math.max(0, ...rows.map((r) => r[i].length)));
  const out = ['Packages', ...rows.map((r) => `  ${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${r[2]}${r[3] ? `; ${r[3]}` : ''}`)];
  if (quiet.length > 0) out.push(`  and ${quiet.length} more of dpkg's, from the image, that the live system did not touch`);
  return out;
}

function versions(p: PackageOutcome): string {
  const { upperVersion: u, imageVersion: i } = p;
  if (u === undefined) return i ?? '';
  if (i === undefined || u === i) return u;
  return p.rows === 'image' ? `${u} -> ${i}` : `${u} (image ${i})`;
}

const REASON: Record<RemovalReason, string> = {
  redundant: 'equal to the new lower (copies the new image makes redundant)',
  'package-file': 'files of packages whose rows now come from the image',
  'dead-whiteout': 'whiteouts over nothing',
  restored: "whiteouts over files the image's packages ship (those come back)",
  'empty-directory': 'directories left empty that only such packages made',
};

function formatRemovals(plan: ReconcilePlan): string[] {
  const out = [`Removed from the upper layer: ${plan.removals.length} entr${plan.removals.length === 1 ? 'y' : 'ies'}, ${formatSize(plan.reclaimedBytes)} reclaimed`];
  for (const reason of Object.keys(REASON) as RemovalReason[]) {
    const group = plan.removals.filter((r) => r.reason === reason);
    if (group.length === 0) continue;
    const bytes = group.reduce((n, r) => n + r.bytes, 0);
    out.push(`  ${REASON[reason]}: ${group.length}, ${formatSize(bytes)}`);
    for (const r of group) out.push(`    ${describeRemoval(r)}`);
  }
  return out;
}

function describeRemoval(r: Removal): string {
  const extra = [r.package, r.kind === 'whiteout' || r.kind === 'directory' ? r.kind : undefined, r.obsolete ? "the image's version does not ship it" : undefined, r.localChange ? 'a local change the image\'s version replaces' : undefined]
    .filter((x) => x)
    .join('; ');
  return `${displayPath(r.path)}  ${formatSize(r.bytes)}${extra ? `  (${extra})` : ''}`;
}

function formatOrigins(origins: readonly OriginNote[], strip: boolean): string[] {
  if (origins.length === 0) return [];
  const out = ['', `Origin records that do not name the new lower's inode at their path: ${origins.length} (${strip ? 'removed: --strip-origin' : '--strip-origin removes them'})`];
  if (origins.some((o) => o.nullUuid)) {
    out.push("  (their lower filesystem has no UUID, so the kernel cannot tell the replaced lower's handles from the new one's: with index=on or nfs_export=on, lookups fail with ESTALE)");
  }
  for (const o of origins) out.push(`  ${displayPath(o.path)}  ${describeOrigin(o)}`);
  return out;
}

function describeOrigin(o: OriginNote): string {
  const here = o.lowerInode === undefined ? 'the new lower has nothing here' : `the new lower has inode ${o.lowerInode} here`;
  if (o.verdict === 'unknown') return `a handle whose layout cannot be read here; ${here}`;
  return `names inode ${o.inode}; ${here}`;
}

const NOTE: Record<NoteKind, string> = {
  'modified-conffile': 'modified conffiles (kept)',
  'deleted-conffile': 'conffiles the administrator deleted (their whiteouts kept)',
  'obsolete-conffile': "modified conffiles the image's version of their package no longer ships (kept)",
  'left-behind': 'files of packages the new image dropped (kept)',
  redirect: 'renamed directories (redirect_dir; nothing beneath them is touched)',
  metacopy: 'metacopy files whose data the new lower has, as their package recorded it',
  'taken-over': "files a kept package took over from an image package (Replaces): the image package's row for them goes",
};

function formatNotes(notes: readonly Note[]): string[] {
  const out: string[] = [];
  for (const kind of Object.keys(NOTE) as NoteKind[]) {
    const group = notes.filter((n) => n.kind === kind);
    if (group.length === 0) continue;
    out.push('', `Kept: ${NOTE[kind]}: ${group.length}`);
    for (const n of group) out.push(`  ${displayPath(n.path)}${[n.package, n.kind === 'redirect' ? `-> ${n.detail}` : n.detail].filter((x) => x).map((x) => `  (${x})`).join('')}`);
  }
  return out;
}

function formatDatabase(plan: ReconcilePlan): string {
  const d = plan.database;
  const lines = [d ? `Database (the upper layer's ${displayPath('var/lib/overmerge/db.sqlite' as RootPath)}): ${d.fromImage.length} package(s) from the image, ${d.kept.length} kept, ${d.removed.length} removed` : "Database: no overmerge database in either layer"];
  const k = plan.dpkg;
  if (k) {
    const what = { write: 'rewritten as the image\'s with the kept packages\' stanzas', remove: "the image's is the same: the upper layer's copy is removed", unchanged: 'unchanged' }[k.status];
    lines.push(`dpkg's status (the upper layer's /var/lib/dpkg/status): ${what}; ${k.kept.length} kept, ${k.dropped.length} dropped${k.dropped.length ? ` (${k.dropped.map((x) => x.replace(/^dpkg:/, '')).join(', ')})` : ''}`);
  }
  return lines.join('\n');
}

/** The plan as JSON, with the layers. */
export function reportJson(plan: ReconcilePlan, ctx: ReportContext): unknown {
  const { steps: _steps, ...rest } = plan;
  return {
    applied: ctx.applied,
    txnId: ctx.txnId ?? null,
    layers: { upper: ctx.layers.upper.host, lower: ctx.layers.lower.map((l) => l.path), data: ctx.layers.data.map((l) => l.path) },
    ...rest,
    journalSteps: plan.steps.length,
  };
}
