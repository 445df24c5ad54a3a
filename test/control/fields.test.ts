import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OvermergeError } from '../../src/errors';
import { Paragraph } from '../../src/control/paragraph';
import {
  architectureProblem,
  decodeControlText,
  MAX_CONTROL_BYTES,
  packageNameProblem,
  validateControlFields,
} from '../../src/control/fields';

const SOURCE = '/tmp/in/foo_1.0_amd64.deb';

function control(over: Record<string, string | undefined> = {}): Paragraph {
  const base: Record<string, string | undefined> = {
    Package: 'foo',
    Version: '1.0-1',
    Architecture: 'amd64',
    Maintainer: 'M <m@example.org>',
    Description: 'a package\n for tests',
    ...over,
  };
  return new Paragraph(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined));
}

function refusal(...fragments: string[]) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof OvermergeError, String(e));
    assert.equal(e.code, 'E_BAD_CONTROL');
    assert.ok(e.message.startsWith(`${SOURCE}: `), e.message);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" should mention "${f}"`);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  };
}

describe('validateControlFields', () => {
  it('accepts a well-formed binary package', () => {
    validateControlFields(control(), SOURCE);
    validateControlFields(
      control({
        Architecture: 'all',
        Depends: 'libc6 (>= 2.34), foo:any | bar',
        'Pre-Depends': 'dpkg (>= 1.19)',
        Provides: 'baz (= 1.0)',
        Breaks: 'old (<< 1)',
        'Multi-Arch': 'Foreign',
        Essential: 'Yes',
      }),
      SOURCE,
    );
  });

  it('does not require Maintainer or Description (dpkg only warns)', () => {
    validateControlFields(control({ Maintainer: undefined, Description: undefined }), SOURCE);
  });

  for (const field of ['Package', 'Version', 'Architecture']) {
    it(`requires ${field}`, () => {
      const without = control({ [field]: undefined });
      assert.throws(() => validateControlFields(without, SOURCE), refusal(`missing ${field} field`));
      const empty = control({ [field]: ' ' });
      assert.throws(() => validateControlFields(empty, SOURCE), refusal(`empty ${field} field`));
    });
  }

  it('finds fields whatever their case, as dpkg does', () => {
    validateControlFields(new Paragraph([['package', 'foo'], ['VERSION', '1'], ['architecture', 'all']]), SOURCE);
  });

  it('refuses duplicate fields', () => {
    const p = new Paragraph([['Package', 'foo'], ['Version', '1'], ['version', '2'], ['Architecture', 'all']]);
    assert.throws(() => validateControlFields(p, SOURCE), refusal('duplicate version field'));
  });

  const badPackages: Array<[string, string]> = [
    ['Foo', 'upper case'],
    ['fooBar', 'upper case'],
    ['foo_bar', "character '_' not allowed"],
    ['foo/bar', "character '/' not allowed"],
    ['foo bar', "character ' ' not allowed"],
    ['foo:bar', "character ':' not allowed"],
    ['.foo', 'must start with'],
    ['+foo', 'must start with'],
    ['-foo', 'must start with'],
    ['..', 'must start with'],
    ['foo\nbar', "character '\\x0a' not allowed"],
  ];
  for (const [name, reason] of badPackages) {
    it(`refuses Package ${JSON.stringify(name)}`, () => {
      assert.throws(
        () => validateControlFields(control({ Package: name }), SOURCE),
        refusal('invalid Package field "', reason),
      );
    });
  }

  it('accepts the package names dpkg accepts that policy allows', () => {
    for (const name of ['r', '0', 'foo..bar', 'g++', 'libstdc++6', 'a-b.c+d', '7zip']) {
      assert.equal(packageNameProblem(name), undefined, name);
    }
  });

  const badVersions: Array<[string, string]> = [
    ['a1.0', 'version number does not start with digit'],
    ['1.0_1', 'invalid character in version number'],
    ['1.0-1_1', 'invalid character in revision number'],
    ['x:1', 'epoch in version is empty'],
    ['1.0-', 'revision number is empty'],
    ['1 0', 'version string has embedded spaces'],
  ];
  for (const [version, reason] of badVersions) {
    it(`refuses Version ${JSON.stringify(version)} (dpkg refuses warnings too when installing)`, () => {
      assert.throws(
        () => validateControlFields(control({ Version: version }), SOURCE),
        refusal(`invalid Version field "${version}": ${reason}`),
      );
    });
  }

  it('accepts valid architecture names and all', () => {
    const archs = ['all', 'amd64', 'arm64', 'i386', 'x32', 'armhf', 'ppc64el', 's390x', 'hurd-i386', 'kfreebsd-amd64'];
    for (const arch of archs) {
      assert.equal(architectureProblem(arch), undefined, arch);
    }
  });

  const badArchs: Array<[string, string]> = [
    ['any', 'wildcard'],
    ['linux-any', 'wildcard'],
    ['any-amd64', 'wildcard'],
    ['AMD64', 'upper case'],
    ['am_d64', "character '_' not allowed"],
    ['-amd64', 'must start with an alphanumeric'],
    ['amd64 i386', "character ' ' not allowed"],
  ];
  for (const [arch, reason] of badArchs) {
    it(`refuses Architecture ${JSON.stringify(arch)}`, () => {
      assert.throws(
        () => validateControlFields(control({ Architecture: arch }), SOURCE),
        refusal(`invalid Architecture field "${arch}"`, reason),
      );
    });
  }

  it('refuses bad Multi-Arch, Essential and Protected values as dpkg does', () => {
    assert.throws(() => validateControlFields(control({ 'Multi-Arch': 'maybe' }), SOURCE), refusal('Multi-Arch'));
    assert.throws(
      () => validateControlFields(control({ 'Multi-Arch': 'same', Architecture: 'all' }), SOURCE),
      refusal("'same' is not allowed for architecture 'all'"),
    );
    assert.throws(
      () => validateControlFields(control({ Essential: 'maybe' }), SOURCE),
      refusal('Essential', 'yes or no'),
    );
    assert.throws(() => validateControlFields(control({ Protected: '1' }), SOURCE), refusal('Protected'));
  });

  it('refuses bad relation fields, naming the archive and the field', () => {
    assert.throws(
      () => validateControlFields(control({ Depends: 'libc6 (>= 2.34), foo (>= 1.0-)' }), SOURCE),
      refusal('invalid Depends field "foo (>= 1.0-)"', 'revision number is empty'),
    );
    assert.throws(
      () => validateControlFields(control({ Conflicts: 'a | b' }), SOURCE),
      refusal('invalid Conflicts field', 'alternatives'),
    );
    // Arch and profile restrictions are source-package syntax; dpkg refuses them in a binary package.
    assert.throws(
      () => validateControlFields(control({ Depends: 'foo [amd64]' }), SOURCE),
      refusal('invalid Depends field', 'syntax error'),
    );
  });

  it('refuses NUL characters and oversized control data', () => {
    assert.throws(() => validateControlFields(control({ Description: 'a\0b' }), SOURCE), refusal('NUL'));
    const huge = 'x'.repeat(MAX_CONTROL_BYTES);
    assert.throws(() => validateControlFields(control({ Description: huge }), SOURCE), refusal('limit'));
  });
});

describe('decodeControlText', () => {
  it('decodes UTF-8', () => {
    const text = 'Package: foo\nMaintainer: Jérôme\n';
    assert.equal(decodeControlText(Buffer.from(text), SOURCE), text);
  });

  it('refuses a NUL byte, non-UTF-8 and too much data', () => {
    assert.throws(() => decodeControlText(Buffer.from('Package: a\0b\n'), SOURCE), refusal('NUL byte'));
    const latin1 = Buffer.from([0x50, 0x3a, 0x20, 0xe9, 0x0a]);
    assert.throws(() => decodeControlText(latin1, SOURCE), refusal('not valid UTF-8'));
    assert.throws(() => decodeControlText(Buffer.alloc(MAX_CONTROL_BYTES + 1, 0x41), SOURCE), refusal('limit'));
  });
});
