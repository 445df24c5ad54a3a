import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  activate,
  changeInterests,
  dpkgTableOrder,
  fileInterestsIn,
  hashBin,
  nodeName,
  parseTriggersControl,
  startRun,
  type PackageStatus,
  type TriggerPackage,
  type TriggerState,
} from '../../src/dpkg/triggers';
import { fnv1a32 } from '../../src/dpkg/triggers/hash-order';

/** Plain-data tests of activation (the dpkg behaviour behind each is checked in triggers-oracle.test.ts). */
function pkg(name: string, status: PackageStatus, extra: Partial<TriggerPackage> = {}): TriggerPackage {
  return { name, status, pending: [], awaited: [], ...extra };
}

function world(packages: TriggerPackage[], triggersFiles: Record<string, string> = {}): TriggerState {
  let interests: TriggerState['interests'] = { file: [], explicit: {} };
  for (const [name, text] of Object.entries(triggersFiles)) interests = changeInterests(interests, name, undefined, parseTriggersControl(text));
  return { packages: Object.fromEntries(packages.map((p) => [p.name, p])), interests, deferred: [] };
}

describe('activate', () => {
  it('is pure: the state given is left as it was', () => {
    const s = world([pkg('w', 'installed'), pkg('a', 'installed')], { w: 'interest t\n' });
    const before = structuredClone(s);
    const r = activate(s, [{ kind: 'trigger', trigger: 't', by: 'a' }]);
    assert.deepEqual(s, before);
    assert.equal(r.state.packages.w.status, 'triggers-pending');
  });

  it('only a configured interested package (triggers-awaited or better) takes a trigger', () => {
    for (const status of ['half-installed', 'unpacked', 'half-configured', 'config-files'] as const) {
      const r = activate(world([pkg('w', status), pkg('a', 'installed')], { w: 'interest t\n' }), [{ kind: 'trigger', trigger: 't', by: 'a' }]);
      assert.deepEqual(r.state.packages.w.pending, [], status);
      assert.deepEqual(r.state.packages.a, pkg('a', 'installed'), `${status}: nobody awaits it`);
      assert.deepEqual(r.changes, [{ kind: 'ignored', package: 'w', trigger: 't', status }]);
      assert.deepEqual(r.state.deferred, []);
    }
    for (const status of ['triggers-awaited', 'triggers-pending', 'installed'] as const) {
      const w = pkg('w', status, status === 'triggers-awaited' ? { awaited: ['x'] } : status === 'triggers-pending' ? { pending: ['old'] } : {});
      const r = activate(world([w, pkg('x', 'triggers-pending', { pending: ['q'] })], { w: 'interest t\n' }), [{ kind: 'trigger', trigger: 't', by: null }]);
      assert.equal(r.state.packages.w.pending[0], 't', status);
      assert.equal(r.state.packages.w.status, status === 'triggers-awaited' ? 'triggers-awaited' : 'triggers-pending');
      assert.deepEqual(r.state.deferred, ['w']);
    }
  });

  it('await only when both sides await; the awaiter goes triggers-awaited only from installed or triggers-pending', () => {
    const decl = { w: 'interest aa\ninterest an\ninterest-noawait na\ninterest-noawait nn\n' };
    const cases: Array<[string, string, boolean]> = [
      ['aa', 'activate', true],
      ['an', 'activate-noawait', false],
      ['na', 'activate-await', false],
      ['nn', 'activate-noawait', false],
    ];
    for (const [trigger, directive, awaits] of cases) {
      const s = world([pkg('w', 'installed'), pkg('a', 'installed', { declarations: parseTriggersControl(`${directive} ${trigger}\n`) })], decl);
      const r = activate(s, [{ kind: 'declared', package: 'a', declarations: s.packages.a.declarations }]);
      assert.deepEqual(r.state.packages.a.awaited, awaits ? ['w'] : [], trigger);
      assert.equal(r.state.packages.a.status, awaits ? 'triggers-awaited' : 'installed', trigger);
    }
    // An awaiter below triggers-awaited keeps its state but awaits all the same (unpacked, half-installed)...
    const r = activate(world([pkg('w', 'installed'), pkg('a', 'unpacked')], { w: 'interest t\n' }), [{ kind: 'trigger', trigger: 't', by: 'a' }]);
    assert.deepEqual([r.state.packages.a.status, r.state.packages.a.awaited], ['unpacked', ['w']]);
    // ...while one at config-files or below loses the link at once.
    const r2 = activate(world([pkg('w', 'installed'), pkg('a', 'not-installed')], { w: 'interest t\n' }), [{ kind: 'trigger', trigger: 't', by: 'a' }]);
    assert.deepEqual(r2.state.packages.a.awaited, []);
  });

  it('file triggers: a member matches exactly; a path matches itself and every parent', () => {
    const s = world([pkg('w1', 'installed'), pkg('w2', 'installed'), pkg('w3', 'installed')], {
      w1: 'interest /usr/share/foo\n',
      w2: 'interest /usr/share/foo\ninterest /usr\n',
      w3: 'interest /usr/share/foo/a/b\n',
    });
    const member = activate(s, [{ kind: 'member', path: './usr/share/foo/a/b/c', by: null }]);
    assert.deepEqual(member.state.deferred, []);
    const dir = activate(s, [{ kind: 'member', path: './usr/share/foo/', by: null }]);
    assert.deepEqual(dir.state.deferred, ['w2', 'w1'], 'the newest interest in a path first');
    const p = activate(s, [{ kind: 'path', path: '/usr/share/foo/a/b/c', by: null }]);
    assert.deepEqual(p.state.deferred, ['w3', 'w2', 'w1']);
    assert.deepEqual(p.state.packages.w2.pending, ['/usr', '/usr/share/foo']);
    const byName = activate(s, [{ kind: 'trigger', trigger: '/usr/share/foo/zzz', by: null }]);
    assert.deepEqual(byName.state.deferred, ['w2', 'w1']);
  });

  it('a package without pending triggers releases its awaiters, in chains', () => {
    const s = world([
      pkg('w', 'triggers-pending', { pending: ['t'] }),
      pkg('a', 'triggers-awaited', { awaited: ['w'] }),
      pkg('b', 'triggers-awaited', { awaited: ['w', 'a'], pending: ['u'] }),
    ]);
    const r = activate(s, [{ kind: 'status', package: 'w', status: 'half-configured' }]);
    assert.deepEqual(r.state.packages.w.pending, []);
    assert.equal(r.state.packages.a.status, 'installed');
    assert.deepEqual([r.state.packages.b.status, r.state.packages.b.awaited], ['triggers-pending', []]);
  });

  it('startRun: stale awaiters released, the queue emptied, Unincorp incorporated', () => {
    const s = world([pkg('w', 'installed'), pkg('a', 'triggers-awaited', { awaited: ['w'] }), pkg('b', 'installed')], { w: 'interest t\n' });
    s.deferred = ['old'];
    const r = startRun(s, [{ trigger: 't', awaiters: ['b'] }]);
    assert.equal(r.state.packages.a.status, 'installed');
    assert.deepEqual(r.state.deferred, ['w']);
    assert.deepEqual([r.state.packages.b.status, r.state.packages.b.awaited], ['triggers-awaited', ['w']]);
  });

  it('Unincorp lines activate once per awaiter', () => {
    const s = world([pkg('w', 'installed'), pkg('a', 'installed'), pkg('b', 'installed')], { w: 'interest t\n' });
    const r = activate(s, [{ kind: 'unincorp', entries: [{ trigger: 't', awaiters: ['a', null, 'b'] }, { trigger: 'nobody', awaiters: ['a'] }] }]);
    assert.deepEqual(r.state.packages.w.pending, ['t']);
    assert.deepEqual([r.state.packages.a.awaited, r.state.packages.b.awaited], [['w'], ['w']]);
  });
});

describe('changeInterests', () => {
  it("moves a re-declared explicit interest to the end, keeps a file interest's place, drops empty files", () => {
    let i = changeInterests({ file: [], explicit: {} }, 'w1', undefined, parseTriggersControl('interest t\ninterest /a\n'));
    i = changeInterests(i, 'w2', undefined, parseTriggersControl('interest t\ninterest /a\n'));
    const w1 = parseTriggersControl('interest t\ninterest /a\n');
    const again = changeInterests(i, 'w1', w1, parseTriggersControl('interest-noawait t\ninterest-noawait /a\n'));
    assert.deepEqual(again.explicit.t, [
      { package: 'w2', noawait: false },
      { package: 'w1', noawait: true },
    ]);
    assert.deepEqual(
      again.file.map((f) => f.package),
      ['w2', 'w1'],
      'a removed file interest declared again goes to the end',
    );
    assert.deepEqual(fileInterestsIn(again, '/a').map((f) => f.package), ['w1', 'w2']);
    const gone = changeInterests(changeInterests(i, 'w1', w1, undefined), 'w2', w1, undefined);
    assert.deepEqual(gone, { file: [], explicit: {} });
  });

  it('nodeName: leading slashes and ./ pairs, trailing slashes', () => {
    assert.equal(nodeName('./usr/share/'), '/usr/share');
    assert.equal(nodeName('//./usr'), '/usr');
    assert.equal(nodeName('/usr/./x'), '/usr/./x');
  });
});

describe("dpkg's package table order", () => {
  it('FNV-1a of the lower-cased name, modulo 65521', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
    assert.equal(hashBin('Foo:amd64'), fnv1a32('foo') % 65521);
    assert.deepEqual(dpkgTableOrder(['b', 'a']), hashBin('a') < hashBin('b') ? ['a', 'b'] : ['b', 'a']);
  });
});
