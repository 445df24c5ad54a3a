import { it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { AheadQueue } from '../../src/archive/ahead-queue';
import { archiveIdentity } from '../../src/archive/identity';
import { withTempDir } from '../helpers/temp';

/**
 * The queue under decode-ahead and staged-ahead: one job at a time in the order queued, none before the
 * gate; each result handed over once; a job not begun is skipped, a failed one or one whose archive
 * changed since hands over nothing (what it made is discarded).
 */
it('runs one job at a time in order after the gate, skips what is asked for before it begins, and discards what changed', async () => {
  await withTempDir('ahead-queue', async (dir) => {
    const files = await Promise.all(
      ['a', 'b', 'c', 'd', 'e'].map(async (n) => {
        const f = path.join(dir, n);
        await fsp.writeFile(f, n);
        return f;
      }),
    );
    const [a, b, c, d, e] = files;
    const log: string[] = [];
    const discarded: string[] = [];
    let running = 0;
    let open!: () => void;
    const q = new AheadQueue<string>(
      async (archive) => {
        // As the real jobs do: the identity taken when the job begins.
        const identity = archiveIdentity(archive);
        running++;
        assert.equal(running, 1, 'one job at a time');
        log.push(path.basename(archive));
        await new Promise((resolve) => setImmediate(resolve));
        running--;
        return path.basename(archive) === 'd' || identity === undefined ? undefined : { value: `made ${path.basename(archive)}`, identity };
      },
      async (v) => {
        discarded.push(v);
      },
      new Promise<void>((resolve) => (open = resolve)),
    );
    q.queue([a, b, c, d, e, a]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(log, [], 'nothing before the gate');
    assert.equal(await q.take(b), undefined, 'b not begun: skipped, the caller does it');
    open();
    // Begun once the gate has settled: taken now, a would be skipped too.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await q.take(a), 'made a');
    assert.equal(await q.take(a), undefined, 'taken once');
    // c begins once a's job has ended (and b's skip settled): rewritten then, its result no longer describes it.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(log, ['a', 'c']);
    await fsp.writeFile(c, 'changed');
    assert.equal(await q.take(c), undefined);
    assert.deepEqual(discarded, ['made c']);
    assert.equal(await q.take(d), undefined, 'a failed job hands over nothing');
    assert.equal(await q.take(e), 'made e');
    assert.equal(await q.take(path.join(dir, 'never')), undefined);
    await q.settled();
    assert.deepEqual(log, ['a', 'c', 'd', 'e'], 'in order, b skipped, a queued once');
    assert.deepEqual(q.counts, { queued: 5, taken: 2 });
  });
});
