import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { buildDeb, controlFields, controlText } from '../../fixtures/hostile/deb';
import { tarArchive, tarDir, tarFile } from '../../fixtures/hostile/tar-writer';
import { om, type CliResult } from '../helpers/run-cli';
import { assertOutsideUnchanged, assertUnchanged, makeRoot, makeSandbox, removeSandbox, world, type Sandbox } from './harness';

// A destination swapped for a symlink between the engine's checks (staging, probe, plan) and its write.
// The child is paused at a named movefile step with OVERMERGE_DEBUG_PAUSE_AT (src/engine/crash.ts) while
// the test swaps something in the root for a symlink to the canary, then let go.
//
// What is protected: the final component. A file is never opened at its destination: it is written
// under a fresh name (staging: O_CREAT|O_EXCL|O_NOFOLLOW; copy mode: COPYFILE_EXCL), and rename(2) puts
// it in place, which replaces a symlink standing at the destination instead of following it.
//
// A parent folder swapped for a symlink would redirect the write: Node has no openat/renameat on a
// directory handle and no RESOLVE_BENEATH, so each step resolves its path from the root again. Swapping
// a folder takes write access to the folder above it, so the engine refuses, before anything is done,
// a step beneath a folder anyone but root (and the user it runs as) may change (src/engine/guarded.ts);
// the last test shows it. Root itself racing the install is not defended against: root needs no race.

const VICTIM = 'usr/lib/race/victim';

let sb: Sandbox;
let boxes = 0;

before(async () => {
  sb = await makeSandbox('hostile-race');
});

after(async () => {
  await removeSandbox(sb);
});

function raceDeb(version: string, text: string): Buffer {
  const data = tarArchive([
    tarDir('./'),
    tarDir('./usr/'),
    tarDir('./usr/lib/'),
    tarDir('./usr/lib/race/'),
    tarFile(`./${VICTIM}`, text),
  ]);
  return buildDeb({ control: controlText(controlFields('race', { Version: version })), data });
}

/**
 * Runs `install deb` in a child that pauses at `step` for the victim, runs `swap` meanwhile, and lets it
 * go on. Fails if the child never paused there. place:temp names the temporary, not the victim: as the
 * package has one file, its first place:temp is the victim's.
 */
async function installWithSwap(root: string, deb: string, step: string, mode: string, swap: () => Promise<void>): Promise<CliResult> {
  const pauseFile = path.join(sb.work, `pause-${boxes}`);
  const child = om(root, ['--mode', mode, 'install', deb], {
    spawn: true,
    env: { OVERMERGE_DEBUG_PAUSE_AT: `${step}:${step === 'place:temp' ? '' : `/${VICTIM}`}`, OVERMERGE_DEBUG_PAUSE_FILE: pauseFile },
  });
  let done = false;
  void child.then(() => (done = true), () => (done = true));
  while (!existsSync(pauseFile) && !done) await new Promise((r) => setTimeout(r, 10));
  const paused = existsSync(pauseFile);
  try {
    if (paused) await swap();
  } finally {
    await fsp.rm(pauseFile, { force: true });
  }
  const r = await child;
  assert.ok(paused, `the child never paused at ${step} (exit ${r.status}: ${r.stderr})`);
  return r;
}

/** Replaces `p` by a symlink to `target` in one rename, as an attacker racing the install would. */
async function swapForSymlink(p: string, target: string): Promise<void> {
  const tmp = `${p}.swap`;
  await fsp.symlink(target, tmp);
  await fsp.rename(tmp, p);
}

async function freshRoot(): Promise<{ root: string; box: string }> {
  const box = `race-${boxes++}`;
  return { root: await makeRoot(sb, box), box };
}

const STEPS: Array<[string, string, string]> = [
  // [step, mode, what is swapped at that moment]
  ['place:start', 'rename', 'the destination, before the staged file moves to its temporary'],
  ['place:temp', 'rename', 'the destination, before the temporary is made'],
  ['place:commit', 'rename', 'the destination, between the temporary and the final rename'],
  ['place:commit', 'copy', 'the destination, copy mode'],
  ['place:commit', 'hardlink', 'the destination, hardlink mode'],
];

test('a destination swapped for a symlink before the write: the symlink is replaced, never followed', async (t) => {
  for (const [step, mode, what] of STEPS) {
    await t.test(`${step}, --mode ${mode}: ${what}`, async () => {
      const { root, box } = await freshRoot();
      const deb = path.join(sb.debs, `${box}.deb`);
      try {
        await fsp.writeFile(deb, raceDeb('1.0', 'from the package\n'));
        const before = await world(sb, root, { rootToo: false });
        const target = path.join(root, VICTIM);
        const r = await installWithSwap(root, deb, step, mode, async () => {
          // The folder exists by now (folders are made first); the victim is not there yet.
          assert.ok((await fsp.lstat(path.dirname(target))).isDirectory());
          await swapForSymlink(target, path.join(sb.canary, 'x'));
        });
        assert.equal(r.status, 0, r.stderr);
        const st = await fsp.lstat(target);
        assert.ok(st.isFile(), 'the symlink was replaced by the file');
        assert.equal(await fsp.readFile(target, 'utf8'), 'from the package\n');
        assertOutsideUnchanged(before, await world(sb, root, { rootToo: false }), `${step} ${mode}`);
        const v = await om(root, ['verify']);
        assert.equal(v.status, 0, v.stdout + v.stderr);
      } finally {
        await fsp.rm(path.dirname(root), { recursive: true, force: true });
        await fsp.rm(deb, { force: true });
      }
    });
  }
});

test('an upgrade whose old file is swapped for a symlink before it is replaced: nothing outside changes', async () => {
  const { root, box } = await freshRoot();
  const [deb1, deb2] = [path.join(sb.debs, `${box}-1.deb`), path.join(sb.debs, `${box}-2.deb`)];
  try {
    await fsp.writeFile(deb1, raceDeb('1.0', 'old\n'));
    await fsp.writeFile(deb2, raceDeb('2.0', 'new\n'));
    assert.equal((await om(root, ['install', deb1])).status, 0);
    const before = await world(sb, root, { rootToo: false });
    const target = path.join(root, VICTIM);
    // At place:start the old file has been hard-linked aside already (its backup); swap it now.
    const r = await installWithSwap(root, deb2, 'place:start', 'rename', () => swapForSymlink(target, path.join(sb.canary, 'x')));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await fsp.readFile(target, 'utf8'), 'new\n');
    assert.ok((await fsp.lstat(target)).isFile());
    assertOutsideUnchanged(before, await world(sb, root, { rootToo: false }), 'upgrade');
  } finally {
    await fsp.rm(path.dirname(root), { recursive: true, force: true });
    await fsp.rm(deb1, { force: true });
    await fsp.rm(deb2, { force: true });
  }
});

test('a parent folder that another user could swap for a symlink: refused before anything is written', async (t) => {
  const { root, box } = await freshRoot();
  const deb = path.join(sb.debs, `${box}.deb`);
  try {
    await fsp.writeFile(deb, raceDeb('1.0', 'from the package\n'));
    // Whoever may write usr/lib can swap usr/lib/race for a symlink between the probe and the write.
    for (const [owner, mode, who] of [
      [65534, 0o755, /user 65534, its owner,/],
      [0, 0o777, /every user/],
    ] as const) {
      await fsp.mkdir(path.join(root, 'usr/lib'), { recursive: true });
      await fsp.chown(path.join(root, 'usr/lib'), owner, owner);
      await fsp.chmod(path.join(root, 'usr/lib'), mode);
      const before = await world(sb, root);
      const r = await om(root, ['install', deb]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^overmerge: refusing to write '\/usr\/lib\/race\/victim': .* may change folder '\/usr\/lib' above it/);
      assert.match(r.stderr, who);
      assertUnchanged(before, await world(sb, root), 'guarded folder');
      t.diagnostic(r.stderr.trim());
    }
  } finally {
    await fsp.rm(path.dirname(root), { recursive: true, force: true });
    await fsp.rm(deb, { force: true });
  }
});
