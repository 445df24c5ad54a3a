import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  addToUnincorp,
  formatExplicitInterests,
  formatFileInterests,
  formatTriggersPending,
  formatUnincorp,
  parseExplicitInterests,
  parseFileInterests,
  parseTriggersAwaited,
  parseTriggersPending,
  parseUnincorp,
  readTriggerState,
  recordTriggerActivation,
  triggerFieldsProblem,
  writeUnincorp,
} from '../../src/dpkg/triggers';
import { OvermergeError } from '../../src/errors';
import { withTempDir } from '../helpers/temp';
import { gate } from '../helpers/gate';
import { cannotRunDpkgTriggers } from '../helpers/trigger-fixtures';

const execFileP = promisify(execFile);

const refuses = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (err: unknown) => err instanceof OvermergeError && message.test(err.message) && !err.message.includes('\n'));

describe('triggers/File', () => {
  it('reads and writes `PATH PACKAGE[/noawait]`; other options read as await and are dropped', () => {
    const text = '/usr/share/foo w1\n/usr/share/foo w2/noawait\n/etc/x w3:amd64/await\n/etc/y w4/whatever\n';
    const lines = parseFileInterests(text);
    assert.deepEqual(lines, [
      { path: '/usr/share/foo', package: 'w1', noawait: false },
      { path: '/usr/share/foo', package: 'w2', noawait: true },
      { path: '/etc/x', package: 'w3:amd64', noawait: false },
      { path: '/etc/y', package: 'w4', noawait: false },
    ]);
    assert.equal(formatFileInterests(lines), '/usr/share/foo w1\n/usr/share/foo w2/noawait\n/etc/x w3:amd64\n/etc/y w4\n');
    assert.deepEqual(parseFileInterests(''), []);
  });

  it("refuses what dpkg refuses, in dpkg's words", () => {
    refuses(() => parseFileInterests('/a w1'), /too-long line or missing newline$/);
    refuses(() => parseFileInterests('a w1\n'), /syntax error in file triggers file$/);
    refuses(() => parseFileInterests('/a\n'), /syntax error in file triggers file$/);
    refuses(() => parseFileInterests('\n'), /syntax error in file triggers file$/);
    refuses(() => parseFileInterests('/a w1 \n'), /illegal package name 'w1 '/);
    refuses(() => parseFileInterests('/a w1\n/a w1/noawait\n'), /duplicate file trigger interest for filename '\/a' and package 'w1'$/);
  });
});

describe('explicit interest files', () => {
  it('reads and writes `PACKAGE[/noawait]`', () => {
    const lines = parseExplicitInterests('w1\nw2/noawait\n', 'triggers/t');
    assert.deepEqual(lines, [
      { package: 'w1', noawait: false },
      { package: 'w2', noawait: true },
    ]);
    assert.equal(formatExplicitInterests(lines), 'w1\nw2/noawait\n');
    refuses(() => parseExplicitInterests('\n', 'triggers/t'), /illegal package name ''/);
  });
});

describe('triggers/Unincorp', () => {
  it('reads lines of a trigger and its awaiters, `-` for none', () => {
    assert.deepEqual(parseUnincorp('t1 a b\n/usr/x -\n# note\n  \nt2  c-d:amd64 e+f.g\t\n'), [
      { trigger: 't1', awaiters: ['a', 'b'] },
      { trigger: '/usr/x', awaiters: [null] },
      { trigger: 't2', awaiters: ['c-d:amd64', 'e+f.g'] },
    ]);
    assert.equal(formatUnincorp([{ trigger: 't', awaiters: ['a', null] }]), 't a -\n');
  });

  it("keeps trigdef_parse's quirks: an empty line ends the file; a name ends at `#`", () => {
    assert.deepEqual(parseUnincorp('t1 a\n\nt2 b\n'), [{ trigger: 't1', awaiters: ['a'] }]);
    assert.deepEqual(parseUnincorp('t1 a#b\n'), [{ trigger: 't1', awaiters: ['a', 'b'] }]);
  });

  it('refuses malformed lines', () => {
    refuses(() => parseUnincorp('t1\n'), /syntax error in triggers deferred file .* at line 1 character 3/);
    refuses(() => parseUnincorp('t1 a  \n'), /syntax error/);
    refuses(() => parseUnincorp('t1 A\n'), /syntax error/);
    refuses(() => parseUnincorp('t1 a_b\n'), /syntax error/);
    refuses(() => parseUnincorp('t1 -x\n'), /invalid package name '-x'/);
    refuses(() => parseUnincorp('t1 a'), /too-long line or missing newline/);
  });

  it("dpkg-trigger's rewrite: the awaiter goes first on its trigger's line, once; a new trigger is appended", () => {
    let u = addToUnincorp([], 't1', 'a');
    u = addToUnincorp(u, 't2', null);
    u = addToUnincorp(u, 't1', 'b');
    u = addToUnincorp(u, 't1', 'a');
    u = addToUnincorp(u, 't2', null);
    assert.equal(formatUnincorp(u), 't1 a b\nt2 -\n');
    assert.throws(() => addToUnincorp(u, 'a b', 'x'), (e: unknown) => e instanceof OvermergeError && e.code === 'E_USAGE');
  });

  it('our dpkg-trigger leaves the same Unincorp as real dpkg-trigger, and does nothing where dpkg never set triggers up', async (t) => {
    const why = await cannotRunDpkgTriggers();
    if (why !== undefined && gate(t, { skip: why })) return;
    const calls: Array<[string, string | null]> = [
      ['t1', 'pkg-a'],
      ['/usr/share/x/y', 'pkg-b'],
      ['t1', null],
      ['t1', 'pkg-b'],
      ['t1', 'pkg-a'],
      ['odd_kind', 'pkg-c'],
      ['/usr/share/x/y', null],
      ['t1', null],
    ];
    await withTempDir('triggers-unincorp', async (dir) => {
      const real = path.join(dir, 'real');
      const ours = path.join(dir, 'ours');
      for (const admin of [real, ours]) {
        await fsp.mkdir(path.join(admin, 'triggers'), { recursive: true });
        // Seeded with what dpkg-trigger rewrites away: a comment, and everything after an empty line.
        await fsp.writeFile(path.join(admin, 'triggers/Unincorp'), '# seeded\nt0 z\n\nlost y\n');
      }
      for (const [trigger, by] of calls) {
        await execFileP('dpkg-trigger', [`--admindir=${real}`, ...(by === null ? ['--no-await'] : [`--by-package=${by}`]), trigger]);
        assert.equal(await recordTriggerActivation(ours, trigger, by), true);
        const [a, b] = await Promise.all([real, ours].map((d) => fsp.readFile(path.join(d, 'triggers/Unincorp'), 'latin1')));
        assert.equal(b, a, `after dpkg-trigger ${by ?? '--no-await'} ${trigger}`);
      }
      assert.deepEqual((await readTriggerState(ours)).unincorp, parseUnincorp(await fsp.readFile(path.join(real, 'triggers/Unincorp'), 'latin1')));
      // No Unincorp (a database dpkg never set triggers up in): dpkg-trigger records nothing, exit 0.
      for (const admin of [real, ours]) await fsp.rm(path.join(admin, 'triggers/Unincorp'));
      await execFileP('dpkg-trigger', [`--admindir=${real}`, '--by-package=x', 't9']);
      assert.equal(await recordTriggerActivation(ours, 't9', 'x'), false);
      for (const admin of [real, ours]) await assert.rejects(fsp.stat(path.join(admin, 'triggers/Unincorp')));
      await writeUnincorp(ours, []);
      assert.equal(await fsp.readFile(path.join(ours, 'triggers/Unincorp'), 'latin1'), '');
      assert.equal((await fsp.stat(path.join(ours, 'triggers/Lock'))).mode & 0o777, 0o600);
    });
  });
});

describe('Triggers-Pending and Triggers-Awaited', () => {
  it('dpkg reads Triggers-Pending back reversed (each name prepended) and writes its memory order', () => {
    assert.deepEqual(parseTriggersPending('t3 t1 t2'), ['t2', 't1', 't3']);
    assert.equal(formatTriggersPending(['t2', 't1', 't3']), 't2 t1 t3');
    assert.deepEqual(parseTriggersPending(''), []);
    refuses(() => parseTriggersPending('a b a'), /duplicate pending trigger 'a'$/);
    refuses(() => parseTriggersPending('a \x01'), /illegal pending trigger name/);
  });

  it('Triggers-Awaited keeps its order', () => {
    assert.deepEqual(parseTriggersAwaited('w2 w1'), ['w2', 'w1']);
    refuses(() => parseTriggersAwaited('w1 w1'), /duplicate awaited trigger package 'w1'$/);
    refuses(() => parseTriggersAwaited('_x'), /illegal package name in awaited trigger '_x'/);
  });

  it("dpkg's consistency rules between Status and the fields", () => {
    assert.equal(triggerFieldsProblem('installed', [], []), undefined);
    assert.equal(triggerFieldsProblem('triggers-pending', ['t'], []), undefined);
    assert.equal(triggerFieldsProblem('triggers-awaited', ['t'], ['w']), undefined);
    assert.equal(triggerFieldsProblem('triggers-awaited', [], ['w']), undefined);
    assert.equal(triggerFieldsProblem('unpacked', [], ['w']), undefined, 'an unpacked package may await');
    assert.equal(triggerFieldsProblem('half-configured', [], ['w']), undefined);
    assert.equal(triggerFieldsProblem('installed', ['t'], []), 'package has status installed but triggers are pending');
    assert.equal(triggerFieldsProblem('installed', [], ['w']), 'package has status installed but triggers are awaited');
    assert.equal(triggerFieldsProblem('triggers-pending', [], []), 'package has status triggers-pending but no triggers pending');
    assert.equal(triggerFieldsProblem('triggers-awaited', ['t'], []), 'package has status triggers-awaited but no triggers awaited');
    assert.equal(triggerFieldsProblem('config-files', [], ['w']), 'package has status config-files but triggers are awaited');
  });
});
