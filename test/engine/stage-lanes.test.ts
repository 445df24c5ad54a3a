import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openForWriting } from '../../src/engine/context';
import { installArchives } from '../../src/engine/install';
import type { LaidFiles } from '../../src/engine/laid-files';
import { buildAdHocDeb } from '../helpers/fixtures';
import { tempDir, withTempDir } from '../helpers/temp';
import { testTxnOptions } from '../helpers/txn-options';

/**
 * How many archives a transaction stages at once (engine/phases/stage.ts): two, and three where every
 * xz member is decoded on its lane's own worker thread (a bootstrap), whose thread waits on this one
 * between batches. Seen through the laid-files lookup each lane makes as it starts on an archive: a
 * stand-in that holds each lookup a moment and counts how many are held at once.
 */

const work = tempDir('stage-lanes', { after });

function countingLaid(): { laid: LaidFiles; most: () => number } {
  let now = 0;
  let most = 0;
  const laid = {
    async claim(): Promise<undefined> {
      most = Math.max(most, ++now);
      await sleep(30);
      now--;
      return undefined;
    },
    isClaim: () => false,
  } as unknown as LaidFiles;
  return { laid, most: () => most };
}

test('archives are staged two at a time, three where each lane decodes its own xz members', async () => {
  const debs: string[] = [];
  for (let n = 0; n < 6; n++) {
    debs.push(await buildAdHocDeb(work, { name: `lane${n}`, version: '1', entries: [{ path: `usr/share/lane${n}/f`, type: 'file', content: `${n}\n`.repeat(100) }] }));
  }
  for (const [xzInProcess, lanes] of [[undefined, 2], ['small', 2], ['all', 3]] as const) {
    await withTempDir('root', async (root) => {
      await fsp.chmod(root, 0o755);
      const counting = countingLaid();
      const w = await openForWriting({ root, lockWait: 0 });
      try {
        const outcome = await installArchives(w, debs, 'installed', testTxnOptions({ laid: counting.laid, xzInProcess }));
        assert.deepEqual(outcome.failures, []);
      } finally {
        w.close();
      }
      assert.equal(counting.most(), lanes, `xzInProcess ${xzInProcess}`);
      for (let n = 0; n < 6; n++) assert.equal(await fsp.readFile(`${root}/usr/share/lane${n}/f`, 'utf8'), `${n}\n`.repeat(100));
    });
  }
});
