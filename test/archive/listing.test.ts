import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { formatTime, localeIsUtf8, modeString, quoteEscape, strippedLinkTarget, TarListing } from '../../src/archive/listing';
import { entry, metaRecord, paxRecord, rawBlock, readAll, tar } from './fixtures';
import { withTempDir } from '../helpers/temp';

/** Formats with process.env.TZ set for the duration (Node re-reads TZ when it changes). */
function inZone<T>(tz: string, fn: () => T): T {
  const saved = process.env.TZ;
  process.env.TZ = tz;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Entries chosen for every column rule: widths that grow, odd names, devices, far dates. */
function oddArchive(): Buffer {
  return tar(
    entry({ name: './', type: 'directory', mode: 0o755 }),
    entry({ name: './plain', data: 'x'.repeat(12345) }),
    entry({ nameBytes: b('./tab\there\nnewline\\back'), data: '' }),
    entry({ nameBytes: Buffer.from('./café 日本'), data: '' }),
    entry({ nameBytes: Buffer.from([0x2e, 0x2f, 0xff, 0xc3, 0x28, 0x01, 0x7f, 0xc2, 0x85]), data: '' }),
    entry({ name: './setuid', mode: 0o4755 }),
    entry({ name: './setgid-noexec', mode: 0o2644 }),
    entry({ name: './sticky/', type: 'directory', mode: 0o1777 }),
    entry({ name: './sticky-noexec/', type: 'directory', mode: 0o1666 }),
    entry({ name: './all', mode: 0o7777 }),
    entry({ name: './none', mode: 0 }),
    entry({ name: './null', type: 'char', devmajor: 1, devminor: 3, uname: '', gname: '', uid: 1234567, gid: 7654321 }),
    entry({ name: './disk', type: 'block', devmajor: 259, devminor: 65537 }),
    entry({ name: './fifo', type: 'fifo' }),
    entry({ name: './numeric', uname: '', gname: '', uid: 4000000000, gid: 5 }),
    entry({ name: './link', type: 'symlink', linkBytes: b('/abs/tgt\x01 é'), mode: 0o777 }),
    entry({ name: './hard', type: 'hardlink', linkBytes: b('../../x/../etc/passwd') }),
    entry({ name: '/absolute', data: '' }),
    entry({ name: './old', mtime: -100000 }),
    entry({ name: './epoch', mtime: 0 }),
    metaRecord('x', paxRecord('mtime', '1700000000.999')),
    entry({ name: './fraction', mtime: 1 }),
    entry({ name: './wide-owner', uname: 'averyveryverylongusername', gname: 'group', data: 'abc' }),
    entry({ name: './after-wide', data: '' }),
    entry({ name: './future', mtime: 253402300800 }),
    entry({ name: './far-future', mtime: 1e13 }),
    entry({ name: './after-future', data: '' }),
  );
}

async function ourListing(data: Buffer, utf8: boolean, tz: string): Promise<string> {
  const entries = await readAll(data);
  return inZone(tz, () => {
    const listing = new TarListing({ utf8 });
    return entries.map((e) => listing.line(e.header)).join('');
  });
}

describe('tar -tv listing', () => {
  it('matches GNU tar byte for byte, in each locale and time zone', async () => {
    await withTempDir('list', async (dir) => {
      const file = path.join(dir, 'odd.tar');
      const data = oddArchive();
      await fsp.writeFile(file, data);
      for (const locale of ['C', 'C.UTF-8']) {
        for (const tz of ['UTC', 'America/New_York', 'Asia/Kolkata']) {
          const expected = execFileSync('tar', ['-tvf', file], { env: { ...process.env, LC_ALL: locale, TZ: tz }, stdio: ['ignore', 'pipe', 'ignore'] });
          const ours = await ourListing(data, localeIsUtf8({ LC_ALL: locale }), tz);
          assert.equal(ours, expected.toString('utf8'), `LC_ALL=${locale} TZ=${tz}`);
        }
      }
    });
  });

  it('listing: a multi-byte owner name widens the owner/size column by its bytes, as tar counts them', async () => {
    // Found by fuzzing against dpkg-deb -c: the width was counted in characters, two spaces short here.
    await withTempDir('list', async (dir) => {
      const file = path.join(dir, 'owners.tar');
      const data = tar(entry({ name: './', type: 'directory', mode: 0o755, uname: 'ÿþ', gname: 'root' }), entry({ name: './f', gname: 'grüppe', data: 'x' }));
      await fsp.writeFile(file, data);
      const expected = execFileSync('tar', ['-tvf', file], { env: { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'ignore'] });
      assert.equal(await ourListing(data, true, 'UTC'), expected.toString('utf8'));
    });
  });

  it('listing: pax owner names are not shown for a pre-POSIX (v7) header, as tar shows them', async () => {
    // Found by fuzzing against dpkg-deb -c: tar prints the numeric ids there, we printed the pax names.
    await withTempDir('list', async (dir) => {
      const file = path.join(dir, 'v7.tar');
      const v7 = (name: string): Buffer => rawBlock({ name, uid: 3, gid: 4 }, (block) => block.fill(0, 257, 345));
      const owners = Buffer.concat([paxRecord('uname', 'paxuser'), paxRecord('gname', 'paxgroup')]);
      const data = tar(metaRecord('x', owners), v7('./v7-x'), metaRecord('g', paxRecord('uname', 'guser')), v7('./v7-g'), entry({ name: './ustar-g', uname: '' }));
      await fsp.writeFile(file, data);
      const expected = execFileSync('tar', ['-tvf', file], { env: { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'ignore'] });
      assert.equal(await ourListing(data, true, 'UTC'), expected.toString('utf8'));
      assert.match(expected.toString('utf8'), /3\/4 .*\.\/v7-x\n.*guser\/root .*\.\/ustar-g/s);
    });
  });

  it("listing: a regular file named '/' is listed as a file, as tar lists it, while '//' and './' are directories", async () => {
    // Found by fuzzing against dpkg-deb -c.
    await withTempDir('list', async (dir) => {
      const file = path.join(dir, 'slash.tar');
      const data = tar(...['/', '//', './', '/usr/'].map((name) => rawBlock({ name }, (block) => block.write('0', 156, 'latin1'))));
      await fsp.writeFile(file, data);
      const expected = execFileSync('tar', ['-tvf', file], { env: { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'ignore'] });
      assert.equal(await ourListing(data, true, 'UTC'), expected.toString('utf8'));
      assert.match(expected.toString('utf8'), /^-.* \/\nd.* \/\/\n/);
    });
  });

  it('the time zone changes the printed time', () => {
    assert.equal(
      inZone('UTC', () => formatTime(1700000000)),
      '2023-11-14 22:13',
    );
    assert.equal(
      inZone('Asia/Kolkata', () => formatTime(1700000000)),
      '2023-11-15 03:43',
    );
  });

  it('mode strings carry setuid, setgid and sticky letters', () => {
    assert.equal(modeString(0o4755), 'rwsr-xr-x');
    assert.equal(modeString(0o4644), 'rwSr--r--');
    assert.equal(modeString(0o2755), 'rwxr-sr-x');
    assert.equal(modeString(0o1777), 'rwxrwxrwt');
    assert.equal(modeString(0o1776), 'rwxrwxrwT');
  });

  it("strips hard link targets as tar does, and quotes in tar's escape style", () => {
    assert.equal(strippedLinkTarget(b('../a/../b')).toString(), 'b');
    assert.equal(strippedLinkTarget(b('///x')).toString(), 'x');
    assert.equal(strippedLinkTarget(b('..')).toString(), '.');
    assert.equal(strippedLinkTarget(b('a/..b/c')).toString(), 'a/..b/c');
    assert.equal(quoteEscape(b('a\tb\\c\x7f'), true), 'a\\tb\\\\c\\177');
    assert.equal(quoteEscape(Buffer.from('é'), true), 'é');
    assert.equal(quoteEscape(Buffer.from('é'), false), '\\303\\251');
  });

  it('reads the locale from LC_ALL, then LC_CTYPE, then LANG', () => {
    assert.equal(localeIsUtf8({ LANG: 'en_US.UTF-8' }), true);
    assert.equal(localeIsUtf8({ LC_ALL: 'C', LANG: 'en_US.UTF-8' }), false);
    assert.equal(localeIsUtf8({ LC_CTYPE: 'de_DE.utf8' }), true);
    assert.equal(localeIsUtf8({}), false);
  });
});
