import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { DPKG_OPTIONS } from '../../src/cli/dpkg/dpkg-table';
import { FORCES } from '../../src/cli/dpkg/force';
import { gate } from '../helpers/gate';
import { REPO_ROOT } from '../helpers/run-cli';

/**
 * man/overmerge-dpkg.1 says what overmerge-dpkg does with every action, option and force of dpkg 1.21,
 * and the package ships the binary and the page.
 */
const MAN = path.join(REPO_ROOT, 'man', 'overmerge-dpkg.1');

/** The page as a reader sees it: roff's `\-` is a hyphen, font escapes are gone. */
function manText(): string {
  return readFileSync(MAN, 'utf8')
    .replace(/\\-/g, '-')
    .replace(/\\f[BIRP]/g, '')
    .replace(/\\&/g, '');
}

test('man page: groff -man -ww -z prints nothing', (t) => {
  if (gate(t, { tools: ['groff'] })) return;
  const r = spawnSync('groff', ['-man', '-ww', '-z', MAN], { encoding: 'utf8' });
  assert.equal(`${r.stdout}${r.stderr}`, '', 'groff warnings on man/overmerge-dpkg.1');
});

test('every action and option of dpkg’s table is in the man page', () => {
  const man = manText();
  for (const spec of DPKG_OPTIONS) {
    if (spec.long === 'force' || spec.long === 'refuse' || spec.long === 'no-force') continue;
    const shown = spec.long === undefined ? `-${spec.short}` : spec.takes === 2 ? `--${spec.long}-` : `--${spec.long}`;
    assert.ok(new RegExp(`${shown.replace(/[?]/g, '\\?')}(?![a-z-])|${shown}`).test(man), `man/overmerge-dpkg.1 does not mention ${shown}`);
    if (spec.short !== undefined) assert.ok(man.includes(`-${spec.short}`), `man/overmerge-dpkg.1 does not mention -${spec.short}`);
  }
});

test('every force is in the man page under what overmerge does with it', () => {
  const man = manText();
  const section = man.slice(man.indexOf('.SH FORCING OPTIONS'), man.indexOf('.SH STATUS OUTPUT'));
  for (const kind of ['mapped', 'no-op', 'refused'] as const) {
    const start = section.indexOf(`.B ${kind}\n`);
    assert.ok(start >= 0, `no "${kind}" paragraph`);
    const end = section.indexOf('.TP', start + 3);
    const paragraph = section.slice(start, end < 0 ? undefined : end);
    for (const f of FORCES.filter((x) => x.overmerge.kind === kind)) assert.match(paragraph, new RegExp(`\\b${f.name}\\b`), `${f.name} is not listed as ${kind}`);
  }
});

test('the package ships bin/overmerge-dpkg and its man page; the README says what works', () => {
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] };
  assert.equal(pkg.bin['overmerge-dpkg'], 'bin/overmerge-dpkg');
  assert.ok(pkg.files.includes('man') && pkg.files.includes('bin'));
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  assert.match(readme, /^## overmerge-dpkg$/m);
  assert.match(readme, /man -l man\/overmerge-dpkg\.1/);
});
