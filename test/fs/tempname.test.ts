import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { assertHostPath, isNormalAbsolute } from '../../src/fs/tempname';

/**
 * The check every journaled step's host paths pass: an absolute path as path.normalize leaves it, other
 * than `/`, without a trailing slash. The regular expression must agree with that definition everywhere.
 */
describe('isNormalAbsolute', () => {
  const definition = (p: string): boolean => path.isAbsolute(p) && path.normalize(p) === p && p !== '/' && !p.endsWith('/');

  it('agrees with path.normalize on paths made of every kind of segment', () => {
    const segments = ['', '.', '..', '...', '.a', 'a.', '..a', 'a..b', 'usr', 'é', ' ', 'a b', '.dpkg-new'];
    const seen = new Set<string>();
    for (const a of segments)
      for (const b of segments)
        for (const c of segments) {
          for (const p of [`/${a}/${b}/${c}`, `/${a}/${b}`, `/${a}`, `${a}/${b}`, `/${a}/${b}/${c}/`, `//${a}`]) {
            if (seen.has(p)) continue;
            seen.add(p);
            assert.equal(isNormalAbsolute(p), definition(p), JSON.stringify(p));
          }
        }
    assert.ok(seen.size > 4000, `${seen.size} paths`);
  });

  it('refuses in one line naming the path and the operation', () => {
    assert.doesNotThrow(() => assertHostPath('/var/lib/x', 'place'));
    for (const p of ['/', 'rel/x', '/a//b', '/a/./b', '/a/../b', '/a/', '/a/.', '/a/..', '']) {
      assert.throws(
        () => assertHostPath(p, 'place'),
        (err: Error & { code?: string }) => err.code === 'E_INTERNAL' && err.message === `cannot place ${JSON.stringify(p)}: not an absolute normalised path`,
        p,
      );
    }
  });
});
