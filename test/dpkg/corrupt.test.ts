import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DpkgDb } from '../../src/dpkg/dpkg-db';
import { OvermergeError } from '../../src/errors';
import { cannotRunDpkg, NATIVE, snapshotTree } from './dpkg-root';
import { buildScenario, type Scenario } from './scenario';

/**
 * A status, diversions or statoverride file that dpkg cannot read is refused with one line naming the
 * file and line, whether it is found at open or at a later refresh, and nothing is written: not the file,
 * not status, not an update entry. Real dpkg refuses each of these too.
 */
const skip = cannotRunDpkg();

interface Case {
  readonly file: string;
  readonly what: string;
  /** Text written over the file. */
  readonly text: (original: string) => string;
  readonly line: number;
  readonly problem: RegExp;
  /** The dpkg tool that must refuse it as well. */
  readonly dpkg: string[];
}

const CASES: Case[] = [
  {
    file: 'status',
    what: 'a Status with a word dpkg does not know',
    text: (t) => t.replace('Status: install ok installed', 'Status: install ok instaled'),
    line: 0,
    problem: /third \(status\) word in 'Status' field: has invalid value 'instaled'/,
    dpkg: ['dpkg-query', '-W'],
  },
  {
    file: 'status',
    what: 'a stanza cut short (missing final newline)',
    text: (t) => t.replace(/\n+$/, ''),
    line: 0,
    problem: /missing final newline/,
    dpkg: ['dpkg-query', '-W'],
  },
  {
    file: 'diversions',
    what: 'a diversion cut short',
    text: (t) => t.split('\n').slice(0, 5).join('\n') + '\n',
    line: 6,
    problem: /unexpected end of file reading/,
    dpkg: ['dpkg-divert', '--list'],
  },
  {
    file: 'diversions',
    what: 'two diversions of one file',
    text: (t) => t + t.split('\n').slice(0, 1).join('\n') + '\n/elsewhere\n:\n',
    line: 7,
    problem: /conflicting diversions involving/,
    dpkg: ['dpkg-divert', '--list'],
  },
  {
    file: 'statoverride',
    what: 'a mode that is not octal',
    text: (t) => t.replace(' 600 ', ' 6a0 '),
    line: 1,
    problem: /invalid statoverride mode 6a0/,
    dpkg: ['dpkg-statoverride', '--list'],
  },
  {
    file: 'statoverride',
    what: 'a line without path',
    text: (t) => `${t}root root\n`,
    line: 2,
    problem: /syntax error in statoverride file/,
    dpkg: ['dpkg-statoverride', '--list'],
  },
];

describe('an unreadable dpkg database is refused, and never written over', { skip }, () => {
  let work: string;
  let s: Scenario;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-dpkgbad-'));
    s = await buildScenario(work);
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  for (const c of CASES) {
    it(`${c.file}: ${c.what}`, () => {
      const root = path.join(work, `${c.file}-${c.what.replace(/\W+/g, '-')}`);
      fs.cpSync(s.root, root, { recursive: true });
      const admin = path.join(root, 'var/lib/dpkg');
      const db = DpkgDb.open(admin, { nativeArch: NATIVE });
      const file = path.join(admin, c.file);
      fs.writeFileSync(file, c.text(fs.readFileSync(file, 'utf8')));
      const tree = snapshotTree(admin);

      const refused = (err: unknown): boolean => {
        assert.ok(err instanceof OvermergeError, String(err));
        assert.equal(err.code, 'E_DPKG_DB');
        assert.ok(!err.message.includes('\n'), `not one line: ${err.message}`);
        const where = c.line > 0 ? `${file}:${c.line}: ` : `${file}:`;
        assert.ok(err.message.startsWith(where), `${err.message} does not start with ${where}`);
        assert.match(err.message, c.problem);
        return true;
      };
      assert.throws(() => DpkgDb.open(admin, { nativeArch: NATIVE }), refused, 'open');
      assert.throws(() => db.refresh(), refused, 'refresh');
      assert.throws(() => db.checkpoint(), refused, 'checkpoint');
      assert.throws(() => db.setStatus({ name: 'beta' }, { want: 'hold', flag: 'ok', state: 'installed' }), refused, 'setStatus');
      assert.throws(() => db.planDiversions([]), refused, 'planDiversions');
      assert.deepEqual(snapshotTree(admin), tree, 'something was written');

      const [cmd, ...args] = c.dpkg;
      const theirs = spawnSync(cmd, [`--admindir=${admin}`, ...args], { encoding: 'utf8' });
      assert.notEqual(theirs.status, 0, `${cmd} accepts it:\n${theirs.stdout}`);
    });
  }
});
