import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ControlCache, readDebControls } from '../../src/archive/control-reads';
import { OvermergeError } from '../../src/errors';
import { CONTROL, deb, tar } from './fixtures';
import { withTempDir } from '../helpers/temp';

const control = (name: string): string => CONTROL.replace('Package: demo', `Package: ${name}`);

describe('control parts of many archives', () => {
  it('reads them in the order given, a few at once', () =>
    withTempDir('ctl', async (dir) => {
      const files: string[] = [];
      for (let i = 0; i < 9; i++) {
        const file = path.join(dir, `p${i}.deb`);
        await fsp.writeFile(file, await deb(tar(), i % 2 === 0 ? 'xz' : 'gzip', control(`p${i}`)));
        files.push(file);
      }
      const read = await readDebControls(files);
      assert.deepEqual(read.map((c) => c.fields.get('Package')), files.map((_, i) => `p${i}`));
      assert.deepEqual(read.map((c) => c.path), files);
    }));

  it('reports the first archive in the given order that fails, as reading one by one would', () =>
    withTempDir('ctl', async (dir) => {
      const good = path.join(dir, 'good.deb');
      const broken = path.join(dir, 'broken.deb');
      await fsp.writeFile(good, await deb(tar(), 'xz', control('good')));
      await fsp.writeFile(broken, 'not an archive\n');
      // The missing one fails at once (open), the broken one after its read: order decides, not time.
      const missing = path.join(dir, 'missing.deb');
      await assert.rejects(readDebControls([good, broken, good, missing]), (err: unknown) => {
        assert.ok(err instanceof OvermergeError);
        assert.match(err.message, /broken\.deb/);
        return true;
      });
      await assert.rejects(readDebControls([missing, broken]), /missing\.deb: no such file or directory/);
    }));

  it('with a cache: an unchanged archive is read once, a rewritten or replaced one again', () =>
    withTempDir('ctl', async (dir) => {
      const file = path.join(dir, 'p.deb');
      await fsp.writeFile(file, await deb(tar(), 'xz', control('first')));
      const cache = new ControlCache();
      const [a] = await readDebControls([file], cache);
      const [b] = await readDebControls([file], cache);
      assert.equal(b, a, 'the same read handed out again');
      // Rewritten in place, size and mtime kept: the change time still tells.
      const st = await fsp.stat(file);
      const second = await deb(tar(), 'xz', control('secnd'));
      assert.equal(second.length, st.size);
      await fsp.writeFile(file, second);
      await fsp.utimes(file, st.atime, st.mtime);
      const [c] = await readDebControls([file], cache);
      assert.equal(c.fields.get('Package'), 'secnd');
      // Replaced by a rename: another inode.
      await fsp.writeFile(`${file}.new`, await deb(tar(), 'xz', control('third')));
      await fsp.rename(`${file}.new`, file);
      assert.equal((await cache.get(file)).fields.get('Package'), 'third');
      // Gone: the read's own error, as without a cache.
      await fsp.rm(file);
      await assert.rejects(cache.get(file), /p\.deb: no such file or directory/);
    }));
});
