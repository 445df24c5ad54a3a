import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_ADMINDIR } from '../../src/dpkg/script-runner';
import { parseRootPath } from '../../src/fs/rootpath';
import { unpackScripts, type PackageScripts, type ScriptPlanContext } from '../../src/engine/script-plan';
import { stagedPackage } from '../helpers/plan-data';

/**
 * The steps dpkg's protocol becomes for a fresh install (engine/script-plan.ts): a call of the archive's
 * own script that the archive does not have, and whose abort call it does not have either, does nothing
 * whatever happens, so it is no step (each run-script step is journaled alone, one synced intent); the
 * state changes around it stay, and so does a call whose abort script the archive has.
 */

const ctx: ScriptPlanContext = { nativeArch: 'amd64', admindir: DEFAULT_ADMINDIR, otherInstances: () => 0 };

function fresh(scripts: string[]): PackageScripts {
  const staged = stagedPackage('p', []);
  for (const s of scripts) staged.controlFiles.set(s, Buffer.from('#!/bin/sh\n'));
  return unpackScripts({ staged, newScripts: parseRootPath('/var/lib/dpkg/tmp.ci'), configure: true }, ctx);
}

const calls = (steps: PackageScripts['pre']): string[] =>
  steps.map((s) => (s.kind === 'run-script' ? `${s.target.call.script} ${s.target.call.args.join(' ')}${s.cleanup ? ` / ${s.cleanup.call.script} ${s.cleanup.call.args.join(' ')}` : ''}` : `state ${s.intent.op}`));

describe('unpackScripts: calls of scripts the archive lacks', () => {
  it('no preinst and no postrm: the state changes only', () => {
    const flow = fresh([]);
    assert.ok(flow.pre.length > 0, 'the package is still recorded half-installed before its files');
    assert.deepEqual(flow.pre.filter((s) => s.kind === 'run-script'), [], 'no step for the absent preinst and its absent abort call');
    assert.equal(flow.commitStatus, 'unpacked');
  });

  it('a preinst: its call, with the abort call dpkg would make', () => {
    assert.deepEqual(calls(fresh(['preinst']).pre).filter((c) => !c.startsWith('state')), ['preinst install / postrm abort-install']);
  });

  it('a postrm alone: the preinst call stays, for its abort call (postrm abort-install) after a failure', () => {
    assert.deepEqual(calls(fresh(['postrm']).pre).filter((c) => !c.startsWith('state')), ['preinst install / postrm abort-install']);
  });

  it('the state changes are the same with or without the scripts', () => {
    const states = (f: PackageScripts): string[] => f.pre.filter((s) => s.kind === 'dpkg-change').map((s) => JSON.stringify(s));
    assert.deepEqual(states(fresh([])), states(fresh(['preinst', 'postrm'])));
  });
});
