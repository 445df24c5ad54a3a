import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { optimizeOnlyHotCode } from '../../src/bootstrap/tier-up';

test('the larger interrupt budget is set only under the V8 it was measured on (11)', () => {
  assert.equal(optimizeOnlyHotCode('10.2.154.26-node.26'), false);
  assert.equal(optimizeOnlyHotCode('12.4.254.21-node.33'), false);
  assert.equal(optimizeOnlyHotCode('11.3.244.8-node.33'), true);
});

test('a process that sets it keeps running JavaScript (the flag is accepted at run time)', () => {
  const mod = path.join(__dirname, '..', '..', 'src', 'bootstrap', 'tier-up.js');
  const out = execFileSync(process.execPath, ['-e', `require(${JSON.stringify(mod)}).optimizeOnlyHotCode(); let s = 0; for (let i = 0; i < 1e6; i++) s += i; console.log(s)`], { encoding: 'utf8' });
  assert.equal(out.trim(), String((1e6 * (1e6 - 1)) / 2));
});
