import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conffileVerdict, decideConffile, forcedAnswer } from '../../src/engine/conffile-rules';
import { NO_CONFFILE_FORCES, type ConffileForces } from '../../src/engine/plan-model';
import type { RootPath } from '../../src/fs/rootpath';

/**
 * dpkg's conffile table (src/main/configure.c deferred_configure_conffile, show_prompt), case by case:
 * which conffiles are asked about, with which facts, and how the forces answer.
 */
const forces = (f: Partial<ConffileForces> = {}): ConffileForces => ({ ...NO_CONFFILE_FORCES, ...f });
const at = 'etc/x.conf' as RootPath;

describe("dpkg's conffile rules", () => {
  it('leaves alone what nobody changed, installs what only the package changed, keeps what only the administrator changed', () => {
    assert.deepEqual(conffileVerdict({ md5: 'A' }, 'A', 'A', forces()), { kind: 'identical' });
    assert.deepEqual(conffileVerdict({ md5: 'A' }, 'A', 'B', forces()), { kind: 'install', why: 'updated' });
    assert.deepEqual(conffileVerdict({ md5: 'L' }, 'A', 'A', forces()), { kind: 'keep' });
    assert.deepEqual(conffileVerdict('absent', 'A', 'A', forces()), { kind: 'keep' });
  });

  it('asks when both changed it, when it was deleted and the package changed it, and about a file the package did not ship before', () => {
    assert.deepEqual(conffileVerdict({ md5: 'L' }, 'A', 'B', forces()), { kind: 'ask', userEdited: true, distEdited: true, userDeleted: false, isNew: false });
    assert.deepEqual(conffileVerdict('absent', 'A', 'B', forces()), { kind: 'ask', userEdited: true, distEdited: true, userDeleted: true, isNew: false });
    assert.deepEqual(conffileVerdict({ md5: 'L' }, undefined, 'B', forces()), { kind: 'ask', userEdited: true, distEdited: true, userDeleted: false, isNew: true });
    assert.deepEqual(conffileVerdict('absent', undefined, 'B', forces()), { kind: 'install', why: 'new' });
  });

  it('--force-confask asks about a modified file the package did not change; --force-confmiss installs a missing one', () => {
    assert.deepEqual(conffileVerdict({ md5: 'L' }, 'A', 'A', forces({ confask: true })), { kind: 'ask', userEdited: true, distEdited: false, userDeleted: false, isNew: false });
    assert.deepEqual(conffileVerdict({ md5: 'A' }, 'A', 'A', forces({ confask: true })), { kind: 'identical' });
    assert.deepEqual(conffileVerdict('absent', 'A', 'B', forces({ confmiss: true })), { kind: 'install', why: 'missing' });
    assert.deepEqual(conffileVerdict('absent', 'A', 'A', forces({ confmiss: true })), { kind: 'install', why: 'missing' });
  });

  it('answers by force as show_prompt does: confdef first (the default, keep), then confnew, then confold', () => {
    assert.equal(forcedAnswer(forces(), 'keep'), undefined);
    assert.deepEqual(forcedAnswer(forces({ confdef: true, confnew: true }), 'keep'), { answer: 'keep', why: 'Keeping old config file as default.' });
    assert.deepEqual(forcedAnswer(forces({ confnew: true, confold: true }), 'keep'), { answer: 'install', why: 'Using new file as you requested.' });
    assert.deepEqual(forcedAnswer(forces({ confold: true }), 'keep'), { answer: 'keep', why: 'Using current old file as you requested.' });
  });

  it('takes an answer given before over the force and the default, and raises the question either way', () => {
    const ask = conffileVerdict({ md5: 'L' }, 'A', 'B', forces());
    const incoming = { kind: 'beside' as const, path: 'etc/x.conf.dpkg-new' as RootPath };
    const unanswered = decideConffile('x', at, ask, { forces: forces() }, incoming);
    assert.equal(unanswered.outcome, 'keep-backup');
    assert.equal(unanswered.question?.forced, undefined);
    const answered = decideConffile('x', at, ask, { forces: forces({ confold: true }), answers: new Map([[at, 'install']]) }, incoming);
    assert.equal(answered.outcome, 'install-backup');
    assert.equal(answered.note, 'installing');
    assert.equal(answered.question?.forced?.answer, 'keep');
    assert.deepEqual(decideConffile('x', at, conffileVerdict({ md5: 'A' }, 'A', 'B', forces()), { forces: forces() }, incoming), { outcome: 'install', note: 'installing' });
  });
});
