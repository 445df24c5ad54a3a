import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { openForWriting } from '../../src/engine/context';
import { installArchives } from '../../src/engine/install';
import { buildFixtureDebs } from '../helpers/fixtures';
import { tempDir, withTempDir } from '../helpers/temp';
import { testTxnOptions } from '../helpers/txn-options';

/**
 * A transaction's row is committed without an fsync of its own (engine/transaction.ts): the first intent's
 * makes it durable. A power cut before that loses the row and may leave its staging folder, named for the
 * number the next transaction then gets again: that one removes the folder and goes on.
 */

const work = tempDir('begin', { after });

test('a staging folder left under the next transaction number is removed, and the install goes on', async () => {
  const debs = await buildFixtureDebs(work);
  await withTempDir('root', async (root) => {
    const w = await openForWriting({ root, lockWait: 0 });
    try {
      // What a power cut right after the first transaction's mkdir leaves: its folder, with something staged.
      const left = path.join(w.loc.stagingBase, 'txn-1');
      await fsp.mkdir(path.join(left, 'deeper'), { recursive: true });
      await fsp.writeFile(path.join(left, 'deeper', '0'), 'staged before the cut\n');
      const outcome = await installArchives(w, [debs['hello-1.0']], 'installed', testTxnOptions());
      assert.equal(outcome.txnId, 1, 'the transaction got the number the lost one had');
      assert.deepEqual(outcome.failures, []);
      assert.deepEqual(await fsp.readdir(w.loc.stagingBase), [], 'nothing left in the staging folder');
      assert.equal(w.db.packages.get('hello', 'all')?.status, 'installed');
    } finally {
      w.close();
    }
  });
});
