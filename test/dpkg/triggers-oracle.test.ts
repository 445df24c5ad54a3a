import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { withTempDir } from '../helpers/temp';
import { gate } from '../helpers/gate';
import { cannotRunDpkgTriggers, type TriggerFixture } from '../helpers/trigger-fixtures';
import { TriggerOracle } from '../helpers/trigger-oracle';

/**
 * src/dpkg/triggers against real dpkg (1.21): every scenario is run by dpkg on a temporary root and by the
 * model, command by command; after each command the postinst calls, the status file's states and trigger
 * fields and the triggers/ files must be the same (TriggerOracle.compare).
 */
async function scenario(t: TestContext, fixtures: TriggerFixture[], run: (o: TriggerOracle) => Promise<void>): Promise<void> {
  const why = await cannotRunDpkgTriggers();
  if (why !== undefined && gate(t, { skip: why })) return;
  await withTempDir('triggers-oracle', async (dir) => run(await TriggerOracle.create(dir, fixtures)));
}

describe('file triggers', () => {
  it('a file below an interesting directory triggers its watcher once, after the configure', (t) =>
    scenario(
      t,
      [
        { name: 'watcher', triggers: 'interest /usr/share/foo\n' },
        { name: 'prov', files: ['/usr/share/foo/a/b.txt', '/usr/share/other/c.txt'] },
      ],
      async (o) => {
        await o.install(['watcher']);
        await o.install(['prov']);
      },
    ));

  it('two watchers of one path run in the reverse of their order in triggers/File; a removal triggers too', (t) =>
    scenario(
      t,
      [
        { name: 'w1', triggers: 'interest /usr/share/foo\n' },
        { name: 'w2', triggers: 'interest-noawait /usr/share/foo\ninterest /usr/share\n' },
        { name: 'prov', files: ['/usr/share/foo/x'] },
      ],
      async (o) => {
        await o.install(['w1', 'w2']);
        await o.install(['prov'], { noTriggers: true });
        await o.process('triggers-only', 'pending');
        await o.remove(['prov']);
        await o.remove(['w1']);
      },
    ));

  it('unpacking matches members exactly: a file below an interesting folder whose archive lacks that folder triggers nothing', (t) =>
    scenario(
      t,
      [
        { name: 'watcher', triggers: 'interest /usr/share/foo\ninterest /usr/share/foo/bare\n', files: ['/usr/share/foo/own'] },
        { name: 'bare', filesOnly: true, files: ['/usr/share/foo/bare', '/usr/share/foo/other'] },
      ],
      async (o) => {
        await o.install(['watcher']);
        await o.install(['bare'], { noTriggers: true });
        await o.process('triggers-only', 'pending');
        await o.remove(['bare']);
      },
    ));

  it('a conffile activates its path and parents again when configure installs it', (t) =>
    scenario(
      t,
      [
        { name: 'watcher', triggers: 'interest /etc/foo\ninterest /etc/foo/x.conf\n' },
        { name: 'prov', conffiles: ['/etc/foo/x.conf'] },
      ],
      async (o) => {
        await o.install(['watcher']);
        await o.install(['prov'], { unpackOnly: true });
        await o.process('configure', ['prov'], { noTriggers: true });
        await o.process('triggers-only', 'pending');
      },
    ));

  it('an interest in a plain file, and one that no member matches exactly', (t) =>
    scenario(
      t,
      [
        { name: 'watcher', triggers: 'interest /etc/thing.conf\ninterest /usr/lib/nothing-here\n' },
        { name: 'prov', files: ['/etc/thing.conf', '/usr/lib/other'] },
      ],
      async (o) => {
        await o.install(['watcher']);
        await o.install(['prov'], { noTriggers: true });
      },
    ));
});

describe('explicit triggers', () => {
  const watcher: TriggerFixture = { name: 'watcher', triggers: 'interest mytrig\n' };
  it('`activate` fires at unpack and again at configure; one triggered call', (t) =>
    scenario(t, [watcher, { name: 'act', triggers: 'activate mytrig\n' }], async (o) => {
      await o.install(['watcher']);
      await o.install(['act']);
    }));

  it('with --no-triggers the activator awaits and the watcher stays triggers-pending', (t) =>
    scenario(t, [watcher, { name: 'act', triggers: 'activate mytrig\n' }], async (o) => {
      await o.install(['watcher']);
      await o.install(['act'], { noTriggers: true });
      await o.process('triggers-only', 'pending');
    }));

  it('an unpacked (not configured) watcher gets nothing: no pending trigger, nobody awaits it', (t) =>
    scenario(t, [watcher, { name: 'act', triggers: 'activate mytrig\n' }], async (o) => {
      await o.install(['watcher'], { unpackOnly: true });
      await o.install(['act']);
      await o.process('configure', ['watcher']);
    }));

  it('pending names: newest first in memory, so the order flips each time dpkg reads the status back', (t) =>
    scenario(
      t,
      [
        { name: 'watcher', triggers: 'interest t1\ninterest t2\ninterest t3\n' },
        { name: 'act1', triggers: 'activate t1\n' },
        { name: 'act2', triggers: 'activate t2\n' },
        { name: 'act3', triggers: 'activate t3\n' },
      ],
      async (o) => {
        await o.install(['watcher']);
        await o.install(['act1', 'act2'], { noTriggers: true });
        await o.install(['act3'], { noTriggers: true });
        await o.process('triggers-only', 'pending');
      },
    ));

  it('--unpack alone processes triggers at the end of the run; the unpacked activator awaits nothing', (t) =>
    scenario(t, [watcher, { name: 'act', triggers: 'activate mytrig\n' }], async (o) => {
      await o.install(['watcher']);
      await o.install(['act'], { unpackOnly: true, noTriggers: true });
      await o.install(['act'], { unpackOnly: true });
      await o.process('configure', 'pending');
    }));
});

describe('dpkg-trigger from a postinst (Unincorp)', () => {
  it('await and --no-await', (t) =>
    scenario(
      t,
      [
        { name: 'watcher', triggers: 'interest t-await\ninterest t-noawait\ninterest /usr/share/bywire\n' },
        { name: 'caller', onConfigure: [{ trigger: 't-await' }] },
        { name: 'caller-na', onConfigure: [{ trigger: 't-noawait', noAwait: true }] },
        { name: 'caller-file', onConfigure: [{ trigger: '/usr/share/bywire/some/file' }] },
      ],
      async (o) => {
        await o.install(['watcher']);
        await o.install(['caller'], { noTriggers: true });
        await o.install(['caller-na'], { noTriggers: true });
        await o.install(['caller-file'], { noTriggers: true });
        await o.process('configure', 'pending');
      },
    ));
});

describe('await and noawait, on both sides', () => {
  it('only await + await makes the activator triggers-awaited', (t) =>
    scenario(
      t,
      [
        { name: 'watcher', triggers: 'interest t-aa\ninterest t-an\ninterest-noawait t-na\ninterest-noawait t-nn\n' },
        { name: 'act-aa', triggers: 'activate t-aa\n' },
        { name: 'act-an', triggers: 'activate-noawait t-an\n' },
        { name: 'act-na', triggers: 'activate-await t-na\n' },
        { name: 'act-nn', triggers: 'activate-noawait t-nn\n' },
      ],
      async (o) => {
        await o.install(['watcher']);
        await o.install(['act-aa', 'act-an', 'act-na', 'act-nn'], { noTriggers: true });
        await o.process('triggers-only', ['watcher']);
      },
    ));
});

describe('upgrades', () => {
  it('an installed activator being upgraded awaits from its old state; its old and new `activate` lines both fire', (t) =>
    scenario(
      t,
      [
        { name: 'watcher', triggers: 'interest t-old\ninterest t-new\ninterest t-both\n' },
        { name: 'act', triggers: 'activate t-old\nactivate t-both\n' },
        { name: 'act', version: '2', triggers: 'activate t-new\nactivate t-both\n' },
      ],
      async (o) => {
        await o.install(['watcher', 'act']);
        await o.install(['act_2'], { noTriggers: true });
        await o.process('configure', 'pending');
      },
    ));

  it('a watcher upgraded while triggers are pending loses them and releases its awaiters; its interests move', (t) =>
    scenario(
      t,
      [
        { name: 'w1', triggers: 'interest /usr/share/foo\ninterest mytrig\n' },
        { name: 'w2', triggers: 'interest /usr/share/foo\ninterest mytrig\n' },
        { name: 'w1', version: '2', triggers: 'interest-noawait /usr/share/foo\ninterest mytrig\ninterest /usr/lib/bar\n' },
        { name: 'act', triggers: 'activate mytrig\n', files: ['/usr/share/foo/f'] },
      ],
      async (o) => {
        await o.install(['w1', 'w2']);
        await o.install(['act'], { noTriggers: true });
        await o.install(['w1_2'], { noTriggers: true });
        await o.process('triggers-only', 'pending');
      },
    ));

  it('a package interested in its own files or its own `activate` never triggers itself (dpkg t-triggers-selfcycle)', (t) =>
    scenario(
      t,
      [
        { name: 'self-files', triggers: 'interest /test/trigger\n', files: ['/test/trigger/test-file'] },
        { name: 'self-act', triggers: 'interest /test/trigger2\nactivate /test/trigger2\n' },
      ],
      async (o) => {
        await o.install(['self-files', 'self-act']);
        await o.install(['self-files', 'self-act'], { unpackOnly: true });
        await o.process('configure', ['self-files', 'self-act']);
        await o.process('configure', 'pending');
      },
    ));
});

describe('processing order and dependencies', () => {
  it("dpkg's t-triggers-depends: a watcher waits for its dependency to be configured", (t) =>
    scenario(
      t,
      [
        { name: 'pkg-depended' },
        { name: 'pkg-interest', depends: 'pkg-depended', triggers: 'interest /test/trigger\n' },
        { name: 'pkg-activate', files: ['/test/trigger/trigger-file'] },
      ],
      async (o) => {
        await o.install(['pkg-depended', 'pkg-interest']);
        await o.install(['pkg-activate']);
        await o.process('configure', 'pending');
        await o.install(['pkg-depended'], { unpackOnly: true, noTriggers: true });
        await o.install(['pkg-activate'], { noTriggers: true });
        await o.process('configure', ['pkg-interest']);
        await o.process('configure', ['pkg-depended'], { noTriggers: true });
        await o.process('configure', ['pkg-interest']);
      },
    ));

  it('a package depending on an activator that awaits is configured after the trigger processing', (t) =>
    scenario(
      t,
      [
        { name: 'watcher', triggers: 'interest /usr/share/foo\n' },
        { name: 'prov', files: ['/usr/share/foo/f'] },
        { name: 'user', depends: 'prov' },
      ],
      async (o) => {
        await o.install(['watcher']);
        await o.install(['prov', 'user']);
      },
    ));

  it('even with --no-triggers, a package waiting on an activator that awaits gets that trigger processed first', (t) =>
    scenario(
      t,
      [
        { name: 'watcher', triggers: 'interest /usr/share/foo\n' },
        { name: 'prov', files: ['/usr/share/foo/f'] },
        { name: 'user', depends: 'prov' },
      ],
      async (o) => {
        await o.install(['watcher']);
        await o.install(['prov', 'user'], { noTriggers: true });
      },
    ));

  it('a watcher whose dependency is not configured keeps its triggers pending', (t) =>
    scenario(
      t,
      [
        { name: 'dep' },
        { name: 'watcher', depends: 'dep', triggers: 'interest /usr/share/foo\n' },
        { name: 'prov', files: ['/usr/share/foo/f'] },
      ],
      async (o) => {
        await o.install(['dep', 'watcher']);
        await o.install(['dep'], { unpackOnly: true, noTriggers: true });
        await o.install(['prov']);
        await o.process('configure', ['dep']);
      },
    ));

  it('a failing `postinst triggered` leaves the watcher half-configured and releases the activator', (t) =>
    scenario(
      t,
      [
        { name: 'watcher', triggers: 'interest mytrig\n', failTriggered: true },
        { name: 'act', triggers: 'activate mytrig\n' },
      ],
      async (o) => {
        await o.install(['watcher']);
        await o.install(['act']);
      },
    ));
});

describe('trigger cycles', () => {
  const fixtures: TriggerFixture[] = [
    { name: 'pdep' },
    { name: 'ta', depends: 'pdep', triggers: 'interest /test/trigger-a\n', onConfigure: [{ trigger: '/test/trigger-b/test-file' }], onTriggered: [{ trigger: '/test/trigger-b/test-file' }] },
    { name: 'tb', depends: 'pdep', triggers: 'interest /test/trigger-b\n', onConfigure: [{ trigger: '/test/trigger-a/test-file' }], onTriggered: [{ trigger: '/test/trigger-a/test-file' }] },
  ];

  it("two packages triggering each other: dpkg gives up on one, with dpkg's message", (t) =>
    scenario(t, fixtures, async (o) => {
      await o.install(['pdep']);
      await o.install(['ta', 'tb']);
      const { dpkg, model } = o.last!;
      const cycle = model.steps.find((s) => s.kind === 'cycle');
      assert.ok(cycle && cycle.kind === 'cycle');
      assert.ok(dpkg.stderr.includes(cycle.message), `dpkg's stderr:\n${dpkg.stderr}\nmodel:\n${cycle.message}`);
      await o.process('configure', 'pending');
    }));

  it('a cycle through two pending triggers on one package (the separator quirk)', (t) =>
    scenario(
      t,
      [
        { name: 'ta', triggers: 'interest ta1\ninterest ta2\n', onTriggered: [{ trigger: 'tb1' }] },
        { name: 'tb', triggers: 'interest tb1\n', onTriggered: [{ trigger: 'ta1' }, { trigger: 'ta2' }] },
        { name: 'kick', triggers: 'activate ta1\nactivate ta2\n' },
      ],
      async (o) => {
        await o.install(['ta', 'tb']);
        await o.install(['kick']);
        const { dpkg, model } = o.last!;
        const cycle = model.steps.find((s) => s.kind === 'cycle');
        assert.ok(cycle && cycle.kind === 'cycle');
        assert.ok(dpkg.stderr.includes(cycle.message), `dpkg's stderr:\n${dpkg.stderr}\nmodel:\n${cycle.message}`);
      },
    ));
});

describe('our triggers/ files', () => {
  it('dpkg carries on from the files our writer made as from its own', (t) =>
    scenario(
      t,
      [
        { name: 'w1', triggers: 'interest /usr/share/foo\ninterest-noawait mytrig\n' },
        { name: 'w2', triggers: 'interest /usr/share/foo\ninterest mytrig\ninterest /etc/x\n' },
        { name: 'prov', files: ['/usr/share/foo/f'] },
        { name: 'act', triggers: 'activate mytrig\n' },
      ],
      async (o) => {
        await o.install(['w1', 'w2']);
        await o.handOverOurTriggerFiles();
        await o.install(['prov', 'act'], { noTriggers: true });
        await o.handOverOurTriggerFiles();
        await o.process('configure', 'pending');
        await o.remove(['w2']);
      },
    ));
});

describe('trigger cycles, more', () => {
  const ring = (names: string[]): TriggerFixture[] =>
    names.map((name, i) => ({ name, triggers: `interest t-${name}\n`, onTriggered: [{ trigger: `t-${names[(i + 1) % names.length]}` }] }));

  for (const names of [
    ['r1', 'r2', 'r3'],
    ['zulu', 'alpha', 'mike', 'kilo'],
  ]) {
    it(`a ring of ${names.length} (${names.join(', ')}), started from each member`, (t) =>
      scenario(t, [...ring(names), ...names.map((n) => ({ name: `kick-${n}`, triggers: `activate t-${n}\n` }))], async (o) => {
        await o.install(names);
        for (const n of names) {
          await o.install([`kick-${n}`]);
          const { dpkg, model } = o.last!;
          const cycle = model.steps.find((s) => s.kind === 'cycle');
          assert.ok(cycle && cycle.kind === 'cycle' && dpkg.stderr.includes(cycle.message), `dpkg's stderr:\n${dpkg.stderr}`);
          await o.process('configure', 'pending');
        }
      }));
  }

  it('two rings at once: two cycles in one run, the second found after a long chain', (t) =>
    scenario(
      t,
      [
        { name: 'p1', triggers: 'interest t-p1\n', onTriggered: [{ trigger: 't-p2' }] },
        { name: 'p2', triggers: 'interest t-p2\n', onTriggered: [{ trigger: 't-p1' }] },
        { name: 'q1', triggers: 'interest t-q1\n', onTriggered: [{ trigger: 't-q2' }] },
        { name: 'q2', triggers: 'interest t-q2\n', onTriggered: [{ trigger: 't-q1' }] },
        { name: 'kick', triggers: 'activate t-p1\nactivate t-q1\n' },
      ],
      async (o) => {
        await o.install(['p1', 'p2', 'q1', 'q2']);
        await o.install(['kick']);
        const { dpkg, model } = o.last!;
        const cycles = model.steps.filter((s) => s.kind === 'cycle');
        assert.equal(cycles.length, 2);
        for (const c of cycles) assert.ok(c.kind === 'cycle' && dpkg.stderr.includes(c.message), `dpkg's stderr:\n${dpkg.stderr}`);
        await o.process('configure', 'pending');
      },
    ));

  it('a cycle with a bystander processed around it', (t) =>
    scenario(
      t,
      [
        { name: 'aaa', triggers: 'interest t-a\n', onTriggered: [{ trigger: 't-b' }, { trigger: 't-c' }] },
        { name: 'bbb', triggers: 'interest t-b\n', onTriggered: [{ trigger: 't-a' }] },
        { name: 'ccc', triggers: 'interest t-c\n' },
        { name: 'kick', triggers: 'activate t-a\nactivate t-c\n' },
      ],
      async (o) => {
        await o.install(['aaa', 'bbb', 'ccc']);
        await o.install(['kick']);
        await o.process('configure', 'pending');
      },
    ));
});

describe('deferred processing', () => {
  it('--no-triggers, then --configure --pending', (t) =>
    scenario(
      t,
      [
        { name: 'w1', triggers: 'interest /usr/share/foo\n' },
        { name: 'w2', triggers: 'interest mytrig\n' },
        { name: 'prov', files: ['/usr/share/foo/f'] },
        { name: 'act', triggers: 'activate mytrig\n' },
      ],
      async (o) => {
        await o.install(['w1', 'w2']);
        await o.install(['prov', 'act'], { noTriggers: true });
        await o.process('configure', 'pending');
      },
    ));

  it('--triggers-only on named packages processes only those; on a package without triggers it fails', (t) =>
    scenario(
      t,
      [
        { name: 'w1', triggers: 'interest mytrig\n' },
        { name: 'w2', triggers: 'interest mytrig\n', onTriggered: [{ trigger: 'other' }] },
        { name: 'w3', triggers: 'interest other\n' },
        { name: 'act', triggers: 'activate mytrig\n' },
      ],
      async (o) => {
        await o.install(['w1', 'w2', 'w3']);
        await o.install(['act'], { noTriggers: true });
        await o.process('triggers-only', ['w2']);
        await o.process('triggers-only', ['w1', 'act']);
        await o.process('configure', ['w3']);
      },
    ));

  it('--configure --pending walks dpkg\'s package table (hash order)', (t) =>
    scenario(
      t,
      ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf'].map((name) => ({ name })),
      async (o) => {
        await o.install(['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf'], { unpackOnly: true });
        await o.process('configure', 'pending');
      },
    ));
});
