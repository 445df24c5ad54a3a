import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { buildDeb } from '../../src/archive/build';
import { REPO_ROOT } from './run-cli';
import { withTempDir } from './temp';

/** The package sources under fixtures/packages, by directory name. */
export const FIXTURE_PACKAGES = ['hello-1.0', 'hello-2.0', 'greet-1.0', 'hello-clash-1.0', 'hello-tools-1.0'] as const;
export type FixtureName = (typeof FIXTURE_PACKAGES)[number];

/** One SOURCE_DATE_EPOCH for every fixture: identical files of two versions then also have identical mtimes. */
export const FIXTURE_EPOCH = 1_700_000_000;

export function fixtureSource(name: FixtureName): string {
  return path.join(REPO_ROOT, 'fixtures', 'packages', name);
}

/** Builds every fixture package into `outDir` with the project's own builder; name → .deb path. */
export async function buildFixtureDebs(outDir: string): Promise<Record<FixtureName, string>> {
  const out = {} as Record<FixtureName, string>;
  for (const name of FIXTURE_PACKAGES) {
    out[name] = path.join(outDir, `${name}.deb`);
    await buildDeb(fixtureSource(name), out[name], { compression: 'gzip', sourceDateEpoch: FIXTURE_EPOCH });
  }
  return out;
}

/** One entry of an ad-hoc package: a directory, a file with its content, or a symlink with its target. */
export type AdHocEntry =
  | { path: string; type: 'dir'; mode?: number }
  | { path: string; type: 'file'; content: string; mode?: number }
  | { path: string; type: 'symlink'; target: string };

export interface AdHocPackage {
  name: string;
  version: string;
  /** Paths of the payload without a leading slash; parents are created as needed (mode 0755). */
  entries: AdHocEntry[];
  /** Absolute paths listed in DEBIAN/conffiles. */
  conffiles?: string[];
  /** More control fields (Replaces, Depends, ...). */
  fields?: Record<string, string>;
  /** More control members (maintainer scripts, triggers, ...): name → content; scripts get mode 0755. */
  controlMembers?: Record<string, string>;
}

/**
 * Writes the package tree of `pkg` under `workDir` and builds it into `workDir/NAME_VERSION.deb`
 * (reproducibly, like the fixtures). Small packages built in code, for cases the fixtures do not cover.
 */
export async function buildAdHocDeb(workDir: string, pkg: AdHocPackage): Promise<string> {
  const deb = path.join(workDir, `${pkg.name}_${pkg.version}.deb`);
  await withTempDir({ prefix: `${pkg.name}-${pkg.version}`, parent: workDir }, async (tree) => {
    await writeAdHocTree(tree, pkg);
    await buildDeb(tree, deb, { compression: 'gzip', sourceDateEpoch: FIXTURE_EPOCH });
  });
  return deb;
}

/** The package tree of `pkg` (DEBIAN/control, conffiles, payload) in `tree`, an empty folder. */
async function writeAdHocTree(tree: string, pkg: AdHocPackage): Promise<void> {
  await fsp.chmod(tree, 0o755); // the payload's root becomes the root's '/' entry: mkdtemp's 0700 would be installed
  await fsp.mkdir(path.join(tree, 'DEBIAN'), { mode: 0o755 });
  await fsp.chmod(path.join(tree, 'DEBIAN'), 0o755);
  const fields = {
    Package: pkg.name,
    Version: pkg.version,
    Architecture: 'all',
    Maintainer: 'overmerge tests <tests@overmerge.invalid>',
    ...pkg.fields,
    Description: `${pkg.name} ${pkg.version} (built by a test)`,
  };
  const control = Object.entries(fields).map(([k, v]) => `${k}: ${v}\n`).join('');
  await fsp.writeFile(path.join(tree, 'DEBIAN', 'control'), control);
  if (pkg.conffiles?.length) await fsp.writeFile(path.join(tree, 'DEBIAN', 'conffiles'), `${pkg.conffiles.join('\n')}\n`);
  for (const [name, content] of Object.entries(pkg.controlMembers ?? {})) {
    const script = ['preinst', 'postinst', 'prerm', 'postrm', 'config'].includes(name);
    await fsp.writeFile(path.join(tree, 'DEBIAN', name), content);
    await fsp.chmod(path.join(tree, 'DEBIAN', name), script ? 0o755 : 0o644);
  }
  for (const e of pkg.entries) {
    const at = path.join(tree, e.path);
    await fsp.mkdir(path.dirname(at), { recursive: true, mode: 0o755 });
    if (e.type === 'dir') {
      await fsp.mkdir(at, { recursive: true });
      await fsp.chmod(at, e.mode ?? 0o755);
    } else if (e.type === 'file') {
      await fsp.writeFile(at, e.content);
      await fsp.chmod(at, e.mode ?? 0o644);
    } else {
      await fsp.symlink(e.target, at);
    }
  }
}
