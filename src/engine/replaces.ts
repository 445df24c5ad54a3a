import { parseRelations, relationMatches } from '../control/relations';
import type { StagedPackage } from '../model/staged-package';
import type { PackageRef } from '../model/package';

/**
 * Whether `staged` declares Replaces on `owner` (name, and version constraint if any): such a package may
 * take over the owner's files, as dpkg lets it.
 */
export function replacesOwner(staged: StagedPackage, owner: PackageRef): boolean {
  const field = staged.control.get('Replaces');
  if (!field) return false;
  return parseRelations('Replaces', field).some((group) => group.some((rel) => relationMatches(rel, owner)));
}
