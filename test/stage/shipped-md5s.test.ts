import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_SHIPPED_MD5SUMS, shippedMd5s } from '../../src/stage/shipped-md5s';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);

describe('the MD5s an archive ships (md5sums)', () => {
  it('reads md5sum lines by root path: two spaces or a binary-mode star, with or without ./', () => {
    const m = shippedMd5s(Buffer.from(`${A}  usr/bin/x\n${B} *./usr/share/y z\n`));
    assert.deepEqual([...(m ?? [])], [
      ['usr/bin/x', A],
      ['usr/share/y z', B],
    ]);
  });

  it('leaves out what it cannot take as written: upper case, escaped names, unsafe paths, a path named twice', () => {
    const text = [`${A.toUpperCase()}  usr/upper`, `\\${A}  usr/escaped\\nname`, `${A}  ../out`, `${A}  /abs`, `${A}  usr/twice`, `${B}  usr/twice`, 'junk', `${B}  usr/ok`].join('\n');
    assert.deepEqual([...(shippedMd5s(Buffer.from(text)) ?? [])], [['usr/ok', B]]);
  });

  it('is not read without md5sums or past its size limit (the MD5s are computed then)', () => {
    assert.equal(shippedMd5s(undefined), undefined);
    const line = `${A}  usr/share/doc/some-package/a-file-name\n`;
    assert.equal(shippedMd5s(Buffer.from(line.repeat(Math.ceil((MAX_SHIPPED_MD5SUMS + 1) / line.length)))), undefined);
  });
});
