import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ArReader, ArWriter, formatArHeader, parseArHeader } from '../../src/archive/ar';
import { OvermergeError } from '../../src/errors';
import { ar } from './fixtures';
import { withTempDir } from '../helpers/temp';

async function members(file: string, head?: number): Promise<Array<{ name: string; data: string }>> {
  const reader = await ArReader.open(file, { head });
  try {
    const out: Array<{ name: string; data: string }> = [];
    for (let m = await reader.next(); m; m = await reader.next()) {
      const parts: Buffer[] = [];
      for await (const c of reader.streamMember(m)) parts.push(c);
      out.push({ name: m.name, data: Buffer.concat(parts).toString() });
    }
    return out;
  } finally {
    await reader.close();
  }
}

function isBadArchive(pattern: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof OvermergeError, String(err));
    assert.equal(err.code, 'E_BAD_ARCHIVE');
    assert.match(err.message, pattern);
    return true;
  };
}

describe('ar', () => {
  it('round-trips members of odd and even sizes, from buffers and streams', async () => {
    await withTempDir('ar', async (dir) => {
      const file = path.join(dir, 'x.a');
      const fh = await fsp.open(file, 'wx');
      const w = new ArWriter(fh, file);
      await w.writeMagic();
      await w.addBuffer('debian-binary', Buffer.from('2.0\n'), 1700000000);
      await w.addBuffer('odd', Buffer.from('abc'), 1700000000);
      async function* chunks(): AsyncGenerator<Buffer> {
        yield Buffer.from('hello ');
        yield Buffer.from('world');
      }
      assert.equal(await w.addStream('streamed', chunks(), 1700000000), 11);
      await w.addBuffer('empty', Buffer.alloc(0), 1700000000);
      await fh.close();
      assert.deepEqual(await members(file), [
        { name: 'debian-binary', data: '2.0\n' },
        { name: 'odd', data: 'abc' },
        { name: 'streamed', data: 'hello world' },
        { name: 'empty', data: '' },
      ]);
    });
  });

  it("writes headers as dpkg-deb does", () => {
    assert.equal(
      formatArHeader('control.tar.xz', 372, 1700000000).toString('latin1'),
      'control.tar.xz  1700000000  0     0     100644  372       `\n',
    );
  });

  it('normalises GNU-style names ending in "/" and trailing spaces', () => {
    const h = formatArHeader('data.tar.xz', 10, 1700000000);
    h.write('data.tar.xz/    ', 0, 16, 'latin1');
    assert.equal(parseArHeader(h, 8, 'f').name, 'data.tar.xz');
  });

  it('refuses a file without the ar magic', async () => {
    await withTempDir('ar', async (dir) => {
      const file = path.join(dir, 'not.deb');
      await fsp.writeFile(file, 'PK\x03\x04 a zip file');
      await assert.rejects(ArReader.open(file), isBadArchive(/not\.deb: not a Debian archive \(no ar magic\)/));
    });
  });

  it('refuses a folder or other non-regular file', async () => {
    await withTempDir('ar', async (dir) => {
      await assert.rejects(ArReader.open(dir), isBadArchive(/: not a regular file$/));
    });
  });

  it('refuses a bad header terminator, a bad size and a truncated header', async () => {
    await withTempDir('ar', async (dir) => {
      const good = ar([{ name: 'debian-binary', data: '2.0\n' }]);
      const cases: Array<[Buffer, RegExp]> = [
        [Buffer.from(good).fill(0x41, 66, 68), /bad ar member header at byte 8/],
        [Buffer.from(good).fill(0x78, 56, 57), /invalid size field/],
        [good.subarray(0, 40), /truncated ar member header at byte 8/],
      ];
      for (const [data, pattern] of cases) {
        const file = path.join(dir, 'bad.deb');
        await fsp.writeFile(file, data);
        await assert.rejects(members(file), isBadArchive(pattern));
      }
    });
  });

  it('refuses a member that runs past the end of the file before handing out any of it', async () => {
    await withTempDir('ar', async (dir) => {
      const file = path.join(dir, 'cut.deb');
      const whole = ar([
        { name: 'first', data: 'ok' },
        { name: 'second', data: 'x'.repeat(1000) },
      ]);
      await fsp.writeFile(file, whole.subarray(0, whole.length - 10));
      const reader = await ArReader.open(file);
      try {
        const first = await reader.next();
        assert.equal(first?.name, 'first');
        await assert.rejects(reader.next(), isBadArchive(/member 'second' \(1000 bytes at byte \d+\) runs past the end of the file/));
      } finally {
        await reader.close();
      }
    });
  });

  it('ar: a member name holding a newline is refused on one line, the newline shown escaped', async () => {
    // Found by the fuzzer: the name went into the message as it was, so the error ran over two lines.
    const header = Buffer.from(`${'control.tar.g\n'.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${'282'.padEnd(10)}\`\n`, 'latin1');
    await withTempDir('ar', async (dir) => {
      const file = path.join(dir, 'x.deb');
      await fsp.writeFile(file, Buffer.concat([ar([]), header, Buffer.from('short')]));
      const reader = await ArReader.open(file);
      try {
        await assert.rejects(reader.next(), (err: unknown) => {
          isBadArchive(/ar member 'control\.tar\.g\\x0a' \(282 bytes at byte 68\) runs past the end of the file/)(err);
          assert.doesNotMatch((err as Error).message, /[\r\n]/);
          return true;
        });
      } finally {
        await reader.close();
      }
    });
  });

  it('reads the same members through a head read at open, whatever its size against the headers and members', async () => {
    await withTempDir('ar', async (dir) => {
      const file = path.join(dir, 'head.a');
      const whole = ar([
        { name: 'debian-binary', data: '2.0\n' },
        { name: 'control.tar', data: 'c'.repeat(301) },
        { name: 'data.tar', data: 'd'.repeat(5000) },
      ]);
      await fsp.writeFile(file, whole);
      const expected = await members(file);
      assert.equal(expected.length, 3);
      // Inside the magic, inside a header, at a member's end, inside a member, the whole file and beyond.
      for (const head of [1, 8, 30, 68, 72, 133, 200, 433, 434, 1000, whole.length - 1, whole.length, whole.length + 4096]) {
        assert.deepEqual(await members(file, head), expected, `head ${head}`);
      }
      // A file cut inside the head is refused as without it.
      await fsp.writeFile(file, whole.subarray(0, 300));
      await assert.rejects(members(file, 65536), isBadArchive(/runs past the end of the file/));
    });
  });

  it('accepts a last odd-sized member without its pad byte', async () => {
    await withTempDir('ar', async (dir) => {
      const file = path.join(dir, 'nopad.a');
      const whole = ar([{ name: 'odd', data: 'abc' }]);
      await fsp.writeFile(file, whole.subarray(0, whole.length - 1));
      assert.deepEqual(await members(file), [{ name: 'odd', data: 'abc' }]);
    });
  });
});
