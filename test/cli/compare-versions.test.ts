import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main';

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with buffers for stdout and stderr. */
async function run(...argv: string[]): Promise<Result> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (b: Buffer) => out.push(b));
  stderr.on('data', (b: Buffer) => err.push(b));
  const status = await main(argv, { stdout, stderr, isTTY: false });
  return { status, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

const cmp = (a: string, op: string, b: string): Promise<Result> => run('compare-versions', a, op, b);

describe('overmerge compare-versions', () => {
  it('exits 0 when the relation holds and 1 when it does not, silently', async () => {
    assert.deepEqual(await cmp('1.0~rc1', 'lt', '1.0'), { status: 0, stdout: '', stderr: '' });
    assert.deepEqual(await cmp('1.0', 'lt', '1.0~rc1'), { status: 1, stdout: '', stderr: '' });
  });

  it('knows every relation dpkg knows', async () => {
    // [relation, result for 1 vs 2, 2 vs 2, 3 vs 2]
    const table: Array<[string, number, number, number]> = [
      ['lt', 0, 1, 1],
      ['le', 0, 0, 1],
      ['eq', 1, 0, 1],
      ['ne', 0, 1, 0],
      ['ge', 1, 0, 0],
      ['gt', 1, 1, 0],
      ['<<', 0, 1, 1],
      ['<=', 0, 0, 1],
      ['=', 1, 0, 1],
      ['>=', 1, 0, 0],
      ['>>', 1, 1, 0],
      ['lt-nl', 0, 1, 1],
      ['le-nl', 0, 0, 1],
      ['ge-nl', 1, 0, 0],
      ['gt-nl', 1, 1, 0],
    ];
    for (const [op, less, same, more] of table) {
      assert.equal((await cmp('1', op, '2')).status, less, `1 ${op} 2`);
      assert.equal((await cmp('2', op, '2')).status, same, `2 ${op} 2`);
      assert.equal((await cmp('3', op, '2')).status, more, `3 ${op} 2`);
    }
  });

  it('reads the obsolete < and > as <= and >=, with a warning', async () => {
    const r = await cmp('1', '<', '1');
    assert.equal(r.status, 0);
    assert.match(r.stderr, /^overmerge: warning: .*obsolete relation operator '<'\n$/);
    assert.equal((await cmp('1', '>', '1')).status, 0);
    assert.equal((await cmp('2', '>', '1')).status, 0);
    assert.equal((await cmp('1', '>', '2')).status, 1);
  });

  it('treats an empty version as earliest, or as latest with the -nl relations', async () => {
    assert.equal((await cmp('', 'lt', '0')).status, 0);
    assert.equal((await cmp('', 'lt', '~')).status, 0);
    assert.equal((await cmp('', 'eq', '0')).status, 1);
    assert.equal((await cmp('', 'eq', '')).status, 0);
    assert.equal((await cmp('', 'lt', '')).status, 1);
    assert.equal((await cmp('', 'lt-nl', '1')).status, 1);
    assert.equal((await cmp('', 'gt-nl', '1')).status, 0);
    assert.equal((await cmp('1', 'gt-nl', '')).status, 1);
    assert.equal((await cmp('', 'ge-nl', '')).status, 0);
    assert.equal((await cmp('<unknown>', 'eq', '')).status, 0);
  });

  it('passes versions through untouched: no numbers, no options', async () => {
    assert.equal((await cmp('1.0', 'lt', '1.00')).status, 1); // 1.0 = 1.00, so not less
    assert.equal((await cmp('1.0', 'eq', '1.00')).status, 0);
    assert.equal((await cmp('1e5', 'gt', '0x10')).status, 0); // "1e5" vs "0x10": 1 > 0
    assert.equal((await cmp('007', 'eq', '7')).status, 0);
    assert.equal((await cmp('1', '<<', '2')).status, 0);
    const dash = await cmp('-1', 'lt', '1');
    assert.equal(dash.status, 2);
    assert.equal(dash.stderr, "overmerge: version '-1' has bad syntax: version number is empty\n");
    const viaDashDash = await run('compare-versions', '--', '-1:1', 'lt', '1');
    assert.equal(viaDashDash.stderr, "overmerge: version '-1:1' has bad syntax: epoch in version is negative\n");
    assert.equal(
      (await cmp('1', 'lt', '--x')).stderr,
      "overmerge: warning: version '--x' has bad syntax: version number does not start with digit\n",
    );
  });

  it('warns about versions dpkg only warns about, and still compares them', async () => {
    const r = await cmp('a', 'lt', '1');
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr,
      "overmerge: warning: version 'a' has bad syntax: version number does not start with digit\n",
    );
  });

  it('exits 2 for versions dpkg refuses, stopping at the first one', async () => {
    const r = await cmp('x:1', 'lt', 'a');
    assert.equal(r.status, 2);
    assert.equal(r.stderr, "overmerge: version 'x:1' has bad syntax: epoch in version is empty\n");
    const second = await cmp('a', 'lt', '1 0');
    assert.equal(second.status, 2);
    assert.equal(
      second.stderr,
      "overmerge: warning: version 'a' has bad syntax: version number does not start with digit\n" +
        "overmerge: version '1 0' has bad syntax: version string has embedded spaces\n",
    );
  });

  it('exits 2 for usage errors: a bad relation or the wrong number of words', async () => {
    for (const op of ['foo', '==', 'LT', 'eq-nl', '!=']) {
      const r = await cmp('1', op, '2');
      assert.equal(r.status, 2, op);
      assert.match(r.stderr, /^overmerge: compare-versions: bad relation '.*' \(use lt le eq ne/);
    }
    // The relation is checked before the versions, as dpkg does.
    assert.equal((await cmp('x:1', 'foo', '1')).stderr.includes('bad relation'), true);
    for (const argv of [['1', 'lt'], ['1', 'lt', '2', '3'], []]) {
      const r = await run('compare-versions', ...argv);
      assert.equal(r.status, 2, argv.join(' '));
      assert.equal(r.stderr, 'overmerge: compare-versions takes three arguments: <version> <relation> <version>\n');
    }
  });

  it('works through bin/overmerge', () => {
    const bin = path.resolve(__dirname, '..', '..', '..', 'bin', 'overmerge');
    const ok = spawnSync(process.execPath, [bin, 'compare-versions', '1:0', 'gt', '9'], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    const bad = spawnSync(process.execPath, [bin, 'compare-versions', '1', 'lt', '1:'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, "overmerge: version '1:' has bad syntax: nothing after colon in version number\n");
  });
});
