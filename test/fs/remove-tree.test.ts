import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { removeTree } from '../../src/fs/entries';
import { hostPathOf } from '../../src/fs/host-path';
import { withTempDir } from '../helpers/temp';

function files(dir: string, n: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) writeFileSync(path.join(dir, `f${i}`), `${i}`);
}

test('removeTree: a small tree goes in one synchronous pass (gone before its promise is awaited), symlinks removed, never followed', async () => {
  await withTempDir('remove-tree', async (dir) => {
    const outside = path.join(dir, 'outside');
    files(outside, 3);
    const tree = path.join(dir, 'tmp.ci');
    files(tree, 5);
    files(path.join(tree, 'a', 'b'), 4);
    mkdirSync(path.join(tree, 'empty'));
    symlinkSync(outside, path.join(tree, 'link-to-folder'));
    symlinkSync('nowhere', path.join(tree, 'dangling'));
    const pending = removeTree(hostPathOf(tree));
    assert.equal(existsSync(tree), false, 'removed before the first await');
    await pending;
    assert.deepEqual(readdirSync(outside).sort(), ['f0', 'f1', 'f2'], 'what a symlink points to stays');
  });
});

test('removeTree: a folder of more entries than a synchronous pass takes goes through the thread pool, whole, nested ones too', async () => {
  await withTempDir('remove-tree', async (dir) => {
    const flat = path.join(dir, 'flat');
    files(flat, 300);
    const pending = removeTree(hostPathOf(flat));
    assert.equal(existsSync(flat), true, 'not done synchronously');
    await pending;
    assert.equal(existsSync(flat), false);

    // Small folders beside and above a large one: what the synchronous pass removed stays removed, the rest follows.
    const mixed = path.join(dir, 'mixed');
    files(path.join(mixed, 'a'), 3);
    files(path.join(mixed, 'b', 'large'), 200);
    files(path.join(mixed, 'c'), 3);
    writeFileSync(path.join(mixed, 'top'), 'x');
    await removeTree(hostPathOf(mixed));
    assert.equal(existsSync(mixed), false);
  });
});

test('removeTree: a missing path is nothing to do, a file is unlinked', async () => {
  await withTempDir('remove-tree', async (dir) => {
    await removeTree(hostPathOf(path.join(dir, 'missing')));
    const file = path.join(dir, 'file');
    writeFileSync(file, 'x');
    await removeTree(hostPathOf(file));
    assert.equal(existsSync(file), false);
  });
});
