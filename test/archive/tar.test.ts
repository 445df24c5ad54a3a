import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readTar } from '../../src/archive/tar';
import { parseNumeric } from '../../src/archive/tar-header';
import { OvermergeError } from '../../src/errors';
import { entry, metaRecord, paxRecord, rawBlock, readAll, tar } from './fixtures';
import { withTempDir } from '../helpers/temp';

async function rejects(data: Buffer, pattern: RegExp, options = {}, code = 'E_BAD_ARCHIVE'): Promise<void> {
  await assert.rejects(readAll(data, options), (err: unknown) => {
    assert.ok(err instanceof OvermergeError, `not an OvermergeError: ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, /^test\.tar: /);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('tar reading: entry types and formats', () => {
  it('reads every entry type, with modes, owners, times and devices', async () => {
    const data = tar(
      entry({ name: './', type: 'directory', mode: 0o755 }),
      entry({ name: './bin/su', data: 'binary', mode: 0o4755, uid: 1, gid: 2, uname: 'daemon', gname: 'bin', mtime: 1234567890 }),
      entry({ name: './tmp/', type: 'directory', mode: 0o1777 }),
      entry({ name: './bin/link', type: 'symlink', linkBytes: Buffer.from('su'), mode: 0o777 }),
      entry({ name: './bin/hard', type: 'hardlink', linkBytes: Buffer.from('./bin/su'), mode: 0o4755 }),
      entry({ name: './fifo', type: 'fifo', mode: 0o600 }),
      entry({ name: './null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 }),
      entry({ name: './disk', type: 'block', devmajor: 259, devminor: 65537, mode: 0o660 }),
    );
    const got = await readAll(data);
    assert.deepEqual(
      got.map((e) => [e.header.name, e.header.type, e.header.mode.toString(8), e.header.size, e.data.toString()]),
      [
        ['./', 'directory', '755', 0, ''],
        ['./bin/su', 'file', '4755', 6, 'binary'],
        ['./tmp/', 'directory', '1777', 0, ''],
        ['./bin/link', 'symlink', '777', 0, ''],
        ['./bin/hard', 'hardlink', '4755', 0, ''],
        ['./fifo', 'fifo', '600', 0, ''],
        ['./null', 'char', '666', 0, ''],
        ['./disk', 'block', '660', 0, ''],
      ],
    );
    const su = got[1].header;
    assert.deepEqual([su.uid, su.gid, su.uname, su.gname, su.mtime], [1, 2, 'daemon', 'bin', 1234567890]);
    assert.equal(got[3].header.linkname, 'su');
    assert.equal(got[4].header.linkname, './bin/su');
    assert.deepEqual([got[6].header.devmajor, got[6].header.devminor], [1, 3]);
    assert.deepEqual([got[7].header.devmajor, got[7].header.devminor], [259, 65537]);
  });

  it('reads GNU long names and long link targets (L and K records)', async () => {
    const long = `./usr/share/${'d'.repeat(120)}/${'f'.repeat(150)}`;
    const target = `../${'t'.repeat(200)}`;
    const got = await readAll(tar(entry({ name: long, data: 'x' }), entry({ name: `${long}.lnk`, type: 'symlink', linkBytes: Buffer.from(target) })));
    assert.equal(got[0].header.name, long);
    assert.equal(got[0].data.toString(), 'x');
    assert.equal(got[1].header.name, `${long}.lnk`);
    assert.equal(got[1].header.linkname, target);
  });

  it('applies pax records: path, linkpath, size, fractional mtime, ids, names, xattrs', async () => {
    const pax = Buffer.concat([
      paxRecord('path', './pax/ünïcode-path'),
      paxRecord('linkpath', './target'),
      paxRecord('mtime', '1700000000.75'),
      paxRecord('uid', '4000000000'),
      paxRecord('gid', '3000000000'),
      paxRecord('uname', 'someone'),
      paxRecord('gname', 'somegroup'),
      paxRecord('atime', '1.5'),
      paxRecord('comment', 'ignored'),
      paxRecord('SCHILY.xattr.user.test', Buffer.from([0, 1, 2])),
    ]);
    const got = await readAll(
      tar(metaRecord('x', pax), entry({ name: './short', type: 'symlink', linkBytes: Buffer.from('x'), uname: 'root' })),
    );
    const h = got[0].header;
    assert.equal(h.name, './pax/ünïcode-path');
    assert.equal(h.nameIsUtf8, true);
    assert.equal(h.linkname, './target');
    assert.equal(h.mtime, 1700000000.75);
    assert.deepEqual([h.uid, h.gid, h.uname, h.gname], [4000000000, 3000000000, 'someone', 'somegroup']);
    assert.deepEqual(h.xattrs?.get('user.test'), Buffer.from([0, 1, 2]));
  });

  it('takes the data size from a pax size record', async () => {
    const body = Buffer.alloc(1500, 0x61);
    const block = rawBlock({ name: './big', size: 0 }, () => undefined);
    const got = await readAll(tar(metaRecord('x', paxRecord('size', '1500')), block, body, Buffer.alloc(36), entry({ name: './after', data: 'z' })));
    assert.equal(got[0].header.size, 1500);
    assert.deepEqual(got[0].data, body);
    assert.equal(got[1].header.name, './after');
  });

  it('applies global pax records to every later entry, until a later global record replaces them', async () => {
    // (Cancelling one with an empty value is refused: GNU tar reads the empty value instead.)
    const got = await readAll(
      tar(
        metaRecord('g', paxRecord('uname', 'globaluser')),
        entry({ name: './a', uname: 'root' }),
        entry({ name: './b', uname: 'root' }),
        metaRecord('g', paxRecord('uname', 'otheruser')),
        entry({ name: './c', uname: 'root' }),
      ),
    );
    assert.deepEqual(
      got.map((e) => e.header.uname),
      ['globaluser', 'globaluser', 'otheruser'],
    );
  });

  it('keeps names that are not UTF-8 as exact bytes, flagged', async () => {
    const nameBytes = Buffer.from([0x2e, 0x2f, 0x62, 0x61, 0x64, 0xff, 0xfe]);
    const [e] = await readAll(tar(entry({ nameBytes, type: 'symlink', linkBytes: Buffer.from([0x80]) })));
    assert.equal(e.header.nameIsUtf8, false);
    assert.deepEqual(e.header.nameBytes, nameBytes);
    assert.equal(e.header.linkIsUtf8, false);
    assert.deepEqual(e.header.linkBytes, Buffer.from([0x80]));
  });

  it('reads ustar prefix fields, v7 headers and old-style directories (trailing slash, type 0)', async () => {
    const ustar = rawBlock({ name: 'name' }, (b) => {
      b.write('ustar\x0000', 257, 8, 'latin1');
      b.write('some/prefix', 345, 'latin1');
    });
    const v7 = rawBlock({ name: 'olddir/', uname: 'ignored' }, (b) => b.fill(0, 257, 265));
    const got = await readAll(tar(ustar, v7));
    assert.equal(got[0].header.name, 'some/prefix/name');
    assert.equal(got[1].header.type, 'directory');
    assert.equal(got[1].header.uname, '');
  });

  it('gives the same entries whatever the chunk size of the stream', async () => {
    const data = tar(
      entry({ name: `./${'n'.repeat(300)}`, data: Buffer.alloc(1000, 1) }),
      metaRecord('x', paxRecord('path', './p')),
      entry({ name: './x', data: 'abc' }),
    );
    const expected = await readAll(data, {}, data.length);
    for (const chunk of [1, 7, 511, 512, 513, 4096]) {
      assert.deepEqual(await readAll(data, {}, chunk), expected, `chunk ${chunk}`);
    }
  });

  it('agrees with GNU tar on archives GNU tar wrote (gnu, ustar, posix/pax formats)', async (t) => {
    await withTempDir('tar', async (dir) => {
      const tree = path.join(dir, 'tree');
      const deep = path.join(tree, 'd'.repeat(90), 'e'.repeat(90));
      await fsp.mkdir(deep, { recursive: true });
      await fsp.writeFile(path.join(deep, 'f'.repeat(120)), 'long');
      await fsp.writeFile(path.join(tree, 'café'), 'utf8');
      await fsp.symlink('café', path.join(tree, 'link'));
      await fsp.link(path.join(tree, 'café'), path.join(tree, 'hard'));
      execFileSync('mkfifo', [path.join(tree, 'fifo')]);
      execFileSync('mknod', [path.join(tree, 'null'), 'c', '1', '3']);
      for (const format of ['gnu', 'ustar', 'posix']) {
        const file = path.join(dir, `${format}.tar`);
        let made = true;
        try {
          execFileSync('tar', ['-C', tree, `--format=${format}`, '--sort=name', '-cf', file, '.'], { stdio: 'pipe' });
        } catch {
          made = false; // ustar cannot hold the long names; that is GNU tar's refusal, not ours.
        }
        if (!made) continue;
        const listing = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).split('\n').filter(Boolean);
        const got = await readAll(await fsp.readFile(file));
        assert.deepEqual(
          got.map((e) => e.header.name),
          listing,
          format,
        );
        const byName = new Map(got.map((e) => [e.header.name, e]));
        assert.equal(byName.get('./café')?.data.toString(), 'utf8');
        assert.equal(byName.get('./link')?.header.linkname, 'café');
        assert.equal(byName.get('./hard')?.header.type, 'hardlink');
        assert.equal(byName.get('./fifo')?.header.type, 'fifo');
        assert.equal(byName.get('./null')?.header.type, 'char');
      }
    });
    void t;
  });
});

describe('tar reading: streaming', () => {
  it('skips bodies the consumer did not read, and ones it only resumed', async () => {
    const data = tar(entry({ name: './a', data: Buffer.alloc(5000, 1) }), entry({ name: './b', data: Buffer.alloc(3000, 2) }), entry({ name: './c', data: 'end' }));
    async function* one(): AsyncGenerator<Buffer> {
      yield data;
    }
    const names: string[] = [];
    let i = 0;
    for await (const e of readTar(one())) {
      names.push(e.header.name);
      if (i++ === 1) e.body.resume();
      if (e.header.name === './c') {
        const parts: Buffer[] = [];
        for await (const c of e.body) parts.push(c as Buffer);
        assert.equal(Buffer.concat(parts).toString(), 'end');
      }
    }
    assert.deepEqual(names, ['./a', './b', './c']);
  });

  it('pulls from its source only as the body is read (bounded read-ahead)', async () => {
    const size = 32 * 1024 * 1024;
    let produced = 0;
    async function* source(): AsyncGenerator<Buffer> {
      const h = entry({ name: './big', size });
      yield h.subarray(0, 512);
      const chunk = Buffer.alloc(64 * 1024, 7);
      for (let sent = 0; sent < size; sent += chunk.length) {
        produced += chunk.length;
        yield chunk;
      }
      yield Buffer.alloc(1024);
    }
    let consumed = 0;
    let maxAhead = 0;
    for await (const e of readTar(source())) {
      for await (const c of e.body) {
        consumed += (c as Buffer).length;
        maxAhead = Math.max(maxAhead, produced - consumed);
      }
    }
    assert.equal(consumed, size);
    assert.ok(maxAhead <= 1024 * 1024, `read ahead ${maxAhead} bytes`);
  });

  it('stops reading its source when the consumer stops early', async () => {
    let returned = false;
    async function* source(): AsyncGenerator<Buffer> {
      try {
        yield tar(entry({ name: './a', data: 'a' }), entry({ name: './b', data: 'b' }));
      } finally {
        returned = true;
      }
    }
    for await (const e of readTar(source())) {
      e.body.resume();
      break;
    }
    assert.equal(returned, true);
  });

  it('accepts an archive without an end marker, or with a lone zero block, and trailing zeros', async () => {
    const one = entry({ name: './a', data: 'a' });
    assert.equal((await readAll(one)).length, 1);
    assert.equal((await readAll(Buffer.concat([one, Buffer.alloc(512)]))).length, 1);
    assert.equal((await readAll(Buffer.concat([one, Buffer.alloc(512 * 30)]), { trailingData: 'error' })).length, 1);
  });

  it("ignores data after the end marker as dpkg does, or refuses it when asked", async () => {
    const data = Buffer.concat([tar(entry({ name: './a', data: 'a' })), Buffer.from('garbage')]);
    assert.equal((await readAll(data)).length, 1);
    await rejects(data, /data after the end-of-archive marker/, { trailingData: 'error' });
    const afterLoneZero = Buffer.concat([entry({ name: './a', data: 'a' }), Buffer.alloc(512), entry({ name: './hidden' })]);
    assert.deepEqual(
      (await readAll(afterLoneZero)).map((e) => e.header.name),
      ['./a'],
      'like GNU tar, a lone zero block ends the archive',
    );
    await rejects(afterLoneZero, /data after the end-of-archive marker/, { trailingData: 'error' });
  });
});

describe('tar reading: hostile headers are clear errors', () => {
  it('refuses a bad checksum', async () => {
    const e = entry({ name: './a', data: 'a' });
    e[0] ^= 1;
    await rejects(tar(e), /bad tar header checksum \(at byte 0\)/);
  });

  it('refuses unknown and unsupported type flags', async () => {
    for (const flag of ['S', 'V', 'M', 'D', 'Z', 'A']) {
      await rejects(tar(rawBlock({ name: './a' }, (b) => b.write(flag, 156, 1, 'latin1'))), new RegExp(`unsupported tar entry type "${flag}"`));
    }
  });

  it('refuses pax and GNU long-name records mixed or repeated for one entry (parser desync)', async () => {
    const x = metaRecord('x', paxRecord('path', './p'));
    const L = metaRecord('L', './long\0');
    const a = entry({ name: './a' });
    await rejects(tar(x, L, a), /GNU long-name header after a pax header/);
    await rejects(tar(L, x, a), /pax header after a GNU long-name header/);
    await rejects(tar(x, x, a), /two pax headers for one entry/);
    await rejects(tar(L, L, a), /two GNU long-name headers/);
    await rejects(tar(x), /extended header not followed by an entry/);
  });

  it('tar: a GNU long name without a NUL inside its declared size is refused (readers end it in different places)', async () => {
    // Found by fuzzing against dpkg-deb -c: an L record of size 1 over the block "./../x\0...": we read ".",
    // GNU tar reads on to the NUL in the padding ("./../x").
    const block = Buffer.alloc(512);
    block.write('./../x', 'latin1');
    const record = Buffer.concat([rawBlock({ name: '././@LongLink', size: 1 }, (b) => b.write('L', 156, 1, 'latin1')), block]);
    await rejects(tar(record, entry({ name: './short', data: 'x' })), /GNU long-name record without a NUL inside its 1 bytes/, {}, 'E_UNSAFE_PATH');
    const link = entry({ name: './l', type: 'symlink', linkBytes: Buffer.from('t') });
    await rejects(tar(metaRecord('K', './target'), link), /GNU long-link record without a NUL/, {}, 'E_UNSAFE_PATH');
    // With its NUL (as every writer puts it) the name is read as before.
    const got = await readAll(tar(metaRecord('L', './long\0'), entry({ name: './short' })));
    assert.deepEqual(got.map((e) => e.header.name), ['./long']);
  });

  it('tar: a key repeated within one pax header is refused (readers disagree on which one wins)', async () => {
    // Found by fuzzing against dpkg-deb -c: in a global header GNU tar takes the first of two "uname"
    // (or "path") records, we took the last.
    const twice = (key: string) => Buffer.concat([paxRecord(key, './first'), paxRecord(key, './second')]);
    await rejects(tar(metaRecord('g', twice('path')), entry({ name: './f' })), /pax record "path" appears twice in one header/, {}, 'E_UNSAFE_PATH');
    await rejects(tar(metaRecord('g', twice('uname')), entry({ name: './f' })), /pax record "uname" appears twice/);
    await rejects(tar(metaRecord('x', twice('linkpath')), entry({ name: './l', type: 'symlink', linkBytes: Buffer.from('t') })), /"linkpath" appears twice/, {}, 'E_UNSAFE_PATH');
  });

  it('refuses NUL bytes and non-numeric values in pax records, and malformed records', async () => {
    const a = entry({ name: './a' });
    // A name problem, like the names memberToRootPath refuses (the hostile corpus asks for this code).
    await rejects(tar(metaRecord('x', paxRecord('path', './a\0b')), a), /NUL byte in pax record "path"/, {}, 'E_UNSAFE_PATH');
    await rejects(tar(metaRecord('x', paxRecord('size', '12x')), a), /non-numeric pax size/);
    await rejects(tar(metaRecord('x', paxRecord('size', '-5')), a), /non-numeric pax size/);
    await rejects(tar(metaRecord('x', paxRecord('uid', ' 1')), a), /non-numeric pax uid/);
    await rejects(tar(metaRecord('x', paxRecord('mtime', '1e9')), a), /non-numeric pax mtime/);
    await rejects(tar(metaRecord('x', '99 path=./a\n'), a), /pax record runs past its header/);
    await rejects(tar(metaRecord('x', '11 path=./a '), a), /does not end with a newline/);
    await rejects(tar(metaRecord('x', 'x path=a\n'), a), /bad pax record length/);
    await rejects(tar(metaRecord('x', '7 =abc\n'), a), /pax record without a key/);
    await rejects(tar(metaRecord('x', paxRecord('GNU.sparse.size', '10')), a), /sparse files are not supported/);
  });

  it('tar: an empty pax path or linkpath is refused, not read as the header\'s name', async () => {
    // Found by fuzzing against dpkg-deb -c: GNU tar lists such an entry as '' (and substitutes '.'),
    // we took the header's './named': one archive, two names.
    await rejects(tar(metaRecord('x', paxRecord('path', '')), entry({ name: './named', data: 'hi\n' })), /empty pax record "path"/, {}, 'E_UNSAFE_PATH');
    const link = entry({ name: './l', type: 'symlink', linkBytes: Buffer.from('target') });
    await rejects(tar(metaRecord('x', paxRecord('linkpath', '')), link), /empty pax record "linkpath"/, {}, 'E_UNSAFE_PATH');
  });

  it('tar: an empty owner or number in a per-entry pax record is refused, not read as the global value', async () => {
    // Found by fuzzing against dpkg-deb -c: after a global uname, an entry's empty uname kept the global
    // one here, where GNU tar shows none (and refuses an empty size).
    const global = metaRecord('g', Buffer.concat([paxRecord('uname', 'guser'), paxRecord('size', '3')]));
    for (const key of ['uname', 'gname', 'uid', 'gid', 'mtime', 'size']) {
      await rejects(tar(global, metaRecord('x', paxRecord(key, '')), entry({ name: './f', data: 'hi\n' })), new RegExp(`empty pax record "${key}"`));
    }
  });

  it('tar: an empty value in a global pax record is refused too, not read as "no global value"', async () => {
    // Found by fuzzing against dpkg-deb -c: a global empty uname let the header's 'root' show here, where
    // GNU tar empties the owner name of every later entry (and would name them '' for an empty path).
    for (const key of ['path', 'uname', 'size']) {
      const code = key === 'path' ? 'E_UNSAFE_PATH' : 'E_BAD_ARCHIVE';
      await rejects(tar(metaRecord('g', paxRecord(key, '')), entry({ name: './f', data: 'hi\n' })), new RegExp(`empty pax record "${key}"`), {}, code);
    }
    // Keys that change no entry may still be emptied.
    const got = await readAll(tar(metaRecord('g', paxRecord('comment', '')), entry({ name: './f' })));
    assert.deepEqual(got.map((e) => e.header.name), ['./f']);
  });

  it('refuses negative and out-of-range base-256 sizes, and bad octal', async () => {
    const negative = rawBlock({ name: './a' }, (b) => {
      b.fill(0xff, 124, 136);
    });
    await rejects(tar(negative), /negative size/);
    const huge = rawBlock({ name: './a' }, (b) => {
      b.fill(0, 124, 136);
      b[124] = 0x80;
      b.fill(0xff, 128, 136);
    });
    await rejects(tar(huge), /size field out of range/);
    const bad = rawBlock({ name: './a' }, (b) => b.write('00000009999\0', 124, 12, 'latin1'));
    await rejects(tar(bad), /bad size field/);
    assert.equal(parseNumeric(Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]), 'size'), 256);
    assert.equal(parseNumeric(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]), 'mtime', true), -2);
    assert.equal(parseNumeric(Buffer.from('  755 \0'), 'mode'), 0o755);
  });

  it('refuses non-file entries that claim data (directory, symlink, device with a size)', async () => {
    const dir = rawBlock({ name: './d/', type: 'directory' }, (b) => b.write('00000001000\0', 124, 12, 'latin1'));
    await rejects(Buffer.concat([dir, Buffer.alloc(512), Buffer.alloc(1024)]), /directory entry ".\/d\/" has a non-zero size \(512\)/);
    const sym = rawBlock({ name: './s', type: 'symlink', linkBytes: Buffer.from('t') }, (b) => b.write('00000000001\0', 124, 12, 'latin1'));
    await rejects(tar(sym), /symlink entry ".\/s" has a non-zero size/);
    await rejects(tar(metaRecord('x', paxRecord('size', '10')), entry({ name: './d/', type: 'directory' })), /non-zero size \(10\)/);
  });

  it('refuses extended headers beyond the size cap without reading them', async () => {
    const big = metaRecord('x', paxRecord('comment', 'c'.repeat(5000)));
    await rejects(tar(big, entry({ name: './a' })), /extended header of 5\d{3} bytes exceeds the 4096-byte limit/, { maxMetaSize: 4096 });
  });

  it('refuses truncation inside a header, a body and a long-name record', async () => {
    const e = entry({ name: './a', data: Buffer.alloc(2000, 1) });
    await rejects(e.subarray(0, 300), /truncated tar header/);
    await rejects(e.subarray(0, 1500), /truncated tar entry/);
    await rejects(metaRecord('L', 'x'.repeat(600)).subarray(0, 900), /truncated extended header/);
  });

  it('refuses empty names and links without a target', async () => {
    await rejects(tar(rawBlock({ name: './a' }, (b) => b.fill(0, 0, 100))), /empty name/, {}, 'E_UNSAFE_PATH');
    await rejects(tar(entry({ name: './s', type: 'symlink', linkBytes: Buffer.alloc(0) })), /symlink ".\/s" has no target/);
  });
});
