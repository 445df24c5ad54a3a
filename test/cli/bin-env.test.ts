import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeDpkgRoot } from '../dpkg/dpkg-root';
import { BIN } from '../helpers/run-cli';
import { OM_DPKG } from './dpkg-cli';

/**
 * The executables run as programs (as apt runs its dpkg) start Node without NODE_EXTRA_CA_CERTS, which
 * would make Node read a certificate bundle before anything else, and give it back to what they run:
 * a missing bundle, which Node warns about at start-up, brings no warning, and a hook sees the variable
 * as it was given (or unset as it was).
 */
describe('bin/ start-up environment', () => {
  let work: string;
  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-binenv-'));
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  const bundle = '/nonexistent/overmerge-test-bundle.pem';

  function hookSees(env: NodeJS.ProcessEnv, name: string): { stderr: string; seen: string } {
    const r = makeDpkgRoot(path.join(work, name));
    const out = path.join(work, `${name}.env`);
    const res = spawnSync(
      OM_DPKG,
      [`--root=${r.root}`, `--pre-invoke=printf %s "\${NODE_EXTRA_CA_CERTS-unset}" > ${out}`, '--add-architecture', 'i386'],
      { encoding: 'utf8', env },
    );
    assert.equal(res.status, 0, res.stderr);
    return { stderr: res.stderr, seen: fs.readFileSync(out, 'utf8') };
  }

  it('overmerge-dpkg: Node reads no bundle; the hook gets the variable back', () => {
    const { stderr, seen } = hookSees({ ...process.env, LC_ALL: 'C', NODE_EXTRA_CA_CERTS: bundle }, 'set');
    assert.doesNotMatch(stderr, /extra certs/);
    assert.equal(seen, bundle);
  });

  it('overmerge-dpkg: an unset variable stays unset', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
    delete env.NODE_EXTRA_CA_CERTS;
    assert.equal(hookSees(env, 'unset').seen, 'unset');
  });

  it('overmerge: Node reads no bundle', () => {
    const res = spawnSync(BIN, ['--version'], { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: bundle } });
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stderr, '');
    assert.match(res.stdout, /^\d+\.\d+\.\d+/);
  });
});
