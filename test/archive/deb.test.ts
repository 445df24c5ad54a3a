import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Compression } from '../../src/archive/compression';
import { readDebControl, readDebData } from '../../src/archive/deb';
import { OvermergeError } from '../../src/errors';
import { ar, compressBuffer, CONTROL, deb, entry, tar } from './fixtures';
import { withTempDir } from '../helpers/temp';

const KINDS: Compression[] = ['none', 'gzip', 'xz', 'zstd'];

/** `data` written to a file in a temporary folder for the duration of `fn`. */
function withFile<T>(data: Buffer, fn: (file: string) => Promise<T>): Promise<T> {
  return withTempDir('deb', async (dir) => {
    const file = path.join(dir, 'pkg.deb');
    await fsp.writeFile(file, data);
    return fn(file);
  });
}

async function names(file: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readDebData(file)) {
    out.push(e.header.name);
    e.body.resume();
  }
  return out;
}

function badArchive(pattern: RegExp, code = 'E_BAD_ARCHIVE') {
  return (err: unknown): boolean => {
    assert.ok(err instanceof OvermergeError, `not an OvermergeError: ${(err as Error)?.stack ?? String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  };
}

const DATA = tar(entry({ name: './', type: 'directory', mode: 0o755 }), entry({ name: './usr/bin/tool', data: 'x'.repeat(3000), mode: 0o755 }));

describe('deb reading: compressions', () => {
  for (const c of KINDS) {
    it(`reads control and data compressed with ${c}`, async () => {
      await withFile(await deb(DATA, c), async (file) => {
        const control = await readDebControl(file);
        assert.equal(control.fields.get('Package'), 'demo');
        assert.equal(control.controlText, CONTROL);
        assert.equal(control.dataCompression, c);
        assert.deepEqual([...control.files.keys()], ['control']);
        assert.deepEqual(await names(file), ['./', './usr/bin/tool']);
      });
    });

    if (c === 'none') continue;
    it(`turns corrupt and truncated ${c} data into one-line errors naming file and member`, async () => {
      const good = await compressBuffer(DATA, c);
      const corrupt = Buffer.from(good);
      for (let i = Math.floor(good.length / 3); i < good.length - 8; i += 7) corrupt[i] ^= 0x5a;
      const truncated = good.subarray(0, Math.floor(good.length / 2));
      const suffix = { gzip: '.gz', xz: '.xz', zstd: '.zst' }[c];
      for (const data of [corrupt, truncated]) {
        const file = ar([
          { name: 'debian-binary', data: '2.0\n' },
          { name: `control.tar${suffix}`, data: await compressBuffer(tar(entry({ name: './control', data: CONTROL })), c) },
          { name: `data.tar${suffix}`, data },
        ]);
        await withFile(file, async (f) => {
          await assert.rejects(names(f), badArchive(new RegExp(`^${f.replace(/[.]/g, '\\.')}: data\\.tar\\${suffix}: `)));
        });
      }
    });
  }

  it('decodes a very compressible zstd member in bounded pieces', async () => {
    const zeros = Buffer.alloc(16 * 1024 * 1024);
    const data = tar(entry({ name: './zeros', data: zeros }));
    await withFile(await deb(data, 'zstd'), async (file) => {
      let biggest = 0;
      for await (const e of readDebData(file)) {
        for await (const c of e.body) biggest = Math.max(biggest, (c as Buffer).length);
      }
      assert.ok(biggest <= 256 * 1024, `chunk of ${biggest} bytes`);
    });
  });
});

describe('deb reading: member layout (dpkg rules)', () => {
  const control = tar(entry({ name: './control', data: CONTROL }));
  const cases: Array<[string, Array<{ name: string; data: Buffer | string }>, RegExp]> = [
    ['an empty archive', [], /empty archive/],
    ['a first member other than debian-binary', [{ name: 'control.tar', data: control }], /not a Debian binary archive \(first member is 'control\.tar'\)/],
    ['format version 3.0', [{ name: 'debian-binary', data: '3.0\n' }], /format version 3\.0 is not supported/],
    ['a version without newline', [{ name: 'debian-binary', data: '2.0' }], /debian-binary has no newline/],
    ['a garbage version', [{ name: 'debian-binary', data: 'two\n' }], /invalid archive format version "two"/],
    [
      'data before control',
      [
        { name: 'debian-binary', data: '2.0\n' },
        { name: 'data.tar', data: DATA },
        { name: 'control.tar', data: control },
      ],
      /member 'data\.tar' comes before the control\.tar member/,
    ],
    [
      'two control members',
      [
        { name: 'debian-binary', data: '2.0\n' },
        { name: 'control.tar', data: control },
        { name: 'control.tar.gz', data: control },
        { name: 'data.tar', data: DATA },
      ],
      /duplicate control member 'control\.tar\.gz' after 'control\.tar'/,
    ],
    [
      'an unknown member in between',
      [
        { name: 'debian-binary', data: '2.0\n' },
        { name: 'control.tar', data: control },
        { name: 'extra', data: 'x' },
        { name: 'data.tar', data: DATA },
      ],
      /unexpected member 'extra' before data\.tar/,
    ],
    [
      'an unsupported compression',
      [
        { name: 'debian-binary', data: '2.0\n' },
        { name: 'control.tar', data: control },
        { name: 'data.tar.bz2', data: DATA },
      ],
      /member 'data\.tar\.bz2' uses an unsupported compression/,
    ],
    [
      'no data member',
      [
        { name: 'debian-binary', data: '2.0\n' },
        { name: 'control.tar', data: control },
      ],
      /no data\.tar member/,
    ],
  ];
  for (const [what, list, pattern] of cases) {
    it(`refuses ${what}`, async () => {
      await withFile(ar(list), async (file) => {
        await assert.rejects(names(file), badArchive(pattern));
        await assert.rejects(readDebControl(file), badArchive(pattern));
      });
    });
  }

  it('deb: an unexpected member whose name holds a newline is refused on one line', async () => {
    // ArWriter refuses such names, so the header is patched after the fact.
    const data = ar([
      { name: 'debian-binary', data: '2.0\n' },
      { name: 'control.tar', data: control },
      { name: 'extra', data: 'x' },
      { name: 'data.tar', data: DATA },
    ]);
    const at = data.indexOf('extra   ');
    data.write('ex\ntra', at, 'latin1');
    await withFile(data, async (file) => {
      await assert.rejects(names(file), badArchive(/unexpected member 'ex\\x0atra' before data\.tar/));
      await assert.rejects(readDebControl(file), badArchive(/unexpected member 'ex\\x0atra' before data\.tar/));
    });
  });

  it('skips members starting with "_" and ignores what follows the data member, as dpkg does', async () => {
    const list = [
      { name: 'debian-binary', data: '2.1\nfuture line\n' },
      { name: '_gpgorigin', data: 'signature' },
      { name: 'control.tar', data: control },
      { name: '_extra', data: 'x' },
      { name: 'data.tar', data: DATA },
      { name: 'trailing', data: 'whatever' },
    ];
    await withFile(ar(list), async (file) => {
      assert.deepEqual(await names(file), ['./', './usr/bin/tool']);
      assert.equal((await readDebControl(file)).fields.get('Version'), '1.0-1');
    });
  });
});

describe('deb reading: control area', () => {
  async function withControl(entries: Buffer[], fn: (file: string) => Promise<void>): Promise<void> {
    const file = ar([
      { name: 'debian-binary', data: '2.0\n' },
      { name: 'control.tar', data: tar(...entries) },
      { name: 'data.tar', data: DATA },
    ]);
    await withFile(file, fn);
  }

  it('collects the top-level regular files of control.tar', async () => {
    await withControl(
      [
        entry({ name: './', type: 'directory' }),
        entry({ name: './control', data: CONTROL }),
        entry({ name: './md5sums', data: 'abc  usr/bin/tool\n' }),
        entry({ name: './postinst', data: '#!/bin/sh\n', mode: 0o755 }),
        entry({ name: './sub/ignored', data: 'x' }),
        entry({ name: './link', type: 'symlink', linkBytes: Buffer.from('control') }),
      ],
      async (file) => {
        const c = await readDebControl(file);
        assert.deepEqual([...c.files.keys()].sort(), ['control', 'md5sums', 'postinst']);
        assert.equal(c.files.get('postinst')?.toString(), '#!/bin/sh\n');
      },
    );
  });

  it('refuses a control.tar without a control file', async () => {
    await withControl([entry({ name: './md5sums', data: '' })], async (file) => {
      // Control data missing: E_BAD_CONTROL, as the hostile corpus asks (control-file-missing).
      await assert.rejects(readDebControl(file), badArchive(/control\.tar has no control file/, 'E_BAD_CONTROL'));
    });
  });

  it('reads a control.tar within the first read, one past it, and one too large to decode in one call, alike', async () => {
    // md5sums of pseudo-random hex: about half of it survives compression.
    const md5sums = (lines: number): string => {
      let x = 0x9e3779b9;
      const hex = (): string => {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        return x.toString(16).padStart(8, '0');
      };
      return Array.from({ length: lines }, (_, i) => `${hex()}${hex()}${hex()}${hex()}  usr/share/doc/f${i}\n`).join('');
    };
    for (const c of KINDS) {
      const suffix = { none: '', gzip: '.gz', xz: '.xz', zstd: '.zst' }[c];
      const cases: Array<[string, string]> = [
        ['within the first read', md5sums(10)],
        ['past the first read (160 KiB compressed)', md5sums(6_000)],
        ['past the one-call input bound (1.6 MiB compressed)', md5sums(60_000)],
        ['past the one-call output bound (6 MiB decoded)', `${'0'.repeat(32)}  usr/share/doc/same-file-name\n`.repeat(100_000)],
      ];
      for (const [what, sums] of cases) {
        const controlTar = await compressBuffer(tar(entry({ name: './control', data: CONTROL }), entry({ name: './md5sums', data: sums })), c);
        const file = ar([
          { name: 'debian-binary', data: '2.0\n' },
          { name: `control.tar${suffix}`, data: controlTar },
          { name: `data.tar${suffix}`, data: await compressBuffer(DATA, c) },
        ]);
        await withFile(file, async (f) => {
          const read = await readDebControl(f);
          assert.equal(read.controlText, CONTROL, `${c}, ${what}`);
          assert.equal(read.files.get('md5sums')?.toString(), sums, `${c}, ${what}`);
          assert.equal(read.dataCompression, c);
        });
      }
    }
  });

  it('refuses control files with syntax errors, several paragraphs, or missing fields', async () => {
    const bad: Array<[string, RegExp]> = [
      ['Package: a\n  \nVersion: 1\n', /:2: blank line in value of field 'Package'/],
      ['Package: a\nVersion: 1\nArchitecture: all\n\nPackage: b\n', /2 paragraphs/],
      ['Version: 1\nArchitecture: all\n', /Package/],
      ['', /control file is empty/],
    ];
    for (const [text, pattern] of bad) {
      await withControl([entry({ name: './control', data: text })], async (file) => {
        await assert.rejects(readDebControl(file), badArchive(pattern, 'E_BAD_CONTROL'));
      });
    }
  });
});
