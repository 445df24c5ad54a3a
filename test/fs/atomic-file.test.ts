import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { removeFolderSync } from '../../src/fs/atomic-file';
import { withTempDir } from '../helpers/temp';

const exists = (p: string): Promise<boolean> => fsp.lstat(p).then(() => true, () => false);

test('removeFolderSync: an absent or empty folder, one with files and folders in it, and a file in its place all go', async () => {
  await withTempDir('remove-folder', async (dir) => {
    const absent = path.join(dir, 'absent');
    removeFolderSync(absent);
    assert.equal(await exists(absent), false);

    const empty = path.join(dir, 'empty');
    await fsp.mkdir(empty);
    removeFolderSync(empty);
    assert.equal(await exists(empty), false);

    // What a crash between writing the staged info files and renaming them leaves.
    const full = path.join(dir, 'full');
    await fsp.mkdir(path.join(full, 'sub'), { recursive: true });
    await fsp.writeFile(path.join(full, 'postinst'), '#!/bin/sh\n');
    await fsp.writeFile(path.join(full, 'sub', 'x'), 'x');
    removeFolderSync(full);
    assert.equal(await exists(full), false);

    const file = path.join(dir, 'file');
    await fsp.writeFile(file, 'not a folder');
    removeFolderSync(file);
    assert.equal(await exists(file), false);
    assert.deepEqual(await fsp.readdir(dir), []);
  });
});
