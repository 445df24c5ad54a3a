import type { DpkgStatus } from '../dpkg/script-protocol';
import type { PackageStatus } from '../db/types';
import type { Writer } from './context';
import { labelOf, type DpkgEventSink } from '../model/events';
import type { Plan } from './plan-model';
import type { PackageScripts } from './script-plan';
import { runInSession, type ScriptSession } from './script-session';

/**
 * The states both databases record at the commit, where dpkg's checkpoint stands: a package to configure
 * is unpacked (the configure queue takes it from there), one whose postrm is still to run half-installed (a purge of such a
 * package keeps its rows and its postrm until the postrm purge has run).
 */
export function applyCommitStates(plan: Plan, flows: readonly PackageScripts[]): void {
  const byKey = new Map(flows.filter((f) => f.commitStatus !== undefined).map((f) => [f.key, f.commitStatus as DpkgStatus]));
  if (byKey.size === 0) return;
  for (const rec of plan.records) {
    const status = byKey.get(rec.ref.name) ?? byKey.get(`${rec.ref.name}:${rec.ref.architecture}`);
    if (status !== undefined) rec.status = status;
  }
  plan.deleted = plan.deleted.filter((ref) => {
    const status = byKey.get(ref.name) ?? byKey.get(`${ref.name}:${ref.architecture}`);
    if (status === undefined) return true;
    plan.records.push({ ref, status, files: [] });
    return false;
  });
}

/**
 * After the commit: the removal calls dpkg makes after its checkpoint and never unwinds (postrm remove,
 * postrm purge), each followed, when it succeeds, by the state it leads to — written to
 * dpkg's database, then to overmerge's (a crash between the two is mended by the next import, dpkg's
 * side winning). A failure leaves the package where dpkg leaves it (half-configured, half-installed) and
 * is returned, one line each; the other packages go on.
 */
export async function runTail(w: Writer, flows: readonly PackageScripts[], session: ScriptSession | undefined, emit?: DpkgEventSink): Promise<string[]> {
  const failures: string[] = [];
  for (const f of flows) {
    let removed = false;
    for (const item of f.tail) {
      if (item.kind === 'script') {
        if (session === undefined) break;
        const call = item.target.call;
        // The purge of what this command removed: dpkg names it once the removal is done.
        if (call.args[0] === 'purge' && removed) {
          const label = labelOf(call.key, call.package, call.arch);
          emit?.({ kind: 'processing', action: 'purge', pkg: label, installedVersion: call.version, availableVersion: '<none>' });
        }
        if (call.args[0] === 'remove') removed = true;
        const run = await runInSession(session, item.target);
        const bad = run.status === 'failed' ? run.error.message : run.status === 'absent' && item.target.call.ifAbsent === 'fail' ? `${item.target.call.package} has no ${item.target.call.script}` : undefined;
        if (bad !== undefined) {
          failures.push(bad);
          break;
        }
      } else if (item.kind === 'state') {
        w.dpkg?.setStatus({ name: item.name, arch: item.arch }, { want: item.want, flag: 'ok', state: item.status }, item.status === 'installed' ? { configVersion: null } : {});
        const row = w.db.packages.get(item.name, item.arch);
        if (row) w.db.packages.setStatus(row.id, item.status as PackageStatus, null);
      } else {
        if (w.dpkg) {
          const now = w.dpkg.get(item.name, item.arch);
          if (now) {
            w.dpkg.removeInfoFiles({ name: item.name, arch: item.arch, multiArch: now.multiArch });
            w.dpkg.apply(w.dpkg.planForget({ name: item.name, arch: item.arch }));
          }
        }
        const row = w.db.packages.get(item.name, item.arch);
        if (row) {
          w.db.transaction(() => {
            w.db.files.deleteFilesOf(row.id);
            w.db.packages.delete(row.id);
          });
        }
      }
    }
  }
  return failures;
}
