import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { StepHooks } from '../../src/fs/steps';
import { SyncBatch } from '../../src/fs/sync';
import { openRoot, type Root, type RootPath } from '../../src/fs/rootpath';
import type { ManifestEntry } from '../../src/model/entry';
import { StepRegistry, type PlannedStep } from '../../src/engine/steps/registry';
import type { AnyStepKind } from '../../src/engine/steps/step-kind';
import * as xattr from 'fs-xattr';
import { needs } from '../helpers/gate';
import { withTempDir } from '../helpers/temp';
import { assertSameTree, rootState } from '../helpers/root-state';
import type { TreeSnapshot } from '../helpers/tree';
import { hostPathOf } from '../../src/fs/host-path';

/**
 * Each kind of journal step on its own (no database, no CLI, no root privileges): run it with a simulated
 * kill at every filesystem sub-step it passes, then undo it — the root must be exactly as before, and a
 * second undo (a crash during recovery, recovered again) must change nothing. Undo is also cut short at
 * every one of its own points and run again. A complete run followed by finish leaves the new state and no
 * temporary, also when finish is cut short and run again.
 */

const rp = (p: string) => p as RootPath;
const steps = new StepRegistry();
const ME = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
const MTIME = 1_700_000_000;
/** An overlayfs origin handle as squashfs makes one: header, null UUID, inode 2, generation 0. */
const ORIGIN = Buffer.from('00fb1d0001000000000000000000000000000000000200000000000000', 'hex');

interface Case {
  name: string;
  /** Fills the root (and the staging folder beside it) with the state before the step. */
  setup(root: string, staging: string): Promise<void>;
  step(staging: string, root: string): PlannedStep;
  /** What the step's caller does right after journaling it (the staging folder is made then). */
  callerWork?(root: string): Promise<void>;
  /** Device nodes (whiteouts) need root. */
  needsRoot?: string;
}

function entry(p: string, type: ManifestEntry['type'], extra: Partial<ManifestEntry> = {}): ManifestEntry {
  return { path: rp(p), type, mode: 0o644, ...ME, mtime: MTIME, size: 0, conffile: false, ...extra };
}

async function write(p: string, content: string): Promise<void> {
  await fsp.mkdir(path.dirname(p), { recursive: true });
  await fsp.writeFile(p, content);
}

async function usr(root: string): Promise<void> {
  await fsp.mkdir(path.join(root, 'usr/lib'), { recursive: true });
}

async function staged(staging: string, content: string): Promise<void> {
  await write(path.join(staging, '0'), content);
  await fsp.utimes(path.join(staging, '0'), MTIME, MTIME);
}

const CASES: Case[] = [
  {
    name: 'mkdir where nothing is',
    setup: usr,
    step: () => ({ kind: 'mkdir', path: rp('usr/new'), meta: { mode: 0o755, ...ME, mtime: MTIME }, aside: 'none' }),
  },
  {
    name: 'mkdir where a file is (moved aside)',
    setup: async (root) => write(path.join(root, 'usr/x'), 'a file'),
    step: () => ({ kind: 'mkdir', path: rp('usr/x'), meta: { mode: 0o755, ...ME, mtime: MTIME }, aside: 'move' }),
  },
  {
    name: 'place-file where nothing is',
    setup: async (root, staging) => {
      await usr(root);
      await staged(staging, 'new content');
    },
    step: (staging) => ({ kind: 'place-file', path: rp('usr/lib/f'), entry: entry('usr/lib/f', 'file', { stagedIn: hostPathOf(staging), stagedAs: 0 }), aside: 'none' }),
  },
  {
    name: 'place-file over a file (hard-linked backup)',
    setup: async (root, staging) => {
      await write(path.join(root, 'usr/lib/f'), 'old content');
      await staged(staging, 'new content');
    },
    step: (staging) => ({ kind: 'place-file', path: rp('usr/lib/f'), entry: entry('usr/lib/f', 'file', { stagedIn: hostPathOf(staging), stagedAs: 0 }), aside: 'link' }),
  },
  {
    name: 'place-file over a directory tree (moved aside)',
    setup: async (root, staging) => {
      await write(path.join(root, 'usr/lib/d/a'), 'a');
      await write(path.join(root, 'usr/lib/d/sub/b'), 'b');
      await fsp.symlink('a', path.join(root, 'usr/lib/d/link'));
      await staged(staging, 'now a file');
    },
    step: (staging) => ({ kind: 'place-file', path: rp('usr/lib/d'), entry: entry('usr/lib/d', 'file', { stagedIn: hostPathOf(staging), stagedAs: 0 }), aside: 'move' }),
  },
  {
    name: 'place-special: a symlink where nothing is',
    setup: usr,
    step: () => ({ kind: 'place-special', path: rp('usr/lib/s'), entry: entry('usr/lib/s', 'symlink', { target: '../x' }), aside: 'none' }),
  },
  {
    name: 'place-special: a symlink over a file',
    setup: async (root) => write(path.join(root, 'usr/lib/s'), 'was a file'),
    step: () => ({ kind: 'place-special', path: rp('usr/lib/s'), entry: entry('usr/lib/s', 'symlink', { target: 'elsewhere' }), aside: 'link' }),
  },
  {
    name: 'place-special: a hard link to a file of the root',
    setup: async (root) => write(path.join(root, 'usr/lib/f'), 'linked'),
    step: () => ({ kind: 'place-special', path: rp('usr/lib/h'), entry: entry('usr/lib/h', 'hardlink', { linkTo: rp('usr/lib/f') }), aside: 'none', linkTo: rp('usr/lib/f') }),
  },
  {
    name: 'place-special: a fifo over a symlink',
    setup: async (root) => {
      await usr(root);
      await fsp.symlink('/etc/passwd', path.join(root, 'usr/lib/p'));
    },
    step: () => ({ kind: 'place-special', path: rp('usr/lib/p'), entry: entry('usr/lib/p', 'fifo', { mode: 0o600 }), aside: 'link' }),
  },
  {
    name: 'remove a file',
    setup: async (root) => write(path.join(root, 'usr/lib/gone'), 'going'),
    step: () => ({ kind: 'remove', path: rp('usr/lib/gone') }),
  },
  {
    name: 'remove a symlink',
    setup: async (root) => {
      await usr(root);
      await fsp.symlink('nowhere', path.join(root, 'usr/lib/gone'));
    },
    step: () => ({ kind: 'remove', path: rp('usr/lib/gone') }),
  },
  {
    name: 'rmdir (acts only at finish)',
    setup: async (root) => fsp.mkdir(path.join(root, 'usr/empty'), { recursive: true }).then(() => undefined),
    step: () => ({ kind: 'rmdir', path: rp('usr/empty') }),
  },
  {
    name: 'whiteout where nothing is (overlay reconcile, in an unmounted upper layer)',
    setup: usr,
    step: () => ({ kind: 'whiteout', path: rp('usr/lib/hidden'), mtime: MTIME }),
    needsRoot: 'whiteouts are device nodes',
  },
  {
    name: "strip-xattr: a folder's opaque mark (userxattr's name, which the snapshots see)",
    setup: async (root) => {
      await fsp.mkdir(path.join(root, 'usr/opaque'), { recursive: true });
      await xattr.setAttribute(path.join(root, 'usr/opaque'), 'user.overlay.opaque', 'y');
    },
    step: () => ({ kind: 'strip-xattr', path: rp('usr/opaque'), name: 'user.overlay.opaque', value: Buffer.from('y').toString('hex') }),
  },
  {
    name: "strip-xattr: a file's origin handle (binary value)",
    setup: async (root) => {
      await write(path.join(root, 'usr/lib/f'), 'copied up');
      await xattr.setAttribute(path.join(root, 'usr/lib/f'), 'user.overlay.origin', ORIGIN);
    },
    step: () => ({ kind: 'strip-xattr', path: rp('usr/lib/f'), name: 'user.overlay.origin', value: ORIGIN.toString('hex') }),
  },
  {
    name: "replace-file: dpkg's status rewritten in an upper layer (content in the journal, the old file kept by a link)",
    setup: async (root) => write(path.join(root, 'var/lib/dpkg/status'), 'Package: old\n'),
    step: () => ({ kind: 'replace-file', path: rp('var/lib/dpkg/status'), content: Buffer.from('Package: new\n').toString('base64') }),
  },
  {
    name: 'staging (made by its caller, removed by undo and finish)',
    setup: usr,
    // Inside the root here, so that the snapshots see it come and go.
    step: (_staging, root) => ({ kind: 'staging', dir: hostPathOf(path.join(root, 'stage')) }),
    callerWork: async (root) => write(path.join(root, 'stage/0'), 'staged'),
  },
];

/** Hooks that count sub-steps and throw at the `at`-th (a simulated kill: no clean-up on the way out). */
function counter(at = 0): StepHooks & { count: number } {
  const h = {
    count: 0,
    step(): void {
      h.count++;
      if (h.count === at) throw new Killed();
    },
  };
  return h;
}

class Killed extends Error {
  constructor() {
    super('killed at a crash point');
  }
}

interface Fixture {
  root: Root;
  staging: string;
  kind: AnyStepKind;
  payload: unknown;
  /** The state before the step was journaled. */
  before: TreeSnapshot;
}

/** A fresh root in `dir` for `c`, and its step made concrete (temporary names drawn anew each time). */
async function prepare(c: Case, dir: string): Promise<Fixture> {
  await fsp.rm(dir, { recursive: true, force: true });
  const rootDir = path.join(dir, 'root');
  const staging = path.join(dir, 'staging');
  await fsp.mkdir(rootDir, { recursive: true });
  await fsp.mkdir(staging, { recursive: true });
  await c.setup(rootDir, staging);
  await settleTimes(rootDir);
  const root = await openRoot(rootDir);
  const before = await rootState(root.host);
  const planned = c.step(staging, root.host);
  const kind = steps.get(planned.kind);
  const payload = kind.concretize(planned, { root, mode: 'rename' });
  await c.callerWork?.(root.host);
  return { root, staging, kind, payload, before };
}

/** One mtime for everything set up, so that every fresh fixture of a case is the same tree. */
async function settleTimes(dir: string): Promise<void> {
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isDirectory()) await fsp.lutimes(path.join(e.parentPath, e.name), MTIME, MTIME);
  }
}

async function run(f: Fixture, hooks: StepHooks): Promise<void> {
  await f.kind.run(f.payload, { root: f.root, asRoot: process.getuid?.() === 0, hooks, sync: new SyncBatch() });
}

async function undo(f: Fixture, hooks: StepHooks = {}): Promise<void> {
  const sync = new SyncBatch();
  await f.kind.undo(f.payload, { hooks, sync });
  await sync.flush();
}

async function finish(f: Fixture, hooks: StepHooks = {}): Promise<void> {
  await f.kind.finish(f.payload, { hooks });
}

async function stateOf(f: Fixture): Promise<TreeSnapshot> {
  return rootState(f.root.host);
}

async function temporaries(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.name.startsWith('.overmerge-')) found.push(path.join(e.parentPath, e.name));
  }
  return found;
}

async function expectKilled(p: Promise<void>, at: number): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof Killed, `a kill at point ${at} must reach the caller as it was thrown`);
}

describe('each step kind undoes and finishes from every point it can stop at', () => {
  for (const c of CASES) {
    it(c.name, { skip: c.needsRoot ? needs({ root: c.needsRoot }) : false }, async () => {
      await withTempDir('steps', async (dir) => {
        // A complete run: how many points, and the state after finish.
        let f = await prepare(c, dir);
        const full = counter();
        await run(f, full);
        await finish(f);
        const after = await stateOf(f);
        assert.deepEqual(await temporaries(f.root.host), [], 'no temporary after finish');

        for (let at = 1; at <= full.count + 1; at++) {
          // at = count + 1: the run completed; undo must still take it all back.
          f = await prepare(c, dir);
          if (at <= full.count) await expectKilled(run(f, counter(at)), at);
          else await run(f, counter());
          await undo(f);
          assertSameTree(await stateOf(f), f.before, `${c.name}: undo after a kill at point ${at}`);
          await undo(f);
          assertSameTree(await stateOf(f), f.before, `${c.name}: a second undo after a kill at point ${at}`);
          assert.deepEqual(await temporaries(f.root.host), [], `no temporary after undo (kill at ${at})`);
        }

        // Undo itself cut short at each of its points (after a complete run), then run again.
        f = await prepare(c, dir);
        await run(f, counter());
        const undoPoints = counter();
        await undo(f, undoPoints);
        for (let at = 1; at <= undoPoints.count; at++) {
          f = await prepare(c, dir);
          await run(f, counter());
          await expectKilled(undo(f, counter(at)), at);
          await undo(f);
          assertSameTree(await stateOf(f), f.before, `${c.name}: undo killed at its point ${at}, then run again`);
        }

        // Finish cut short at each of its points, then run again.
        f = await prepare(c, dir);
        await run(f, counter());
        const finishPoints = counter();
        await finish(f, finishPoints);
        for (let at = 1; at <= finishPoints.count; at++) {
          f = await prepare(c, dir);
          await run(f, counter());
          await expectKilled(finish(f, counter(at)), at);
          await finish(f);
          assertSameTree(await stateOf(f), after, `${c.name}: finish killed at its point ${at}, then run again`);
          assert.deepEqual(await temporaries(f.root.host), [], `no temporary after finish (killed at ${at})`);
        }
      });
    });
  }
});
