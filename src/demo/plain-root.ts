import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DemoFailure, type Transcript } from './transcript';

/** Every fixture package, by the name of its source folder (hello-1.0, ...), built into a .deb. */
export type Debs = ReadonlyMap<string, string>;

/** One fixed SOURCE_DATE_EPOCH: the archives come out byte for byte the same on every run. */
const EPOCH = '1700000000';

/** The packages the rest of the demo needs; the others are built to show the builder, nothing more. */
const NEEDED = ['hello-1.0', 'hello-2.0', 'greet-1.0'];

export async function buildFixtures(t: Transcript, repoRoot: string, outDir: string): Promise<Debs> {
  t.section('Build the fixture packages with overmerge\'s own builder (like dpkg-deb --build --root-owner-group)');
  const sources = path.join(repoRoot, 'fixtures', 'packages');
  const names = (await fsp.readdir(sources, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  await fsp.mkdir(outDir, { mode: 0o755 });
  const debs = new Map<string, string>();
  for (const name of names) {
    const deb = path.join(outDir, `${name}.deb`);
    await t.overmerge(['build', path.join('fixtures', 'packages', name), deb], { env: { SOURCE_DATE_EPOCH: EPOCH } });
    debs.set(name, deb);
  }
  for (const name of NEEDED) if (!debs.has(name)) throw new DemoFailure(`fixtures/packages/${name} is missing`);
  return debs;
}

export async function inspectArchive(t: Transcript, debs: Debs): Promise<void> {
  t.section('Look inside an archive: contents (like dpkg-deb -c) and info (like dpkg-deb -f)');
  await t.overmerge(['contents', deb(debs, 'hello-2.0')]);
  await t.overmerge(['info', deb(debs, 'hello-2.0')]);
  t.note('versions compare as dpkg compares them; the answer is the exit status (0: true)');
  const r = await t.overmerge(['compare-versions', '2.0-1', 'gt', '1.0-1']);
  t.note(`exit status ${r.status}: 2.0-1 is newer than 1.0-1`);
}

/**
 * Install, upgrade across the directory → file change, query, then roll the upgrade back, all on a plain
 * folder with its own database file.
 */
export async function plainRootUpgrade(t: Transcript, debs: Debs, base: string): Promise<void> {
  const root = path.join(base, 'root');
  const db = path.join(base, 'overmerge.sqlite');
  await fsp.mkdir(root, { recursive: true, mode: 0o755 });
  const on = ['--root', root, '--db', db];

  t.section('Install hello 1.0 and greet into a temporary root (its own SQLite database via --db)');
  await t.overmerge([...on, 'install', deb(debs, 'hello-1.0'), deb(debs, 'greet-1.0')]);
  await expectKind(t, root, '/usr/share/bug/hello', 'directory');

  t.section('Upgrade hello to 2.0: the directory /usr/share/bug/hello becomes a file');
  t.note('--keep-backups keeps what the upgrade replaces, so that `rollback` can undo it later');
  await t.overmerge([...on, 'install', '--keep-backups', deb(debs, 'hello-2.0')]);
  await expectKind(t, root, '/usr/share/bug/hello', 'file');
  await t.overmerge([...on, 'list']);
  await t.overmerge([...on, 'files', 'hello']);
  await t.overmerge([...on, 'owner', '/usr/share/bug/hello']);
  await verify(t, on);
  await t.overmerge([...on, 'history']);

  t.section('Roll the upgrade back (its backups were kept)');
  await t.overmerge([...on, 'rollback']);
  await expectKind(t, root, '/usr/share/bug/hello', 'directory');
  await t.overmerge([...on, 'list', 'hello']);
  await verify(t, on);
  await t.overmerge([...on, 'history']);
}

/**
 * `verify`, which is silent and exits 0 when the root matches the database. Without root, files cannot be
 * given to root:root as the packages say, so verify rightly reports owner and group (U, G) on each.
 */
async function verify(t: Transcript, on: string[]): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  t.note(
    asRoot
      ? 'verify prints nothing and exits 0 when every installed file matches the database'
      : 'not root: the files belong to you rather than root:root, so verify reports U and G for each',
  );
  await t.overmerge([...on, 'verify'], { expect: asRoot ? 0 : 'any' });
}

export function deb(debs: Debs, name: string): string {
  const p = debs.get(name);
  if (p === undefined) throw new DemoFailure(`no archive built for ${name}`);
  return p;
}

export type Kind = 'directory' | 'file' | 'symlink' | 'missing' | 'other';

export async function kindOf(hostPath: string): Promise<Kind> {
  try {
    const st = await fsp.lstat(hostPath);
    return st.isDirectory() ? 'directory' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
  } catch {
    return 'missing';
  }
}

/** Says what `rootPath` is inside `root`, and stops the demo when that is not what the story claims. */
export async function expectKind(t: Transcript, root: string, rootPath: string, want: Kind, where = ''): Promise<void> {
  const got = await kindOf(path.join(root, rootPath));
  t.note(`${rootPath} is a ${got === 'file' ? 'regular file' : got}${where}`);
  if (got !== want) throw new DemoFailure(`${rootPath} should be a ${want}${where}, but it is ${got}`);
}
