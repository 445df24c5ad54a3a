import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkGuarded } from '../../src/engine/guarded';
import type { PathStep as Step } from '../../src/engine/plan-model';
import type { DiskState } from '../../src/model/disk';
import type { RootPath } from '../../src/fs/rootpath';
import type { ManifestEntry } from '../../src/model/entry';

const rp = (p: string) => p as RootPath;
const ROOT_US = { uid: 0, gid: 0 };
const dir = (uid: number, gid: number, mode: number): DiskState => ({ type: 'directory', uid, gid, mode });
const meta = (uid: number, gid: number, mode: number) => ({ uid, gid, mode, mtime: 0 });
const place = (p: string): Step => ({ kind: 'place-file', path: rp(p), aside: 'none', entry: { path: rp(p), type: 'file' } as ManifestEntry });

function disk(entries: Record<string, DiskState>): Map<RootPath, DiskState> {
  return new Map(Object.entries(entries).map(([k, v]) => [rp(k), v]));
}

const SAFE = { '': dir(0, 0, 0o755), usr: dir(0, 0, 0o755), 'usr/lib': dir(0, 0, 0o755) };

describe('checkGuarded: no step under a folder someone else could swap', () => {
  it('accepts folders only root can change, and a step folder open to all (its final component is never followed)', () => {
    checkGuarded([place('usr/lib/x'), place('tmp/x')], disk({ ...SAFE, tmp: dir(0, 0, 0o1777) }), ROOT_US);
  });

  it('refuses a step beneath a folder owned by another user, naming both and who', () => {
    const d = disk({ ...SAFE, usr: dir(1000, 1000, 0o755) });
    assert.throws(() => checkGuarded([place('usr/lib/x')], d, ROOT_US), {
      code: 'E_UNSAFE_PATH',
      message: /^refusing to write '\/usr\/lib\/x': user 1000, its owner, may change folder '\/usr' above it/,
    });
  });

  it('refuses a folder every user or another group may write, the root itself included', () => {
    assert.throws(() => checkGuarded([place('usr/lib/x')], disk({ ...SAFE, '': dir(0, 0, 0o777) }), ROOT_US), /every user may change folder '\/\.'/);
    assert.throws(() => checkGuarded([place('usr/lib/x')], disk({ ...SAFE, usr: dir(0, 50, 0o2775) }), ROOT_US), /group 50 may change folder '\/usr'/);
    // Group root (0) is root's own.
    checkGuarded([place('usr/lib/x')], disk({ ...SAFE, usr: dir(0, 0, 0o775) }), ROOT_US);
  });

  it('judges a folder the plan makes by the owner and mode the package gives it', () => {
    const steps: Step[] = [{ kind: 'mkdir', path: rp('usr/share'), meta: meta(0, 0, 0o777), aside: 'none' }, place('usr/share/d/x')];
    assert.throws(() => checkGuarded(steps, disk(SAFE), ROOT_US), /every user may change folder '\/usr\/share'/);
  });

  it('takes the running user as its own: an unprivileged run on its own tree is fine', () => {
    const mine = disk({ '': dir(1000, 1000, 0o755), usr: dir(1000, 1000, 0o775), 'usr/lib': dir(1000, 1000, 0o755) });
    checkGuarded([place('usr/lib/x')], mine, { uid: 1000, gid: 1000 });
    assert.throws(() => checkGuarded([place('usr/lib/x')], mine, { uid: 1001, gid: 1001 }), /user 1000, its owner,/);
  });

  it('guards removals the same way', () => {
    const steps: Step[] = [{ kind: 'remove', path: rp('usr/lib/x') }];
    assert.throws(() => checkGuarded(steps, disk({ ...SAFE, usr: dir(7, 7, 0o755) }), ROOT_US), { message: /^refusing to remove '\/usr\/lib\/x'/ });
  });
});
