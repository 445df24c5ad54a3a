import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRelations } from '../../src/control/relations';
import {
  activate,
  changeInterests,
  parseTriggersControl,
  planTriggerProcessing,
  processTriggers,
  unpackEvents,
  type PackageStatus,
  type ScriptCall,
  type TriggerPackage,
  type TriggerState,
} from '../../src/dpkg/triggers';

/** The planner on plain data: its API and the behaviours the oracle tests pin down against dpkg. */
function pkg(name: string, status: PackageStatus, extra: Partial<TriggerPackage> & { dependsOn?: string } = {}): TriggerPackage {
  const { dependsOn, ...rest } = extra;
  return { name, status, pending: [], awaited: [], version: '1', ...(dependsOn ? { depends: parseRelations('Depends', dependsOn) } : {}), ...rest };
}

function state(packages: TriggerPackage[], triggersFiles: Record<string, string> = {}): TriggerState {
  let interests: TriggerState['interests'] = { file: [], explicit: {} };
  for (const [name, text] of Object.entries(triggersFiles)) interests = changeInterests(interests, name, undefined, parseTriggersControl(text));
  for (const p of packages) if (triggersFiles[p.name]) p.declarations = parseTriggersControl(triggersFiles[p.name]);
  return { packages: Object.fromEntries(packages.map((p) => [p.name, p])), interests, deferred: [] };
}

const calls = (steps: ReturnType<typeof planTriggerProcessing>['steps']) =>
  steps.map((s) => (s.kind === 'triggered' ? `${s.package} triggered ${s.triggers.join(' ')}` : `${s.package} ${s.kind}`));

describe('planTriggerProcessing', () => {
  it('dpkg -i of an activator and a package depending on it: configure, the awaited trigger, then the dependant', () => {
    let s = state([pkg('watcher', 'installed'), pkg('prov', 'not-installed'), pkg('user', 'not-installed', { dependsOn: 'prov' })], {
      watcher: 'interest /usr/share/foo\n',
    });
    for (const [name, members] of [
      ['prov', ['/.', '/usr', '/usr/share', '/usr/share/foo', '/usr/share/foo/f']],
      ['user', ['/.']],
    ] as const) {
      const info = { version: '1', depends: s.packages[name].depends };
      s = activate(s, unpackEvents({ package: name, status: 'not-installed', members, info })).state;
    }
    assert.equal(s.packages.prov.status, 'unpacked');
    assert.deepEqual(s.packages.prov.awaited, ['watcher']);
    assert.deepEqual(s.deferred, ['watcher']);
    const plan = planTriggerProcessing(s, { action: 'install', packages: ['prov', 'user'] });
    assert.deepEqual(calls(plan.steps), ['prov configure', 'watcher triggered /usr/share/foo', 'user configure']);
    for (const p of Object.values(plan.state.packages)) assert.deepEqual([p.name, p.status, p.pending, p.awaited], [p.name, 'installed', [], []]);
  });

  it('passes the pending names to the postinst as one argument, newest first, and is pure', () => {
    const s = state([pkg('w', 'triggers-pending', { pending: ['t3', 't1', 't2'] })]);
    const before = structuredClone(s);
    const seen: ScriptCall[] = [];
    const plan = planTriggerProcessing(s, { action: 'triggers-only', pending: true, scripts: (c) => void seen.push(c) });
    assert.deepEqual(seen, [{ package: 'w', args: ['triggered', 't3 t1 t2'] }]);
    assert.deepEqual(s, before);
    assert.equal(plan.state.packages.w.status, 'installed');
  });

  it('--no-triggers: what is activated stays pending; --triggers-only NAME refuses a package without triggers', () => {
    const s = state([pkg('w', 'installed'), pkg('a', 'unpacked')], { w: 'interest t\n', a: 'activate t\n' });
    const plan = planTriggerProcessing(s, { action: 'configure', packages: ['a'], triggers: false });
    assert.deepEqual(calls(plan.steps), ['a configure']);
    assert.deepEqual([plan.state.packages.w.status, plan.state.packages.w.pending], ['triggers-pending', ['t']]);
    assert.deepEqual([plan.state.packages.a.status, plan.state.packages.a.awaited], ['triggers-awaited', ['w']]);
    const only = planTriggerProcessing(plan.state, { action: 'triggers-only', packages: ['a', 'w'] });
    assert.deepEqual(only.steps[0], {
      kind: 'error',
      package: 'a',
      message: "dpkg: error processing package a (--triggers-only):\n package a is not ready for trigger processing\n (current status 'triggers-awaited' with no pending triggers)\n",
    });
    assert.deepEqual(calls(only.steps.slice(1)), ['w triggered t']);
    assert.equal(only.state.packages.a.status, 'installed');
  });

  it('a watcher whose dependency cannot be met keeps its triggers; a failing postinst leaves it half-configured', () => {
    const s = state([pkg('w', 'triggers-pending', { pending: ['t'], dependsOn: 'missing' }), pkg('v', 'triggers-pending', { pending: ['t'] })]);
    const plan = planTriggerProcessing(s, { action: 'configure', pending: true, scripts: (c) => (c.package === 'v' ? { exitStatus: 3 } : undefined) });
    assert.equal(plan.state.packages.w.status, 'triggers-pending');
    assert.equal(plan.state.packages.v.status, 'half-configured');
    assert.ok(plan.steps.some((x) => x.kind === 'error' && x.package === 'w' && x.message.includes('dependency problems - leaving triggers unprocessed')));
    assert.ok(plan.steps.some((x) => x.kind === 'error' && x.package === 'v' && x.message.includes('post-installation script subprocess returned error exit status 3')));
  });

  it('a trigger cycle gives up on one package, leaving it half-configured, with its awaiters released', () => {
    const s = state([pkg('a', 'installed'), pkg('b', 'installed'), pkg('k', 'installed', { awaited: [] })], {
      a: 'interest ta\n',
      b: 'interest tb\n',
    });
    const started = activate(s, [{ kind: 'trigger', trigger: 'ta', by: 'k' }]).state;
    const plan = planTriggerProcessing(started, {
      action: 'install',
      scripts: (c) => (c.args[0] === 'triggered' ? { dpkgTrigger: [{ trigger: c.package === 'a' ? 'tb' : 'ta' }] } : undefined),
    });
    const cycle = plan.steps.find((x) => x.kind === 'cycle');
    assert.ok(cycle && cycle.kind === 'cycle');
    assert.equal(plan.state.packages[cycle.giveUp].status, 'half-configured');
    assert.match(cycle.message, /^dpkg: cycle found while processing triggers:\n chain of packages whose triggers are or may be responsible:\n  \S+( -> \S+)+\n/);
    assert.ok(cycle.message.endsWith(`dpkg: error processing package ${cycle.giveUp} (--install):\n triggers looping, abandoned\n`));
    for (const p of Object.values(plan.state.packages)) assert.deepEqual(p.awaited, [], p.name);
  });

  it('processTriggers: the engine drives it step by step, telling what each postinst did', () => {
    const s = state([pkg('w', 'installed'), pkg('v', 'installed'), pkg('a', 'unpacked')], { w: 'interest t\n', v: 'interest u\n' });
    const run = processTriggers(s, { action: 'configure', packages: ['a'] });
    const seen: string[] = [];
    let r = run.next();
    while (!r.done) {
      seen.push(`${r.value.package} ${r.value.kind}`);
      // a's postinst calls dpkg-trigger t; w's calls dpkg-trigger --no-await u and fails.
      const outcome =
        r.value.kind === 'configure'
          ? { dpkgTrigger: [{ trigger: 't' }] }
          : r.value.kind === 'triggered' && r.value.package === 'w'
            ? { dpkgTrigger: [{ trigger: 'u', await: false }], exitStatus: 1 }
            : undefined;
      r = run.next(outcome);
    }
    assert.deepEqual(seen, ['a configure', 'w triggered', 'w error', 'v triggered']);
    assert.deepEqual(
      Object.values(r.value.state.packages).map((p) => [p.name, p.status]),
      [
        ['w', 'half-configured'],
        ['v', 'installed'],
        ['a', 'installed'],
      ],
    );
  });

  // dpkg --configure x y with x and y depending on each other (checked against dpkg 1.21): once the queue
  // stops making progress, the cycle is broken where it started (both have a postinst), x goes first.
  it('a dependency cycle is broken where it started when every package on it has a postinst', () => {
    const s = state([pkg('x', 'unpacked', { dependsOn: 'y' }), pkg('y', 'unpacked', { dependsOn: 'x' })]);
    const plan = planTriggerProcessing(s, { action: 'configure', packages: ['x', 'y'] });
    assert.deepEqual(calls(plan.steps), ['x configure', 'y configure']);
    assert.deepEqual(plan.unresolved, []);
    assert.deepEqual(
      plan.cycleBreaks.map((b) => [b.package, b.dependsOn, b.because]),
      [['x', 'y', 'cycle-start']],
    );
  });

  // dpkg --configure y x, x without a postinst: the cycle found from y breaks at x, which goes first.
  it('a dependency cycle is broken at a package without a postinst, wherever the search started', () => {
    const s = state([pkg('x', 'unpacked', { dependsOn: 'y', hasPostinst: false }), pkg('y', 'unpacked', { dependsOn: 'x' })]);
    const plan = planTriggerProcessing(s, { action: 'configure', packages: ['y', 'x'] });
    assert.deepEqual(calls(plan.steps), ['x configure', 'y configure']);
    assert.deepEqual(
      plan.cycleBreaks.map((b) => [b.package, b.dependsOn, b.because, b.message]),
      [['x', 'y', 'no-postinst', 'dependency cycle y -> x -> y broken at x -> y (x has no postinst)']],
    );
  });

  // dpkg --force-depends --configure x, x depending on a package dpkg does not know: refused without the
  // force; with it, configured after dpkg's warning (debootstrap's core install).
  it('an unmet dependency halts the configuration, and --force-depends configures past it', () => {
    const s = state([pkg('x', 'unpacked', { dependsOn: 'absent' })]);
    const strict = planTriggerProcessing(s, { action: 'configure', packages: ['x'] });
    assert.deepEqual(calls(strict.steps), ['x error']);
    const forced = planTriggerProcessing(s, { action: 'configure', packages: ['x'], forceDepends: true });
    assert.deepEqual(calls(forced.steps), ['x warning', 'x configure']);
    assert.equal(forced.state.packages.x.status, 'installed');
  });
});
