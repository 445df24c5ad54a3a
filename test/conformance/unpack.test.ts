import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cannotRunDpkg, cannotSandboxIn, dpkgErrors, dpkgUnpack, inHostSandbox, prepareDpkgAdmin, scriptInterpreters } from '../helpers/dpkg-unpack';
import { makeMergedUsr } from '../helpers/merged-usr';
import { gate } from '../helpers/gate';
import { realDebs } from '../helpers/real-debs';
import { BIN, om, omArgv } from '../helpers/run-cli';
import { snapshotTree, type EntrySnapshot, type TreeSnapshot } from '../helpers/tree';
import { withTempDir } from '../helpers/temp';

const execFileP = promisify(execFile);

/**
 * Conformance against dpkg on real archives: Debian's whole Priority: required set (~110 archives) is
 * unpacked by `overmerge unpack --no-scripts` (one transaction) into root A and by `dpkg --unpack`
 * (maintainer scripts neutralised, see helpers/dpkg-unpack) into root B, then the two trees are compared
 * path by path: type, mode (setuid/setgid included), owner, size, content, symlink target, device
 * numbers, xattrs, mtime of non-directories, hard-link groups.
 *
 * Differences that are expected, and nothing else:
 * - each tool's admin data: A's var/lib/overmerge, B's dpkg database files (DPKG_ADMIN below; the
 *   directories packages ship beneath var/lib/dpkg are compared like any others);
 * - none for conffiles: both unpacks leave each as NAME.dpkg-new (configure renames it). The list comes
 *   from dpkg's own info/PKG.conffiles, and each must be there as .dpkg-new in both trees;
 * - no file is made by a maintainer script on either side (dpkg's are neutralised), so there is no
 *   passwd/group/etc. allowance: such a file in either tree is a failure;
 * - directory mtimes and sizes (they change with every entry added) are not compared; neither are the
 *   mtimes of the layout symlinks the test itself makes before both runs.
 *
 * Two root layouts: a plain empty root, and a merged-/usr root (bin, sbin, lib, lib64 → usr/…, as
 * debootstrap makes for bookworm), where every /bin, /sbin, /lib path of the archives goes through a
 * directory symlink.
 */

interface Layout {
  name: string;
  /** Paths (relative) the test makes in both roots before unpacking. */
  make(root: string): Promise<string[]>;
}

const ALL_LAYOUTS: Layout[] = [
  { name: 'plain empty root', make: async () => [] },
  { name: 'merged-/usr root (bin, sbin, lib, lib64 are symlinks into usr)', make: makeMergedUsr },
];
/**
 * Each layout unpacks the whole set twice (dpkg and overmerge): the merged-/usr one, the costlier check of
 * directory-symlink following, runs by default; OVERMERGE_TEST_FULL=1 runs the plain root too.
 */
const LAYOUTS = process.env.OVERMERGE_TEST_FULL === '1' ? ALL_LAYOUTS : ALL_LAYOUTS.slice(1);

/** dpkg's database inside B (not shipped by any package); only these may exist in B alone. */
const DPKG_ADMIN = [
  /^var\/lib\/dpkg\/(status|status-old|available|available-old|lock|lock-frontend|diversions|diversions-old|statoverride|statoverride-old|arch)$/,
  /^var\/lib\/dpkg\/(triggers|tmp\.ci)(\/|$)/,
  /^var\/lib\/dpkg\/(info|updates)\/./,
];
const OVERMERGE_ADMIN = /^var\/lib\/overmerge(\/|$)/;

/** The packages whose `overmerge files` is compared with `dpkg -L`: conffiles, /bin aliases, hard links, setuid. */
const LISTED = ['base-files', 'coreutils', 'libc6', 'perl-base', 'util-linux', 'tzdata'];

let prerequisites: Promise<{ debs: string[]; interpreters: string[] } | { skip: string }> | undefined;

function getPrerequisites(): NonNullable<typeof prerequisites> {
  prerequisites ??= (async () => {
    const why = await cannotRunDpkg();
    if (why) return { skip: `dpkg oracle unavailable: ${why}` };
    const set = await realDebs('required');
    if ('skip' in set) return set;
    return { debs: set.files, interpreters: await scriptInterpreters(set.files) };
  })();
  return prerequisites;
}

describe('overmerge unpack of the real Priority: required set equals dpkg --unpack', () => {
  for (const layout of LAYOUTS) {
    it(layout.name, async (t) => {
      const pre = await getPrerequisites();
      if (gate(t, pre)) return;
      await withTempDir('conformance', async (base) => {
        const a = path.join(base, 'A');
        const b = path.join(base, 'B');
        // 0700, as mkdtemp makes a CI root: dpkg leaves an existing directory as it is, so must overmerge.
        for (const r of [a, b]) {
          await fsp.mkdir(r);
          await fsp.chmod(r, 0o700);
        }
        const made = await layout.make(a);
        await layout.make(b);
        await prepareDpkgAdmin(b);

        const started = Date.now();
        const [ours, dp] = await Promise.all([
          om(a, ['unpack', '--no-scripts', '--force-depends', '--quiet', ...pre.debs], { spawn: true }), // as dpkg's twin: Pre-Depends unconfigured
          dpkgUnpack(b, pre.debs, pre.interpreters),
        ]);
        const unpacked = Date.now();
        assert.equal(ours.status, 0, `overmerge unpack of ${pre.debs.length} archives failed:\n${ours.stderr}`);
        assert.equal(dp.status, 0, `dpkg --unpack failed (exit ${dp.status}):\n${dpkgErrors(dp.output)}`);

        const conffiles = await dpkgConffiles(b);
        const [sa, sb] = await Promise.all([snapshotTree(a), snapshotTree(b)]);
        const left = normalise(sa, { admin: OVERMERGE_ADMIN, made, conffiles });
        const right = normalise(sb, { admin: undefined, made, conffiles });
        const problems = [...left.problems.map((p) => `A ${p}`), ...right.problems.map((p) => `B ${p}`), ...compareTrees(left.entries, right.entries)];
        t.diagnostic(
          `${pre.debs.length} archives (both unpacks, side by side: ${((unpacked - started) / 1000).toFixed(1)} s; snapshots and comparison: ${((Date.now() - unpacked) / 1000).toFixed(1)} s); ${left.entries.size} paths compared; ${conffiles.length} conffiles left as .dpkg-new by both; ` +
            `${sb.entries.length - right.entries.size} dpkg admin paths and ${sa.entries.length - left.entries.size} overmerge admin paths left out`,
        );
        if (problems.length > 0) {
          assert.fail(`${problems.length} differences between overmerge (A) and dpkg (B):\n  ${problems.slice(0, 150).join('\n  ')}`);
        }

        // Unpacked, not configured: both report each conffile missing (it waits as .dpkg-new), nothing else.
        const verify = await om(a, ['verify'], { spawn: true });
        const dpkgVerify = await execFileP('dpkg', [`--root=${b}`, '--verify'], { maxBuffer: 1 << 24 });
        const lines = (text: string) => text.split('\n').filter((l) => l !== '').sort();
        assert.deepEqual(lines(verify.stdout), lines(dpkgVerify.stdout), `overmerge verify and dpkg --verify disagree (overmerge: ${verify.stderr})`);
        assert.ok(lines(verify.stdout).every((l) => /^missing {3}c \//.test(l)), `only waiting conffiles are reported:\n${verify.stdout}`);

        for (const name of LISTED) {
          const note = await compareFileLists(a, b, name);
          t.diagnostic(`files ${name}: ${note}`);
        }
      });
    });
  }
});

/**
 * The same set with its maintainer scripts run for real, chrootless (the preinsts: base-passwd's makes
 * /etc/passwd and /etc/group, libc6's checks the kernel, ...): `overmerge unpack --scripts=chrootless`
 * into an empty dpkg root against `dpkg --force-script-chrootless --unpack`, each in a host sandbox of its
 * own (scripts that ignore DPKG_ROOT write into throwaway layers, never the host). Then real dpkg reads
 * overmerge's root: every package unpacked, /bin/ls owned by coreutils, --verify and --audit as on dpkg's.
 * Files the scripts made are compared like shipped ones, but for their mtimes (the moment each script ran).
 */
describe('overmerge unpack --scripts=chrootless of the required set equals dpkg --force-script-chrootless --unpack', () => {
  it('merged-/usr root with a dpkg database', async (t) => {
    const pre = await getPrerequisites();
    if (gate(t, pre)) return;
    await withTempDir('conformance-scripts', async (base) => {
      const why = await cannotSandboxIn(base);
      if (why !== undefined) return void t.skip(`SKIPPED: no host sandbox for chrootless scripts: ${why}`);
      const a = path.join(base, 'A');
      const b = path.join(base, 'B');
      for (const r of [a, b]) {
        await fsp.mkdir(r);
        await fsp.chmod(r, 0o755);
        await makeMergedUsr(r);
        await prepareDpkgAdmin(r);
        await fsp.mkdir(path.join(base, `layers-${path.basename(r)}`));
      }
      const [ours, dp] = await Promise.all([
        inHostSandbox(path.join(base, 'layers-A'), [process.execPath, BIN, ...omArgv(a, ['unpack', '--scripts=chrootless', '--force-depends', '--no-triggers', ...pre.debs], { quiet: true })]),
        inHostSandbox(path.join(base, 'layers-B'), ['dpkg', `--root=${b}`, '--force-script-chrootless', '--force-depends', '--no-triggers', '--unpack', ...pre.debs]),
      ]);
      assert.equal(ours.status, 0, `overmerge unpack --scripts=chrootless failed:\n${ours.output.slice(-3000)}`);
      assert.equal(dp.status, 0, `dpkg --unpack failed (exit ${dp.status}):\n${dpkgErrors(dp.output)}`);

      const conffiles = await dpkgConffiles(b);
      const shipped = await shippedPaths(b);
      const made = await makeMergedUsr(path.join(base, 'layout-names'));
      const [sa, sb] = await Promise.all([snapshotTree(a), snapshotTree(b)]);
      const left = normalise(sa, { admin: DPKG_OR_OVERMERGE, made, conffiles });
      const right = normalise(sb, { admin: undefined, made, conffiles });
      const byScripts = [...right.entries.keys()].filter((p) => !shipped.has(p) && !made.includes(p));
      for (const p of byScripts) {
        delete left.entries.get(p)?.mtimeNs;
        delete right.entries.get(p)?.mtimeNs;
      }
      const problems = [...left.problems.map((p) => `A ${p}`), ...right.problems.map((p) => `B ${p}`), ...compareTrees(left.entries, right.entries)];
      t.diagnostic(`${pre.debs.length} archives; ${left.entries.size} paths compared; made by the scripts (mtimes left out): ${byScripts.map(display).join(' ')}`);
      if (problems.length > 0) assert.fail(`${problems.length} differences between overmerge (A) and dpkg (B):\n  ${problems.slice(0, 150).join('\n  ')}`);
      for (const f of ['etc/passwd', 'etc/group']) assert.ok(left.entries.has(f), `/${f} (base-passwd's preinst) is in overmerge's root`);

      // Real dpkg reads overmerge's root as it reads its own.
      const dpkgOn = async (root: string, args: string[]) => {
        const r = await execFileP('dpkg', [`--root=${root}`, ...args], { maxBuffer: 1 << 24 }).catch((e: { stdout: string; stderr: string; code: number }) => e);
        return { stdout: r.stdout, stderr: r.stderr };
      };
      const listed = (await dpkgOn(a, ['-l'])).stdout.split('\n').filter((l) => /^[a-z][A-Z ]/.test(l) && !l.startsWith('||'));
      const names = new Set(listed.map((l) => l.split(/\s+/)[1]));
      assert.equal(names.size, pre.debs.length, `dpkg -l lists ${names.size} packages of ${pre.debs.length}`);
      assert.deepEqual(listed.filter((l) => !l.startsWith('iU ')), [], 'every package unpacked (iU) in dpkg -l');
      assert.equal((await dpkgOn(a, ['-S', '/bin/ls'])).stdout, 'coreutils: /bin/ls\n');
      for (const args of [['--verify'], ['--audit']]) {
        const [x, y] = [await dpkgOn(a, args), await dpkgOn(b, args)];
        assert.deepEqual(x.stdout.split('\n').sort(), y.stdout.split('\n').sort(), `dpkg ${args.join(' ')} on overmerge's root and on dpkg's`);
      }
    });
  });
});

/** Every path the packages of `root` ship, by dpkg's info/PKG.list files, relative and without the leading '/'. */
async function shippedPaths(root: string): Promise<Set<string>> {
  const info = path.join(root, 'var/lib/dpkg/info');
  const out = new Set<string>();
  for (const f of (await fsp.readdir(info)).filter((n) => n.endsWith('.list'))) {
    for (const line of (await fsp.readFile(path.join(info, f), 'utf8')).split('\n')) if (line.startsWith('/') && line !== '/.') out.add(line.slice(1));
  }
  return out;
}

/** Both databases: overmerge's own folder and dpkg's files, which overmerge keeps in step in A too. */
const DPKG_OR_OVERMERGE = new RegExp(`${OVERMERGE_ADMIN.source}|${DPKG_ADMIN.map((r) => r.source).join('|')}`);

/** Conffiles dpkg recorded for the unpacked packages (its info/PKG.conffiles), as root-relative paths. */
async function dpkgConffiles(root: string): Promise<string[]> {
  const info = path.join(root, 'var/lib/dpkg/info');
  const out: string[] = [];
  for (const f of (await fsp.readdir(info)).filter((n) => n.endsWith('.conffiles')).sort()) {
    for (const line of (await fsp.readFile(path.join(info, f), 'utf8')).split('\n')) {
      const p = line.trim().split(/\s+/).pop();
      if (p && p.startsWith('/')) out.push(p.slice(1));
    }
  }
  return out;
}

/** What is compared for one path: the snapshot minus what legitimately differs, plus its hard-link group. */
type Comparable = Omit<EntrySnapshot, 'path' | 'linkGroup'> & { links?: string };

interface NormaliseOptions {
  /** This tool's admin folder, left out entirely (B's dpkg files are matched by DPKG_ADMIN). */
  admin: RegExp | undefined;
  /** Paths the test made before the run (their mtimes are the test's, not the tool's). */
  made: string[];
  /** Conffiles that an unpack leaves as NAME.dpkg-new. */
  conffiles?: string[];
}

function normalise(snap: TreeSnapshot, opts: NormaliseOptions): { entries: Map<string, Comparable>; problems: string[] } {
  const problems: string[] = [];
  const paths = new Set(snap.entries.map((e) => e.path));
  for (const c of opts.conffiles ?? []) {
    if (!paths.has(`${c}.dpkg-new`) || paths.has(c)) problems.push(`/${c}: the unpack was expected to leave this conffile as /${c}.dpkg-new`);
  }
  const isAdmin = (p: string) => (opts.admin ? opts.admin.test(p) : DPKG_ADMIN.some((r) => r.test(p)));
  const groupOf = new Map<string, string>();
  for (const g of snap.linkGroups) {
    const members = g.filter((p) => !isAdmin(p)).sort();
    for (const p of members) groupOf.set(p, members.map(display).join(' '));
  }
  const made = new Set(opts.made);
  const entries = new Map<string, Comparable>();
  for (const e of snap.entries) {
    if (isAdmin(e.path)) continue;
    const p = e.path;
    const c: Comparable = { ...e };
    delete (c as Partial<EntrySnapshot>).path;
    delete (c as Partial<EntrySnapshot>).linkGroup;
    if (c.type === 'dir' || made.has(p)) delete c.mtimeNs;
    if (groupOf.has(p)) c.links = groupOf.get(p);
    entries.set(p, c);
  }
  return { entries, problems };
}

function display(p: string): string {
  return p === '.' ? '/' : `/${p}`;
}

function shown(key: string, v: unknown): string {
  if (v === undefined) return '(none)';
  if (key === 'target' && typeof v === 'string') return JSON.stringify(Buffer.from(v, 'hex').toString('utf8'));
  if (key === 'mtimeNs' && typeof v === 'string') return new Date(Number(BigInt(v) / 1000000n)).toISOString();
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** One readable line per difference; A is overmerge, B is dpkg. */
function compareTrees(a: Map<string, Comparable>, b: Map<string, Comparable>): string[] {
  const out: string[] = [];
  for (const [p, ea] of a) {
    const eb = b.get(p);
    if (!eb) {
      out.push(`${display(p)}: only in overmerge's root (${ea.type})`);
      continue;
    }
    const keys = new Set([...Object.keys(ea), ...Object.keys(eb)] as Array<keyof Comparable>);
    for (const k of [...keys].sort()) {
      const va = JSON.stringify(ea[k]);
      const vb = JSON.stringify(eb[k]);
      if (va !== vb) out.push(`${display(p)}: ${k} ${shown(k, ea[k])} (overmerge) vs ${shown(k, eb[k])} (dpkg)`);
    }
  }
  for (const [p, eb] of b) if (!a.has(p)) out.push(`${display(p)}: only in dpkg's root (${eb.type})`);
  return out.sort();
}

/**
 * `overmerge files NAME` against `dpkg -L NAME`. overmerge records where each path landed, after the
 * root's directory symlinks (`/bin/cat` is `/usr/bin/cat` on a merged-/usr root) and so lists a directory
 * shipped under two aliases (`/lib/x86_64-linux-gnu`, `/usr/lib/x86_64-linux-gnu`) once; dpkg lists the
 * paths as shipped. dpkg's list resolved the same way must equal overmerge's as a set.
 */
async function compareFileLists(a: string, b: string, name: string): Promise<string> {
  const files = await om(a, ['files', name], { spawn: true });
  assert.equal(files.status, 0, `overmerge files ${name}: ${files.stderr}`);
  const ours = files.stdout.split('\n').filter(Boolean);
  assert.equal(new Set(ours).size, ours.length, `overmerge files ${name} lists a path twice`);
  const { stdout } = await execFileP('dpkg', [`--root=${b}`, '-L', name], { maxBuffer: 1 << 24 });
  const theirs = stdout.split('\n').filter(Boolean);
  const realB = await fsp.realpath(b);
  const resolved = await Promise.all(theirs.map((p) => resolveParent(realB, p)));
  const moved = resolved.filter((p, i) => p !== theirs[i]).length;
  const want = new Set(resolved);
  const onlyOurs = ours.filter((p) => !want.has(p));
  const have = new Set(ours);
  const onlyTheirs = [...want].filter((p) => !have.has(p));
  assert.deepEqual(
    { onlyOurs, onlyTheirs },
    { onlyOurs: [], onlyTheirs: [] },
    `overmerge files ${name} differs from dpkg -L ${name} (resolved through the root's directory symlinks)`,
  );
  return `${ours.length} paths = dpkg -L's ${theirs.length}, of which ${moved} recorded at the resolved location and ${theirs.length - want.size} aliases listed once`;
}

/** `/bin/cat` → where it lies in root `realRoot` once the symlinks of its parent directories are followed. */
async function resolveParent(realRoot: string, p: string): Promise<string> {
  if (p === '/.') return p;
  const parent = path.posix.dirname(p);
  const real = await fsp.realpath(path.join(realRoot, parent)).catch(() => undefined);
  if (real === undefined || (real !== realRoot && !real.startsWith(`${realRoot}/`))) return p;
  const rel = real.slice(realRoot.length);
  return `${rel}/${path.posix.basename(p)}`;
}
