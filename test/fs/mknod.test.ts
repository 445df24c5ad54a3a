import assert from 'node:assert/strict';
import { lstatSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fsError } from '../../src/errors';
import { hostPathOf } from '../../src/fs/host-path';
import { mknod } from '../../src/fs/mknod';
import { withTempDir } from '../helpers/temp';

test('mknod: a FIFO and a device node with the mode asked; a taken name refused with EEXIST, as the call itself would be', async (t) => {
  await withTempDir('mknod', async (dir) => {
    const fifo = hostPathOf(path.join(dir, 'fifo'));
    await mknod(fifo, 0o640, { kind: 'fifo' });
    const st = lstatSync(fifo);
    assert.equal(st.isFIFO(), true);
    assert.equal(st.mode & 0o7777, 0o640);

    const taken = hostPathOf(path.join(dir, 'taken'));
    writeFileSync(taken, 'x');
    const err = await mknod(taken, 0o600, { kind: 'fifo' }).then(() => undefined, (e: unknown) => e);
    assert.equal((err as { code?: string }).code, 'EEXIST');
    assert.equal(fsError('create fifo', err, taken).message, `cannot create fifo ${taken}: file exists`);

    const nowhere = hostPathOf(path.join(dir, 'no', 'such'));
    const missing = await mknod(nowhere, 0o600, { kind: 'fifo' }).then(() => undefined, (e: unknown) => e as Error);
    assert.match(String(missing?.message), /No such file or directory/);

    if (process.getuid?.() !== 0) {
      t.diagnostic('SKIPPED the device node: only root may make one');
      return;
    }
    const dev = hostPathOf(path.join(dir, 'null'));
    await mknod(dev, 0o666, { kind: 'char', major: 1, minor: 3 });
    const d = lstatSync(dev);
    assert.equal(d.isCharacterDevice(), true);
    assert.equal(d.mode & 0o7777, 0o666);
    assert.equal(d.rdev, (1 << 8) | 3);
  });
});
