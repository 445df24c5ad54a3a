import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OvermergeError } from '../../src/errors';
import {
  nonAmbiguousName,
  planScripts,
  type InstalledRef,
  type ScriptOperation,
  type ScriptSequence,
} from '../../src/dpkg/script-protocol';
import {
  abandon,
  advance,
  begin,
  currentStep,
  remainingAfter,
  remainingSteps,
  replay,
  type Cursor,
  type Step,
  type StepResult,
} from '../../src/dpkg/script-sequence';
import { commandLine } from '../../src/dpkg/script-text';

/**
 * The protocol as pure data: what each operation calls, and how the sequence walker unwinds after a
 * failure or a crash. (test/dpkg/script-oracle.test.ts holds the same protocol against real dpkg.)
 */

const NATIVE = 'amd64';
const t = (version: string) => ({ name: 't', arch: 'all', version });
const installed = (version: string, status: InstalledRef['status'] = 'installed'): InstalledRef => ({ ...t(version), status });

const FRESH: ScriptOperation = { op: 'unpack', package: t('1.0'), nativeArch: NATIVE };
const UPGRADE: ScriptOperation = { op: 'unpack', package: t('2.0'), installed: installed('1.0'), nativeArch: NATIVE };

/** `source script args` of every step, with `undo files`/`files` for the engine's steps. */
function show(steps: Step[]): string[] {
  return steps.map((s) => (s.kind === 'files' ? `${s.role === 'undo' ? 'undo ' : ''}${s.files}` : `${s.role === 'abort' ? 'abort: ' : ''}${s.call.source} ${commandLine(s.call)}`));
}

function forward(op: ScriptOperation): string[] {
  const seq = planScripts(op);
  return show(remainingSteps(seq, begin(seq)));
}

test('fresh install: preinst install, then postinst configure with an empty argument', () => {
  assert.deepEqual(forward(FRESH), ['new preinst install', 'unpack', 'finish-unpack']);
  const seq = planScripts({ op: 'configure', package: { ...t('1.0'), status: 'unpacked' }, nativeArch: NATIVE });
  const step = currentStep(seq, begin(seq));
  assert.deepEqual(show(remainingSteps(seq, begin(seq))), ['configure-conffiles', "installed postinst configure ''"]);
  assert.equal(step?.kind, 'files');
  const postinst = remainingSteps(seq, begin(seq))[1];
  assert.ok(postinst.kind === 'script');
  assert.deepEqual(postinst.call.args, ['configure', '']);
});

test('every kind of unpack calls what dpkg calls', () => {
  assert.deepEqual(forward({ op: 'unpack', package: t('2.0'), installed: installed('1.0', 'config-files'), nativeArch: NATIVE }), [
    'new preinst install 1.0 2.0',
    'unpack',
    'finish-unpack',
  ]);
  assert.deepEqual(forward(UPGRADE), ['installed prerm upgrade 2.0', 'new preinst upgrade 1.0 2.0', 'unpack', 'installed postrm upgrade 2.0', 'finish-unpack']);
  // Unpacked or half-installed: no prerm (it never was configured, or its prerm already ran).
  for (const status of ['unpacked', 'half-installed'] as const) {
    assert.deepEqual(forward({ op: 'unpack', package: t('2.0'), installed: installed('1.0', status), nativeArch: NATIVE }), [
      'new preinst upgrade 1.0 2.0',
      'unpack',
      'installed postrm upgrade 2.0',
      'finish-unpack',
    ]);
  }
  for (const status of ['half-configured', 'triggers-awaited', 'triggers-pending'] as const) {
    assert.equal(forward({ op: 'unpack', package: t('2.0'), installed: installed('1.0', status), nativeArch: NATIVE })[0], 'installed prerm upgrade 2.0');
  }
});

test('versions are passed as dpkg prints them: a 0 epoch left out, others kept', () => {
  const op: ScriptOperation = { op: 'unpack', package: t('1:2.0-1'), installed: installed('0:1.0-1'), nativeArch: NATIVE };
  assert.deepEqual(forward(op).slice(0, 2), ['installed prerm upgrade 1:2.0-1', 'new preinst upgrade 1.0-1 1:2.0-1']);
  assert.throws(() => planScripts({ op: 'unpack', package: t('not a version'), nativeArch: NATIVE }), (e: unknown) => e instanceof OvermergeError && e.code === 'E_BAD_VERSION');
});

test('package names in arguments are qualified as dpkg does (pnaw_nonambig)', () => {
  assert.equal(nonAmbiguousName({ name: 'x', arch: 'all' }, 'amd64'), 'x');
  assert.equal(nonAmbiguousName({ name: 'x', arch: 'amd64' }, 'amd64'), 'x');
  assert.equal(nonAmbiguousName({ name: 'x', arch: 'i386' }, 'amd64'), 'x:i386');
  assert.equal(nonAmbiguousName({ name: 'x', arch: 'amd64', multiArchSame: true }, 'amd64'), 'x:amd64');
  const seq = planScripts({
    op: 'unpack',
    package: { name: 'n', arch: 'i386', version: '1' },
    deconfigure: [{ package: { name: 'b', arch: 'all', version: '1', status: 'installed' }, removing: { name: 'c', arch: 'amd64', version: '2', multiArchSame: true, status: 'installed' } }],
    nativeArch: NATIVE,
  });
  assert.equal(show(remainingSteps(seq, begin(seq)))[0], 'installed prerm deconfigure in-favour n:i386 1 removing c:amd64 2');
});

test('remove and purge', () => {
  const rm = (op: 'remove' | 'purge', status: InstalledRef['status'], leavesConfig = true) =>
    forward({ op, package: installed('1.0', status), leavesConfig, nativeArch: NATIVE });
  assert.deepEqual(rm('remove', 'installed'), ['installed prerm remove', 'remove-files', 'installed postrm remove', 'remove-control-files']);
  assert.deepEqual(rm('purge', 'installed'), [
    'installed prerm remove',
    'remove-files',
    'installed postrm remove',
    'remove-control-files',
    'purge-conffiles',
    'installed postrm purge',
  ]);
  assert.deepEqual(rm('purge', 'config-files'), ['purge-conffiles', 'installed postrm purge']);
  assert.deepEqual(rm('remove', 'config-files'), []);
  // Never configured, or its prerm already ran: straight to the files.
  assert.deepEqual(rm('remove', 'half-installed'), ['remove-files', 'installed postrm remove', 'remove-control-files']);
  // Without conffiles and postrm, dpkg purges at once.
  const seq = planScripts({ op: 'remove', package: installed('1.0'), leavesConfig: false, nativeArch: NATIVE });
  const end = replay(seq, ['ok', 'ok', 'absent', 'ok']);
  assert.equal(end.phase, 'done');
  assert.deepEqual(end.states.t, { status: 'not-installed', reinstreq: false });
});

test('a failing prerm falls back to the new one; if that fails too, the old postinst aborts the upgrade', () => {
  const seq = planScripts(UPGRADE);
  let c = advance(seq, begin(seq), 'failed');
  assert.deepEqual(show([currentStep(seq, c)!]), ['new prerm failed-upgrade 1.0 2.0']);
  assert.deepEqual(c.states.t, { status: 'half-configured', reinstreq: true });
  c = advance(seq, c, 'failed');
  assert.deepEqual(show(remainingSteps(seq, c)), ['abort: installed postinst abort-upgrade 2.0']);
  c = advance(seq, c, 'ok');
  assert.equal(c.outcome, 'failed');
  assert.deepEqual(c.states.t, { status: 'installed', reinstreq: false });
});

test('a fallback that does not exist counts as failed; a missing forward script as success', () => {
  const seq = planScripts(UPGRADE);
  const c = replay(seq, ['failed', 'absent']);
  assert.equal(c.phase, 'unwind');
  const d = replay(seq, ['absent', 'absent']);
  assert.deepEqual(show([currentStep(seq, d)!]), ['unpack']);
});

test('the old postrm: fallback, then the whole abort chain with the files put back in between', () => {
  assert.deepEqual(show(remainingAfter(planScripts(UPGRADE), ['ok', 'ok', 'ok', 'failed'], 'failed')), [
    'abort: installed preinst abort-upgrade 2.0',
    'undo unpack',
    'abort: new postrm abort-upgrade 1.0 2.0',
    'abort: installed postinst abort-upgrade 2.0',
  ]);
});

test('after a crash: the step in flight counts as failed and no fallback is tried', () => {
  const seq = planScripts(UPGRADE);
  const after = (done: StepResult[]) => show(remainingAfter(seq, done, 'crashed'));
  assert.deepEqual(after([]), ['abort: installed postinst abort-upgrade 2.0']);
  assert.deepEqual(after(['ok']), ['abort: new postrm abort-upgrade 1.0 2.0', 'abort: installed postinst abort-upgrade 2.0']);
  assert.deepEqual(after(['ok', 'ok']), ['undo unpack', 'abort: new postrm abort-upgrade 1.0 2.0', 'abort: installed postinst abort-upgrade 2.0']);
  assert.deepEqual(after(['ok', 'ok', 'ok']), [
    'abort: installed preinst abort-upgrade 2.0',
    'undo unpack',
    'abort: new postrm abort-upgrade 1.0 2.0',
    'abort: installed postinst abort-upgrade 2.0',
  ]);
  // Past the checkpoint dpkg unwinds nothing: the package stays half-installed, reinstall required.
  assert.deepEqual(after(['ok', 'ok', 'ok', 'ok']), []);
  const c = abandon(seq, replay(seq, ['ok', 'ok', 'ok', 'ok']), true);
  assert.deepEqual(c.states.t, { status: 'half-installed', reinstreq: true });
  // A crash during the fallback, too.
  assert.deepEqual(after(['failed']), ['abort: installed postinst abort-upgrade 2.0']);
  // A crash during an abort call: that one failed, so the package's remaining abort calls are skipped.
  assert.deepEqual(after(['ok', 'failed']), []);
  assert.deepEqual(after(['ok', 'ok', 'ok', 'failed', 'failed', 'ok']), []);
  assert.deepEqual(abandon(seq, replay(seq, ['ok', 'failed']), true).states.t, { status: 'half-installed', reinstreq: true });
});

test('after a crash between steps, the step that never started pushed no abort call', () => {
  const seq = planScripts(UPGRADE);
  const c = replay(seq, ['ok']); // prerm done, preinst not started
  assert.deepEqual(show(remainingSteps(seq, abandon(seq, c, false))), ['abort: installed postinst abort-upgrade 2.0']);
  assert.deepEqual(show(remainingSteps(seq, abandon(seq, c, true))), ['abort: new postrm abort-upgrade 1.0 2.0', 'abort: installed postinst abort-upgrade 2.0']);
  // While unwinding, a step not started is simply still to do.
  const u = replay(seq, ['ok', 'failed']);
  assert.deepEqual(abandon(seq, u, false), u);
});

test('the cursor is plain data: through JSON and back, it carries on the same', () => {
  const seq = planScripts(UPGRADE);
  const c = replay(seq, ['ok', 'ok', 'ok', 'failed', 'failed', 'ok']);
  const back = JSON.parse(JSON.stringify(c)) as Cursor;
  assert.deepEqual(remainingSteps(seq, back), remainingSteps(seq, c));
  assert.equal(c.steps, 6);
});

test('abort groups: the conflictor unwinds even when the package could not; a failed file undo stops both, not deconfigure', () => {
  const op: ScriptOperation = {
    op: 'unpack',
    package: { name: 'k', arch: 'all', version: '1.0' },
    deconfigure: [{ package: { name: 'd', arch: 'all', version: '1.0', status: 'installed' }, removing: { name: 'c', arch: 'all', version: '1.0', status: 'installed' } }],
    conflictors: [{ name: 'c', arch: 'all', version: '1.0', status: 'installed', leavesConfig: true }],
    nativeArch: NATIVE,
  };
  const seq = planScripts(op);
  assert.deepEqual(show(remainingSteps(seq, begin(seq))), [
    'installed prerm deconfigure in-favour k 1.0 removing c 1.0',
    'installed prerm remove in-favour k 1.0',
    'new preinst install',
    'unpack',
    'finish-unpack',
    'remove-files',
    'installed postrm remove',
    'remove-control-files',
  ]);
  // The unpack fails; the undo succeeds; the new postrm abort-install fails: c and d still abort.
  let c = replay(seq, ['ok', 'ok', 'ok', 'failed', 'ok', 'failed']);
  assert.deepEqual(show(remainingSteps(seq, c)), ['abort: installed postinst abort-remove in-favour k 1.0', 'abort: installed postinst abort-deconfigure in-favour k 1.0 removing c 1.0']);
  // The undo of the files fails: package and conflictor abort calls are skipped, deconfigure's is not.
  c = replay(seq, ['ok', 'ok', 'ok', 'failed', 'failed']);
  assert.deepEqual(show(remainingSteps(seq, c)), ['abort: installed postinst abort-deconfigure in-favour k 1.0 removing c 1.0']);
  c = advance(seq, c, 'ok');
  assert.deepEqual(c.states, {
    k: { status: 'half-installed', reinstreq: true },
    c: { status: 'half-installed', reinstreq: false },
    d: { status: 'installed', reinstreq: false },
  });
});

test('the refcount counts the package itself unless it is not-installed, plus its other architectures', () => {
  const seq = planScripts({ op: 'unpack', package: { name: 'ma', arch: 'i386', version: '1', multiArchSame: true, otherInstances: 1 }, nativeArch: NATIVE });
  const steps = remainingAfter(seq, [], 'failed');
  const calls = [currentStep(seq, begin(seq))!, ...steps].flatMap((s) => (s.kind === 'script' ? [s.call] : []));
  assert.deepEqual(
    calls.map((c) => [c.script, c.args.join(' '), c.refcount, c.key]),
    [
      ['preinst', 'install', 2, 'ma:i386'],
      ['postrm', 'abort-install', 2, 'ma:i386'],
    ],
  );
});

test('operations that make no sense are refused', () => {
  const internal = (e: unknown) => e instanceof OvermergeError && e.code === 'E_INTERNAL';
  assert.throws(() => planScripts({ op: 'configure', package: installed('1', 'installed'), nativeArch: NATIVE }), internal);
  assert.throws(() => planScripts({ op: 'remove', package: installed('1', 'not-installed'), leavesConfig: true, nativeArch: NATIVE }), internal);
  assert.throws(() => planScripts({ ...UPGRADE, op: 'unpack', disappear: [installed('1')] } as ScriptOperation), internal);
});

/**
 * Every path through every kind of sequence (each step ok, absent or failed), checked for dpkg's invariants:
 * the walk ends; an abort call only follows its row's own call; nothing before the newest checkpoint is
 * aborted; a group's abort calls stop after its first failure; a sequence that went through ends with the
 * package unpacked (or removed) and no reinst-required flag.
 */
test('exhaustively: every outcome of every step keeps dpkg invariants', () => {
  const ops: ScriptOperation[] = [
    FRESH,
    UPGRADE,
    { op: 'unpack', package: t('2.0'), installed: installed('1.0', 'config-files'), nativeArch: NATIVE },
    { op: 'unpack', package: t('2.0'), installed: installed('1.0', 'unpacked'), nativeArch: NATIVE },
    {
      op: 'unpack',
      package: t('2.0'),
      installed: installed('1.0'),
      deconfigure: [{ package: { name: 'b', arch: 'all', version: '1', status: 'installed' } }],
      conflictors: [{ name: 'c', arch: 'all', version: '1', status: 'installed', leavesConfig: false }],
      disappear: [{ name: 'a', arch: 'all', version: '1', status: 'installed' }],
      nativeArch: NATIVE,
    },
    { op: 'configure', package: installed('1.0', 'unpacked'), configVersion: '0.9', nativeArch: NATIVE },
    { op: 'remove', package: installed('1.0'), leavesConfig: true, nativeArch: NATIVE },
    { op: 'purge', package: installed('1.0'), leavesConfig: true, nativeArch: NATIVE },
  ];
  let paths = 0;
  for (const op of ops) {
    const seq = planScripts(op);
    const walk = (c: Cursor, trail: Taken[]) => {
      const step = currentStep(seq, c);
      if (step === undefined) {
        paths++;
        checkPath(seq, trail, c);
        return;
      }
      assert.ok(trail.length < 64, 'the walk ends');
      for (const r of ['ok', 'absent', 'failed'] as const) walk(advance(seq, c, r), [...trail, { ...step, result: r }]);
    };
    walk(begin(seq), []);
  }
  assert.ok(paths > 1000, `${paths} paths`);
});

/** A step taken on one path, with how it ended. */
type Taken = Step & { result: StepResult };

function checkPath(seq: ScriptSequence, trail: Taken[], end: Cursor): void {
  const started = new Set<number>();
  const failedGroups = new Set<string>();
  let failedAt = -1;
  for (const s of trail) {
    const result = s.result;
    if (s.role === 'forward' || s.role === 'fallback') {
      started.add(s.frame);
      continue;
    }
    if (failedAt === -1) failedAt = Math.max(...started);
    assert.ok(started.has(s.frame), `abort of frame ${s.frame} whose call never ran`);
    for (let j = s.frame; j <= failedAt; j++) assert.notEqual(seq.frames[j].kind, 'checkpoint', 'unwound past a checkpoint');
    const frame = seq.frames[s.frame];
    const group = frame.kind === 'script' ? frame.cleanup!.group : 'files';
    assert.ok(!failedGroups.has(group), `abort in group ${group} after one of its abort calls failed`);
    if (result === 'failed') {
      if (group === 'files') ['package', 'conflictor'].forEach((g) => failedGroups.add(g));
      else if (group !== 'always') failedGroups.add(group);
    }
  }
  if (end.outcome === 'succeeded') {
    const op = seq.operation;
    const key = op.package.name;
    const want = op.op === 'unpack' ? 'unpacked' : op.op === 'configure' ? 'installed' : op.op === 'remove' ? 'config-files' : 'not-installed';
    assert.deepEqual(end.states[key], { status: want, reinstreq: false });
  }
}
