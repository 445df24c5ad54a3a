import * as path from 'node:path';
import { dpkgErrorLine, dpkgInstallArgs, makeDpkgAdmindir, whyNoDpkg } from './dpkg';
import { existsIn, isFileIn, makeLayers, MountFailed, upperLayerEntries, whyNoOverlay, withOverlay, type UpperEntry } from './overlay';
import { deb, expectKind, type Debs } from './plain-root';
import { DemoFailure, type Transcript } from './transcript';

/** What the demo prints when it skips the overlay part, so a reader (and the demo's test) can tell why. */
export const OVERLAY_SKIPPED = 'skipping the overlay part:';

/**
 * The upgrade dpkg cannot do: hello 1.0 sits in an overlay's lower layer, and 2.0 turns its directory
 * /usr/share/bug/hello into a file. First dpkg on one overlay, then overmerge on another.
 */
export async function overlayUpgrade(t: Transcript, debs: Debs, base: string): Promise<void> {
  t.section('The same upgrade on a real overlayfs root, with hello 1.0 in the lower layer');
  const why = whyNoOverlay();
  if (why) {
    t.note(`${OVERLAY_SKIPPED} ${why}`);
    return;
  }
  try {
    await dpkgOnOverlay(t, debs, path.join(base, 'dpkg-overlay'));
    await overmergeOnOverlay(t, debs, path.join(base, 'overlay'));
  } catch (err) {
    if (!(err instanceof MountFailed)) throw err;
    t.note(`${OVERLAY_SKIPPED} ${err.message}`);
  }
}

async function dpkgOnOverlay(t: Transcript, debs: Debs, base: string): Promise<void> {
  const why = whyNoDpkg();
  if (why) {
    t.note(`not showing dpkg on the overlay: ${why}`);
    return;
  }
  t.section('dpkg on an overlay root');
  const layers = await makeLayers(base);
  const log = path.join(base, 'dpkg.log');
  await makeDpkgAdmindir(layers.lower);
  t.note('the lower layer: a plain folder with a minimal dpkg admindir, and hello 1.0 installed by dpkg');
  await t.run('dpkg', dpkgInstallArgs(layers.lower, log, deb(debs, 'hello-1.0')));
  await withOverlay(t, layers, async () => {
    const r = await t.run('dpkg', dpkgInstallArgs(layers.merged, log, deb(debs, 'hello-2.0')), { expect: 'any' });
    if (r.status !== 0) {
      t.note(`dpkg failed: ${dpkgErrorLine(`${r.stdout}\n${r.stderr}`) ?? 'see above'}`);
      t.note('overlayfs refuses rename(2) of a directory from a lower layer (EXDEV), and dpkg has no fallback');
    } else {
      t.note('dpkg succeeded on this kernel: its overlayfs renames lower directories itself (redirect_dir=on)');
    }
  });
}

async function overmergeOnOverlay(t: Transcript, debs: Debs, base: string): Promise<void> {
  t.section('overmerge on an overlay root');
  const layers = await makeLayers(base);
  // Outside every layer, so the database is the same file before and after the mount.
  const db = path.join(base, 'overmerge.sqlite');
  t.note('the lower layer: a plain folder with hello 1.0 installed by overmerge');
  await t.overmerge(['--root', layers.lower, '--db', db, 'install', deb(debs, 'hello-1.0')]);
  const on = ['--root', layers.merged, '--db', db];
  await withOverlay(t, layers, async () => {
    await t.overmerge([...on, 'install', deb(debs, 'hello-2.0')]);
    await expectKind(t, layers.merged, '/usr/share/bug/hello', 'file', ' in the merged view');
    await t.overmerge([...on, 'verify']);
    const files = (await t.overmerge([...on, 'files', 'hello'])).stdout.split('\n').filter((l) => l.startsWith('/'));
    await showLayers(t, layers.lower, layers.upper, files);
  });
  await expectKind(t, layers.lower, '/usr/share/bug/hello', 'directory', ' in the lower layer, which still holds hello 1.0 untouched');
}

/** Prints what the upgrade put in the upper layer, and which of hello's files never left the lower one. */
async function showLayers(t: Transcript, lower: string, upper: string, helloFiles: string[]): Promise<void> {
  const entries = await upperLayerEntries(upper);
  t.note('the upper layer now holds (everything else is still read from the lower layer):');
  for (const e of entries.filter((x) => x.kind !== 'directory')) t.write(`    ${describe(e)}\n`);
  const dirs = entries.filter((x) => x.kind === 'directory').map((x) => x.path);
  t.write(`    directories: ${dirs.join(' ')}\n`);

  const stayed: string[] = [];
  for (const f of helloFiles) if ((await isFileIn(lower, f)) && !(await existsIn(upper, f))) stayed.push(f);
  if (stayed.length === 0) throw new DemoFailure('every file of hello was copied up: identical files should stay in the lower layer');
  t.note(`left in the lower layer, identical in 1.0 and 2.0 so never copied up: ${stayed.join(' ')}`);
}

function describe(e: UpperEntry): string {
  switch (e.kind) {
    case 'whiteout':
      return `whiteout  ${e.path}  (removed by the upgrade; the lower layer still has it)`;
    case 'file':
      return `file      ${e.path}`;
    case 'symlink':
      return `symlink   ${e.path}`;
    default:
      return `${e.kind.padEnd(9)} ${e.path}`;
  }
}
