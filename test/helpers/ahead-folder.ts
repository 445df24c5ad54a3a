import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { withTempDir, type TempName } from './temp';

/**
 * The fixture of the work-ahead queues (archive/decode-ahead.ts, engine/staged-ahead.ts): `archives`
 * written into a temporary folder by name, a queue opened on its folder `ahead` beside them, `fn` run, the
 * queue closed — which must remove that folder.
 */
export function withAheadFolder<Q extends { close(): Promise<void> }, T>(
  name: TempName,
  archives: Record<string, Buffer>,
  open: (aheadDir: string, work: string) => Promise<Q>,
  fn: (files: Record<string, string>, queue: Q, aheadDir: string, work: string) => Promise<T>,
): Promise<T> {
  return withTempDir(name, async (work) => {
    const files: Record<string, string> = {};
    for (const [file, data] of Object.entries(archives)) {
      files[file] = path.join(work, file);
      await fsp.writeFile(files[file], data);
    }
    const aheadDir = path.join(work, 'ahead');
    const queue = await open(aheadDir, work);
    try {
      return await fn(files, queue, aheadDir, work);
    } finally {
      await queue.close();
      assert.equal(existsSync(aheadDir), false, 'close removes the folder');
    }
  });
}

/** Lets a queue go on: a job begins once the jobs before it settle, and `take` waits for a job begun. */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
