import type { SetPackage } from './package-set';

/** A package's state as dpkg's database has it (undefined: dpkg does not know it). */
export interface KnownState {
  state: string;
  version?: string;
  reinstreq: boolean;
}

/** What is left to do for one group, as dpkg would see it after an interruption. */
export interface GroupWork {
  /** Install from the archive: not installed, or half-installed (dpkg's reinstreq: only a reinstall mends it). */
  install: SetPackage[];
  /** Unpacked (or its configuration interrupted, or triggers pending): `dpkg --configure` finishes it. */
  configure: SetPackage[];
}

const CONFIGURABLE = new Set(['unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending']);

/**
 * From dpkg's states, what remains of a group — the same answer whether the bootstrap runs for the first
 * time (everything to install) or after a crash and `recover` (each package where dpkg says it is). A
 * package dpkg has at another version is installed from the archive (an upgrade or downgrade, as dpkg
 * would do it). Pure.
 */
export function remainingWork(group: readonly SetPackage[], stateOf: (p: SetPackage) => KnownState | undefined): GroupWork {
  const out: GroupWork = { install: [], configure: [] };
  for (const p of group) {
    const s = stateOf(p);
    if (s === undefined || s.state === 'not-installed' || s.state === 'config-files' || s.reinstreq || s.version !== p.version) {
      out.install.push(p);
    } else if (s.state === 'half-installed') {
      out.install.push(p);
    } else if (CONFIGURABLE.has(s.state)) {
      out.configure.push(p);
    }
  }
  return out;
}
