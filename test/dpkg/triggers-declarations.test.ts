import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OvermergeError } from '../../src/errors';
import { formatTriggersControl, parseTriggersControl, triggerKind, triggerNameProblem } from '../../src/dpkg/triggers';
import { withTempDir } from '../helpers/temp';
import { gate } from '../helpers/gate';
import { buildTriggerDeb, cannotRunDpkgTriggers, DpkgRoot } from '../helpers/trigger-fixtures';

describe('trigger names', () => {
  it('kinds, as trig_classify_byname', () => {
    const table: Array<[string, string]> = [
      ['/usr/share/foo', 'file'],
      ['/a', 'file'],
      ['/a/./b/../c', 'file'],
      ['/', 'unknown'],
      ['/a/', 'unknown'],
      ['/a//b', 'unknown'],
      ['//a', 'unknown'],
      ['mytrig', 'explicit'],
      ['My.Trig+1-x', 'explicit'],
      ['9lives', 'explicit'],
      ['foo_bar', 'unknown'],
      ['-foo', 'unknown'],
      ['.foo', 'unknown'],
      ['foo:bar', 'unknown'],
      ['a/b', 'unknown'],
    ];
    for (const [name, kind] of table) assert.equal(triggerKind(name), kind, name);
  });

  it('validity, as trig_name_is_illegal: printable 7-bit ASCII, no blanks', () => {
    assert.equal(triggerNameProblem(''), 'empty trigger names are not permitted');
    for (const bad of ['a b', 'a\tb', 'a\r', 'caf\u00e9', 'x\x7f']) assert.equal(triggerNameProblem(bad), 'trigger name contains invalid character', bad);
    for (const good of ['foo_bar', '/a//b', '!"#$%', '~']) assert.equal(triggerNameProblem(good), undefined, good);
  });
});

describe('parseTriggersControl', () => {
  it('reads the six directives, comments and blank lines', () => {
    const d = parseTriggersControl(
      [
        '# a comment',
        '',
        '   \t',
        'interest /usr/share/foo',
        '  interest-await   bar  \t',
        'interest-noawait baz',
        '\t# another',
        'activate t1',
        'activate-await t2',
        'activate-noawait /usr/lib/t3',
        'activate odd_name',
        '',
      ].join('\n'),
    );
    assert.deepEqual(d.interests, [
      { trigger: '/usr/share/foo', noawait: false },
      { trigger: 'bar', noawait: false },
      { trigger: 'baz', noawait: true },
    ]);
    assert.deepEqual(d.activates, [
      { trigger: 't1', noawait: false },
      { trigger: 't2', noawait: false },
      { trigger: '/usr/lib/t3', noawait: true },
      { trigger: 'odd_name', noawait: false },
    ]);
    assert.deepEqual(parseTriggersControl(formatTriggersControl(d)), d);
    assert.deepEqual(parseTriggersControl(''), { interests: [], activates: [] });
  });

  it('refuses with one line naming the file, the line and the reason', () => {
    const cases: Array<[string, RegExp]> = [
      ['interest foo # c\n', /^t:1: illegal trigger syntax in trigger name 'foo # c': trigger name contains invalid character$/],
      ['interest foo', /^t:1: too-long line or missing newline$/],
      ['interest foo\r\n', /^t:1: illegal trigger syntax in trigger name 'foo\\x0d': trigger name contains invalid character$/],
      ['\ninterest\n', /^t:2: triggers ci file contains unknown directive syntax$/],
      ['interst foo\n', /^t:1: triggers ci file contains unknown directive 'interst'$/],
      ['interest foo_bar\n', /^t: invalid or unknown syntax in trigger name 'foo_bar' \(in trigger interests for package 'p'\)$/],
      ['interest /a/\nbogus x\n', /^t:2: triggers ci file contains unknown directive 'bogus'$/],
      [`interest ${'a'.repeat(246)}\n`, /^t:1: too-long line or missing newline$/],
      ['interest a\0b\n', /^t:1: too-long line or missing newline$/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parseTriggersControl(text, { source: 't', package: 'p' }),
        (err: unknown) => err instanceof OvermergeError && err.code === 'E_BAD_CONTROL' && message.test(err.message) && !err.message.includes('\n'),
        JSON.stringify(text),
      );
    }
    assert.equal(parseTriggersControl(`interest ${'a'.repeat(245)}\n`).interests.length, 1);
    assert.equal(parseTriggersControl('activate foo_bar\n').activates.length, 1, 'an unknown kind may be activated');
  });

  it('refuses exactly what dpkg refuses (dpkg -i of a package with that triggers file)', async (t) => {
    const why = await cannotRunDpkgTriggers();
    if (why !== undefined && gate(t, { skip: why })) return;
    const texts = [
      'interest foo # c\n',
      'interest foo',
      `interest ${'a'.repeat(246)}\n`,
      `interest ${'a'.repeat(245)}\n`,
      'interest foo_bar\n',
      'activate foo_bar\n',
      'interest\n',
      'interst foo\n',
      '  # comment\n\n\t interest-noawait   /a/b \t\n',
      'interest /a/\n',
      'interest Foo\n',
      'interest foo\r\n',
      'activate-noawait /x//y\n',
      '#only a comment\n',
    ];
    await withTempDir('triggers-decl', async (dir) => {
      const root = await DpkgRoot.create(dir);
      for (const [i, text] of texts.entries()) {
        const deb = await buildTriggerDeb(dir, { name: `p${i}`, triggers: text });
        const dpkg = await root.dpkg(['--install', deb]);
        let ours: string | undefined;
        try {
          parseTriggersControl(text, { package: `p${i}` });
        } catch (err) {
          ours = (err as Error).message;
        }
        assert.equal(dpkg.status !== 0, ours !== undefined, `${JSON.stringify(text)}: dpkg ${dpkg.status === 0 ? 'accepts' : `refuses: ${dpkg.stderr}`}, we ${ours ?? 'accept'}`);
        if (ours !== undefined) {
          // The reason after our "FILE:LINE: " prefix is dpkg's own words (its message names the file differently).
          const reason = ours.replace(/^triggers(:\d+)?: /, '').replace(/^triggers ci file contains /, '').replace(/\\x0d/, '\r');
          assert.ok(dpkg.stderr.includes(reason), `dpkg said:\n${dpkg.stderr}\nwe said: ${ours}`);
        }
      }
    });
  });
});
