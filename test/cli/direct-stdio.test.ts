import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { directStdio } from '../../src/fs/direct-stdio';
import { OM_DPKG } from './dpkg-cli';

/**
 * overmerge-dpkg's standard streams (src/fs/direct-stdio.ts): writes go straight to the descriptor, in
 * order, until something else is asked of the stream, which is then the real one; a reader that goes
 * away ends the program quietly, as before.
 */
describe('direct stdio', () => {
  it('writes strings and bytes to the descriptor, then hands everything to the real stream once it is needed', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-stdio-'));
    try {
      const file = path.join(dir, 'out');
      const fd = fs.openSync(file, 'w');
      const later: string[] = [];
      let made = 0;
      const fake = {
        write: (chunk: string | Uint8Array) => later.push(Buffer.from(chunk).toString()) > 0,
        columns: 77,
      };
      const s = directStdio(fd, () => (made++, fake as unknown as NodeJS.WriteStream), () => assert.fail('no broken pipe here'));
      s.write('one ');
      s.write(Buffer.from('two '));
      s.write('thr\u00e9e\n', 'latin1');
      assert.equal(made, 0);
      assert.equal((s as unknown as { columns: number }).columns, 77);
      s.write('four');
      fs.closeSync(fd);
      assert.equal(made, 1);
      assert.deepEqual(fs.readFileSync(file), Buffer.concat([Buffer.from('one two '), Buffer.from('thr\u00e9e\n', 'latin1')]));
      assert.deepEqual(later, ['four']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('overmerge-dpkg --help into a pipe already closed exits 0 without a word', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; "$0" --help | true`, OM_DPKG], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
  });
});
