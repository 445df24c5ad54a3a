import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OvermergeError } from '../../src/errors';
import {
  formatRelations,
  groupSatisfiedBy,
  parseOp,
  parseRelations,
  relationMatches,
  satisfies,
  type Relation,
} from '../../src/control/relations';
import { parseVersion } from '../../src/control/version';

function badControl(fragment: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof OvermergeError, String(e));
    assert.equal(e.code, 'E_BAD_CONTROL');
    assert.ok(e.message.includes(fragment), `"${e.message}" should mention "${fragment}"`);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  };
}

describe('parseOp and satisfies', () => {
  it('reads the obsolete < and > as <= and >=', () => {
    assert.equal(parseOp('<'), '<=');
    assert.equal(parseOp('>'), '>=');
    assert.equal(parseOp('<<'), '<<');
    assert.equal(parseOp('=='), undefined);
    assert.equal(parseOp('lt'), undefined);
  });

  it('applies each operator', () => {
    const table: Array<[string, '<<' | '<=' | '=' | '>=' | '>>', string, boolean]> = [
      ['1.0', '<<', '1.1', true],
      ['1.1', '<<', '1.1', false],
      ['1.1', '<=', '1.1', true],
      ['1.1-0', '=', '1.1', true],
      ['1.1~', '=', '1.1', false],
      ['1:0', '>=', '9', true],
      ['1.0', '>>', '1.0~rc1', true],
      ['1.0', '>>', '1.0', false],
    ];
    for (const [v, op, ref, want] of table) assert.equal(satisfies(v, op, ref), want, `${v} ${op} ${ref}`);
    assert.equal(satisfies(parseVersion('2'), '>>', parseVersion('1')), true);
  });
});

describe('parseRelations', () => {
  it('reads groups, alternatives, constraints and qualifiers', () => {
    const groups = parseRelations('Depends', 'libc6 (>= 2.3), foo | bar (<< 3:1.0~), baz:any, qux:amd64 (= 1)');
    const v = (epoch: number, upstream: string) => ({ epoch, upstream, revision: '' });
    assert.deepEqual(groups, [
      [{ name: 'libc6', constraint: { op: '>=', version: v(0, '2.3') } }],
      [{ name: 'foo' }, { name: 'bar', constraint: { op: '<<', version: v(3, '1.0~') } }],
      [{ name: 'baz', archQualifier: 'any' }],
      [{ name: 'qux', archQualifier: 'amd64', constraint: { op: '=', version: v(0, '1') } }],
    ]);
  });

  it('accepts what dpkg accepts in spacing and continuation lines', () => {
    const want = formatRelations(parseRelations('Depends', 'foo (>= 1), bar'));
    const spellings = ['foo(>=1),bar', 'foo ( >= 1 ) ,bar', 'foo\n (>= 1),\n bar', 'foo\t(>=\t1),\tbar'];
    spellings.push('  foo (>=1 ), bar  ');
    for (const text of spellings) {
      assert.equal(formatRelations(parseRelations('Depends', text)), want, JSON.stringify(text));
    }
  });

  it('reads (1.0) as an exact match and the obsolete operators as or-equal', () => {
    assert.equal(parseRelations('Depends', 'foo (1.0)')[0][0].constraint?.op, '=');
    assert.equal(parseRelations('Depends', 'foo (< 1)')[0][0].constraint?.op, '<=');
    assert.equal(parseRelations('Depends', 'foo (> 1)')[0][0].constraint?.op, '>=');
  });

  it('folds names to lower case and keeps qualifiers as written', () => {
    assert.deepEqual(parseRelations('Depends', 'Foo.Bar, foo_bar, f:native, g:all'), [
      [{ name: 'foo.bar' }],
      [{ name: 'foo_bar' }],
      [{ name: 'f', archQualifier: 'native' }],
      [{ name: 'g', archQualifier: 'all' }],
    ]);
  });

  it('treats an empty value as no relations', () => {
    assert.deepEqual(parseRelations('Depends', ''), []);
    assert.deepEqual(parseRelations('Depends', ' \n '), []);
  });

  it('parses and keeps arch and profile restrictions', () => {
    const [[rel]] = parseRelations('Build-Depends', 'foo:native (>= 1) [amd64 i386] <!nocheck> <stage1 cross>');
    assert.deepEqual(rel, {
      name: 'foo',
      archQualifier: 'native',
      constraint: { op: '>=', version: { epoch: 0, upstream: '1', revision: '' } },
      archs: [
        { arch: 'amd64', negated: false },
        { arch: 'i386', negated: false },
      ],
      profiles: [
        [{ profile: 'nocheck', negated: true }],
        [
          { profile: 'stage1', negated: false },
          { profile: 'cross', negated: false },
        ],
      ],
    });
    assert.equal(formatRelations([[rel]]), 'foo:native (>= 1) [amd64 i386] <!nocheck> <stage1 cross>');
    assert.deepEqual(parseRelations('Build-Depends', 'bar [!hurd-i386 !kfreebsd-any]')[0][0].archs, [
      { arch: 'hurd-i386', negated: true },
      { arch: 'kfreebsd-any', negated: true },
    ]);
  });

  it('refuses restrictions where dpkg does (binary package fields)', () => {
    const opts = { allowRestrictions: false };
    assert.throws(
      () => parseRelations('Depends', 'foo [amd64]', opts),
      badControl("syntax error after reference to package 'foo'"),
    );
    assert.throws(() => parseRelations('Depends', 'foo <!nocheck>', opts), badControl('syntax error'));
  });

  it('round-trips through formatRelations', () => {
    const text = 'a (>= 1:2.0-1), b | c:any (<< 3~), d:amd64, e (= 1.0)';
    assert.equal(formatRelations(parseRelations('Depends', text)), text);
  });

  // Each of these is refused by dpkg when it installs an archive (checked with dpkg 1.21.22).
  const refused: Array<[string, string, string]> = [
    ['Depends', 'foo, , bar', 'missing package name'],
    ['Depends', 'foo,', 'missing package name'],
    ['Depends', 'foo | | bar', 'missing package name'],
    ['Depends', 'foo (>= 1),', 'missing package name'],
    ['Depends', 'foo bar', "syntax error after reference to package 'foo'"],
    ['Depends', 'foo : any', 'syntax error'],
    ['Depends', 'foo (>= 1):any', 'syntax error'],
    ['Depends', 'foo (>= 1) (<< 2)', 'syntax error'],
    ['Depends', 'foo (>= )', "version '': version string is empty"],
    ['Depends', 'foo ()', 'version string is empty'],
    ['Depends', 'foo (=> 1)', "version contains '1' instead of ')'"],
    ['Depends', 'foo (>= 1 2)', "version contains '2' instead of ')'"],
    ['Depends', 'foo (>= 1', 'version unterminated'],
    ['Depends', 'foo (>= a1)', 'version number does not start with digit'],
    ['Depends', 'foo (>= 1.0-)', 'revision number is empty'],
    ['Depends', 'foo/bar', "invalid package name 'foo/bar'"],
    ['Depends', '+foo', 'must start with an alphanumeric character'],
    ['Depends', 'foo:', 'missing architecture name'],
    ['Depends', 'foo:x_y', "invalid architecture name 'x_y'"],
    ['Depends', 'foo:amd64:i386', "invalid architecture name 'amd64:i386'"],
    ['Conflicts', 'foo | bar', "alternatives ('|') not allowed in 'Conflicts' field"],
    ['Breaks', 'foo | bar', 'alternatives'],
    ['Replaces', 'foo | bar', 'alternatives'],
    ['Provides', 'foo | bar', 'alternatives'],
    ['Build-Depends', 'foo [amd64 !i386]', 'mixes negated'],
    ['Build-Depends', 'foo [amd64', 'unterminated'],
    ['Build-Depends', 'foo []', 'empty architecture restriction'],
  ];
  for (const [field, value, fragment] of refused) {
    it(`refuses ${field}: ${value}`, () => {
      assert.throws(() => parseRelations(field, value), badControl(fragment));
      assert.throws(() => parseRelations(field, value), badControl(`invalid ${field} field`));
    });
  }

  it('accepts what dpkg only warns about, and alternatives in the fields that allow them', () => {
    assert.doesNotThrow(() => parseRelations('Provides', 'foo (>= 1)'));
    assert.doesNotThrow(() => parseRelations('Suggests', 'foo | bar (>= 1)'));
    assert.doesNotThrow(() => parseRelations('Enhances', 'foo | bar'));
    assert.doesNotThrow(() => parseRelations('Pre-Depends', 'foo:native (>= 1) | bar'));
    assert.doesNotThrow(() => parseRelations('Depends', 'foo (>= a1)', { laxVersions: true }));
  });

  it('quotes only the offending group, on one line, in an error', () => {
    const long = Array.from({ length: 500 }, (_, i) => `pkg${i}`).join(', ');
    assert.throws(
      () => parseRelations('Depends', `${long}, bad/name (>= 1),\n more`),
      (e: unknown) => e instanceof OvermergeError && e.message.startsWith('invalid Depends field "bad/name (>= 1)"'),
    );
  });
});

describe('relationMatches', () => {
  const [[depOnFoo]] = parseRelations('Depends', 'foo (>= 1.2)');
  const foo12 = { name: 'foo', version: '1.2-1', architecture: 'amd64' };

  it('matches by name and version', () => {
    assert.equal(relationMatches(depOnFoo, foo12), true);
    assert.equal(relationMatches(depOnFoo, { ...foo12, version: '1.2~rc1' }), false);
    assert.equal(relationMatches(depOnFoo, { ...foo12, name: 'bar' }), false);
    assert.equal(relationMatches(parseRelations('Depends', 'foo')[0][0], { ...foo12, version: '0' }), true);
  });

  it('matches through Provides: unversioned always, versioned only by an exact provided version', () => {
    const provides = (text: string): Relation[] => parseRelations('Provides', text).map((g) => g[0]);
    const bar = { name: 'bar', version: '9', architecture: 'amd64' };
    assert.equal(relationMatches(parseRelations('Depends', 'foo')[0][0], { ...bar, provides: provides('foo') }), true);
    assert.equal(relationMatches(depOnFoo, { ...bar, provides: provides('foo') }), false);
    assert.equal(relationMatches(depOnFoo, { ...bar, provides: provides('foo (= 1.3)') }), true);
    assert.equal(relationMatches(depOnFoo, { ...bar, provides: provides('foo (= 1.1)') }), false);
    assert.equal(relationMatches(depOnFoo, { ...bar, provides: provides('foo (>= 2)') }), false);
  });

  it('checks architecture qualifiers', () => {
    const rel = (text: string): Relation => parseRelations('Depends', text)[0][0];
    const native = { nativeArch: 'amd64' };
    assert.equal(relationMatches(rel('foo:any'), { ...foo12, architecture: 'i386' }, native), true);
    assert.equal(relationMatches(rel('foo:native'), { ...foo12, architecture: 'i386' }, native), false);
    assert.equal(relationMatches(rel('foo:native'), foo12, native), true);
    assert.equal(relationMatches(rel('foo:native'), { ...foo12, architecture: 'all' }, native), true);
    assert.equal(relationMatches(rel('foo:i386'), foo12, native), false);
    assert.equal(relationMatches(rel('foo:i386'), { ...foo12, architecture: 'i386' }, native), true);
    assert.equal(relationMatches(rel('foo:amd64'), { ...foo12, architecture: 'all' }, native), true);
    assert.equal(relationMatches(rel('foo'), { ...foo12, architecture: 'i386' }, native), true);
  });

  it('tells whether a group is satisfied by any alternative', () => {
    const [group] = parseRelations('Depends', 'foo (>= 2) | bar');
    assert.equal(groupSatisfiedBy(group, [foo12]), false);
    assert.equal(groupSatisfiedBy(group, [foo12, { name: 'bar', version: '1', architecture: 'all' }]), true);
  });
});
