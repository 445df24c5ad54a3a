import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OvermergeError } from '../../src/errors';
import { checkVersion, compareVersions, formatVersion, isValidVersion, parseVersion } from '../../src/control/version';

// Every expectation below was checked against `dpkg --compare-versions` (dpkg 1.21.22).
const ORDERED: Array<[string, '<' | '=' | '>', string]> = [
  ['1.0~rc1', '<', '1.0'],
  ['1.0~~', '<', '1.0~'],
  ['1.0~', '<', '1.0'],
  ['1.0~~a', '>', '1.0~~'],
  ['1.0', '<', '1.0a~'],
  ['1.0', '<', '1.0a'],
  ['1.0a', '<', '1.0+'],
  ['1.0', '<', '1.0.'],
  ['1.0', '<', '1.0+b1'],
  ['1.0+b1', '<', '1.0.1'],
  ['1:0', '>', '9'],
  ['1:1', '>', '999999999999999999999999999999999'],
  ['0:1.0', '=', '1.0'],
  ['00:1', '=', '1'],
  ['1.0-0', '=', '1.0'],
  ['1.0-0', '=', '1.0-00'],
  ['0:1-0', '=', '1'],
  ['1.0-1', '>', '1.0-1~'],
  ['1.0-1', '<', '1.0.1'],
  ['1.00', '=', '1.0'],
  ['01', '=', '1'],
  ['1.001', '=', '1.1'],
  ['1-01', '=', '1-1'],
  ['1.0-1.2', '<', '1.0-1.10'],
  ['1.-1', '>', '1.'],
  ['2.6.32', '>', '2.6.4'],
  ['7.4.052-1ubuntu3', '<', '7.4.052-1ubuntu3.1'],
  ['1.18446744073709551616', '>', '1.18446744073709551615'],
  ['999999999999999999999999999999999999999999999999', '>', '999999999999999999999999999999999999999999999998'],
  ['000000000000000000000000000000000000000000000001', '=', '1'],
  ['1:2:3', '=', '1:2:3'],
  ['1--1', '=', '1--1'],
  ['2147483647:1', '>', '2147483646:99'],
  // Warning-level versions still compare: letters sort by ASCII, upper before lower.
  ['A', '<', 'a'],
  ['a', '>', '2'],
];

describe('compareVersions', () => {
  for (const [a, rel, b] of ORDERED) {
    it(`${a} ${rel} ${b}`, () => {
      const want = rel === '<' ? -1 : rel === '=' ? 0 : 1;
      assert.equal(compareVersions(a, b), want);
      assert.equal(compareVersions(b, a), want === 0 ? 0 : -want);
    });
  }

  it('accepts parsed versions and returns only -1, 0 or 1', () => {
    assert.equal(compareVersions(parseVersion('1.0'), parseVersion('1.10')), -1);
    assert.equal(compareVersions('1.a', '1.z'), -1);
  });

  it('orders ~ before the end, the end before letters, letters before other characters', () => {
    const sorted = ['1~~', '1~', '1', '1A', '1Z', '1a', '1z', '1+', '1.'];
    const shuffled = [...sorted].reverse();
    assert.deepEqual(shuffled.sort(compareVersions), sorted);
  });

  it('compares bytes >= 0x80 between letters and ASCII punctuation, as dpkg on amd64', () => {
    assert.equal(compareVersions('1.é', '1.z'), 1);
    assert.equal(compareVersions('1.é', '1.+'), -1);
  });

  it('refuses error-level versions', () => {
    assert.throws(
      () => compareVersions('x:1', '1'),
      (e: unknown) => e instanceof OvermergeError && e.code === 'E_BAD_VERSION',
    );
  });
});

describe('checkVersion', () => {
  const cases: Array<[string, 'ok' | 'warning' | 'error', string?]> = [
    ['1.0', 'ok'],
    ['1:1.0-1', 'ok'],
    ['1.0-1-2', 'ok'],
    ['1.0+dfsg~rc1-0ubuntu1.2~', 'ok'],
    [' 1.0 ', 'ok'],
    ['\t1.0', 'ok'],
    ['+1:2', 'ok'], // strtol accepts a sign
    ['\n1:1', 'ok'], // and leading white space of any kind in the epoch
    ['2147483647:1', 'ok'],
    ['', 'error', 'version string is empty'],
    ['   ', 'error', 'version string is empty'],
    ['1 0', 'error', 'version string has embedded spaces'],
    ['1 :1', 'error', 'version string has embedded spaces'],
    ['x:1', 'error', 'epoch in version is empty'],
    [':1', 'error', 'epoch in version is empty'],
    ['1a:1', 'error', 'epoch in version is not number'],
    ['1.0:1', 'error', 'epoch in version is not number'],
    ['-1:1', 'error', 'epoch in version is negative'],
    ['2147483648:1', 'error', 'epoch in version is too big'],
    ['99999999999:1', 'error', 'epoch in version is too big'],
    ['1:', 'error', 'nothing after colon in version number'],
    ['1.0-', 'error', 'revision number is empty'],
    ['1:1-', 'error', 'revision number is empty'],
    ['-1', 'error', 'version number is empty'],
    ['1:-1', 'error', 'version number is empty'],
    ['a1.0', 'warning', 'version number does not start with digit'],
    ['1:a', 'warning', 'version number does not start with digit'],
    ['~1', 'warning', 'version number does not start with digit'],
    ['1.0_1', 'warning', 'invalid character in version number'],
    ['1.0\n', 'warning', 'invalid character in version number'],
    ['1.é', 'warning', 'invalid character in version number'],
    ['1.0-1_1', 'warning', 'invalid character in revision number'],
    ['1:1.0-1:1', 'warning', 'invalid character in revision number'],
    ['1.0-1$', 'warning', 'invalid character in revision number'],
  ];
  for (const [text, severity, reason] of cases) {
    it(`${JSON.stringify(text)} is ${severity}`, () => {
      const { version, problem } = checkVersion(text);
      if (severity === 'ok') {
        assert.equal(problem, undefined);
        assert.ok(version);
        assert.equal(isValidVersion(text), true);
      } else {
        assert.equal(problem?.severity, severity);
        assert.equal(problem?.reason, reason);
        assert.equal(version !== undefined, severity === 'warning');
        assert.equal(isValidVersion(text), false);
      }
    });
  }
});

describe('parseVersion', () => {
  it('splits at the first colon and the last hyphen', () => {
    assert.deepEqual(parseVersion('1:2.0-3-4'), { epoch: 1, upstream: '2.0-3', revision: '4' });
    assert.deepEqual(parseVersion('1:2:3'), { epoch: 1, upstream: '2:3', revision: '' });
    assert.deepEqual(parseVersion('2.0'), { epoch: 0, upstream: '2.0', revision: '' });
    assert.deepEqual(parseVersion(' 0:2.0-1 '), { epoch: 0, upstream: '2.0', revision: '1' });
  });

  it('refuses warnings too, as dpkg does for an archive it installs', () => {
    for (const bad of ['a1.0', '1.0_1', '', 'x:1']) {
      assert.throws(
        () => parseVersion(bad),
        (e: unknown) => e instanceof OvermergeError && e.code === 'E_BAD_VERSION' && e.message.includes(`'${bad}'`),
      );
    }
  });
});

describe('version errors', () => {
  it('version: a version holding a newline is refused on one line, the newline shown escaped', () => {
    // Found by the fuzzer: the message quoted the text as it was, so it ran over two lines.
    for (const run of [() => parseVersion('1.0\n2'), () => compareVersions('\n:1', '1.0')]) {
      assert.throws(run, (e: unknown) => {
        assert.ok(e instanceof OvermergeError && e.code === 'E_BAD_VERSION');
        assert.doesNotMatch(e.message, /[\r\n]/);
        assert.match(e.message, /\\x0a/);
        return true;
      });
    }
  });
});

describe('formatVersion', () => {
  it('round-trips parsed versions', () => {
    for (const text of ['1.0', '1:1.0-1', '1.0-1-2', '0:1:2', '1.0~rc1+b2']) {
      assert.equal(formatVersion(parseVersion(text)), text);
    }
  });

  it('drops a zero epoch unless a colon would otherwise read as one', () => {
    assert.equal(formatVersion(parseVersion('0:1.0')), '1.0');
    assert.equal(formatVersion({ epoch: 0, upstream: '1:2', revision: '' }), '0:1:2');
  });
});
