import { satisfies } from '../../control/relations';
import type { Version } from '../../control/version';
import type { Possi } from './model';

/**
 * dpkg's versionsatisfied: `version` meets the alternative's version constraint (any version does when it
 * has none; a blank record, with no version, meets none).
 */
export function versionSatisfies(version: Version | undefined, possi: Possi): boolean {
  if (!possi.constraint) return true;
  return version !== undefined && satisfies(version, possi.constraint.op, possi.constraint.version);
}

/**
 * dpkg's pkg_virtual_deppossi_satisfied: whether a Provides (`provider`) satisfies the alternative
 * `wanted`. An unversioned Provides satisfies only an unversioned relation; a versioned one only with `=`
 * (dpkg does not reason about ranges of provided versions).
 */
export function virtualSatisfied(wanted: Possi, provider: Possi): boolean {
  const pc = provider.constraint;
  if (pc && pc.op !== '=') return false;
  if (!pc) return wanted.constraint === undefined;
  return versionSatisfies(pc.version, wanted);
}
