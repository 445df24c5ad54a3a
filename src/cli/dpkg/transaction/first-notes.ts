import type { PkgState } from '../../../dpkg/model';
import type { DpkgEvent, DpkgEventSink } from '../../../model/events';

/**
 * dpkg's status line for a package's state as it was read, where dpkg writes one (see StatusNotes in
 * status-fd.ts: a package read in any state but not-installed is "dirty" until dpkg first records it). The
 * engine reports only changes; this puts back the one line dpkg writes before any change, at the place
 * dpkg writes it, since apt's progress waits for it:
 *
 * - a removal or purge of a named package records it before it starts (`status: P: installed`, then
 *   `processing: remove: P`), as dpkg records each named package when it queues it; with --pending
 *   (apt's `--purge --pending` after --set-selections) it is recorded just after being named, as a
 *   configure records it;
 * - a configure records it just after naming it (`processing: configure: P`, then `status: P: unpacked`),
 *   unless this run recorded it already (-i: unpacked a moment before);
 * - a trigger run (`processing: trigproc: P`) changes the state before recording it: no such line;
 * - an unpack changes the state before recording it: no such line.
 *
 * And one line the engine writes that dpkg does not: during a removal, between the prerm
 * (half-configured) and the files going (half-installed), the engine records the package unpacked; dpkg
 * sets that state without recording it, so its line is left out.
 *
 * `read`: each package's state as read from dpkg's database when the run began, by the name dpkg prints;
 * `pending`: the run was asked for with --pending (-a) rather than package names.
 */
export function withFirstNotes(read: ReadonlyMap<string, { state: PkgState; version: string }>, pending: boolean, next: DpkgEventSink): DpkgEventSink {
  const noted = new Set<string>();
  const removing = new Set<string>();
  const current = new Map<string, { state: PkgState; version: string }>(read);
  const announce = (name: string, pkg: Extract<DpkgEvent, { kind: 'processing' }>['pkg']): void => {
    const now = current.get(name);
    noted.add(name);
    if (now !== undefined && now.state !== 'not-installed') next({ kind: 'status', pkg, state: now.state, version: now.version });
  };
  return (e) => {
    if (e.kind === 'status') {
      if (removing.has(e.pkg.name) && e.state === 'unpacked') return;
      if (e.state === 'config-files' || e.state === 'not-installed' || e.state === 'installed') removing.delete(e.pkg.name);
      noted.add(e.pkg.name);
      current.set(e.pkg.name, { state: e.state, version: e.version });
      return next(e);
    }
    if (e.kind === 'processing' && e.action === 'remove') removing.add(e.pkg.name);
    if (e.kind !== 'processing' || noted.has(e.pkg.name)) return next(e);
    if ((e.action === 'remove' || e.action === 'purge') && !pending) {
      announce(e.pkg.name, e.pkg);
      return next(e);
    }
    if (e.action === 'configure' || e.action === 'remove' || e.action === 'purge') {
      next(e);
      return announce(e.pkg.name, e.pkg);
    }
    noted.add(e.pkg.name);
    return next(e);
  };
}
