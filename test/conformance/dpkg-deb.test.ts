/**
 * `overmerge contents` and `overmerge info` against `dpkg-deb -c` and `dpkg-deb -f` on every archive of
 * Debian's Priority: required set, byte for byte, with the listing checked in two time zones (with odd
 * offsets, so a wrong zone shows). dpkg-deb runs in a small pool of child processes while our side
 * reads in-process, each archive once.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { readDebControl, readDebData } from '../../src/archive/deb';
import { localeIsUtf8, TarListing } from '../../src/archive/listing';
import type { TarHeader } from '../../src/archive/tar';
import { gate } from '../helpers/gate';
import { realDebs } from '../helpers/real-debs';
import { runCli } from '../helpers/run-cli';

const ZONES = ['America/St_Johns', 'Asia/Kathmandu'];

function dpkgDeb(args: string[], env: NodeJS.ProcessEnv): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('dpkg-deb', args, { env, encoding: 'buffer', maxBuffer: 1 << 28 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`dpkg-deb ${args.join(' ')}: ${stderr.toString().trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Runs `jobs` with at most `width` in flight; results in input order. */
async function pool<T>(width: number, jobs: Array<() => Promise<T>>): Promise<T[]> {
  const results = new Array<T>(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
  return results;
}

/** The first differing line, for a readable failure message. */
function firstDifference(ours: Buffer, theirs: Buffer): string {
  const a = ours.toString('utf8').split('\n');
  const b = theirs.toString('utf8').split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `line ${i + 1}:\n  ours:     ${JSON.stringify(a[i])}\n  dpkg-deb: ${JSON.stringify(b[i])}`;
  }
  return 'same text, different bytes';
}

/** The listing lines of one archive, formatted in each zone from one read of the archive. */
async function ourListings(file: string, zones: string[]): Promise<Buffer[]> {
  const headers: TarHeader[] = [];
  for await (const entry of readDebData(file)) {
    headers.push(entry.header);
    entry.body.resume();
  }
  return zones.map((tz) => inZone(tz, () => {
    const listing = new TarListing({ utf8: localeIsUtf8(process.env) });
    return Buffer.from(headers.map((h) => listing.line(h)).join(''));
  }));
}

/** Formatting is synchronous, so switching process.env.TZ around it cannot leak into other work. */
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

describe('conformance with dpkg-deb on the Priority: required set', () => {
  it('contents equals dpkg-deb -c (two time zones) and info equals dpkg-deb -f, for every archive', async (t) => {
    const set = await realDebs('required');
    if (gate(t, set)) return;
    const files = set.files;
    assert.ok(files.length >= 50, `only ${files.length} archives in ${set.dir}`);

    // dpkg-deb's answers, computed in the background while our side runs.
    const theirsPromise = pool(
      4,
      files.flatMap((f) => [
        ...ZONES.map((TZ) => () => dpkgDeb(['-c', f], { ...process.env, TZ })),
        () => dpkgDeb(['-f', f], process.env),
      ]),
    );
    theirsPromise.catch(() => undefined);

    // Each archive is read once and its listing formatted in both zones; the CLI commands are thin
    // wrappers around these calls, and a sample goes through the CLI itself below.
    const listings = await pool(3, files.map((f) => () => ourListings(f, ZONES)));
    const ourContents = ZONES.map((_, z) => listings.map((l) => l[z]));
    const ourInfo = await pool(3, files.map((f) => async () => (await readDebControl(f)).files.get('control') as Buffer));
    const theirs = await theirsPromise;
    for (const i of [0, Math.floor(files.length / 2), files.length - 1]) {
      const viaCli = await runCli(['contents', files[i]], { env: { TZ: ZONES[0] } });
      assert.equal(viaCli.status, 0, viaCli.stderr);
      assert.ok(viaCli.stdoutBytes.equals(ourContents[0][i]), `CLI output differs for ${files[i]}`);
      const infoViaCli = await runCli(['info', files[i]]);
      assert.ok(infoViaCli.stdoutBytes.equals(ourInfo[i]), `CLI info differs for ${files[i]}`);
    }

    const failures: string[] = [];
    files.forEach((f, i) => {
      const name = path.basename(f);
      ZONES.forEach((tz, z) => {
        const expected = theirs[i * 3 + z];
        if (!ourContents[z][i].equals(expected)) failures.push(`${name} contents TZ=${tz}: ${firstDifference(ourContents[z][i], expected)}`);
      });
      const expectedInfo = theirs[i * 3 + 2];
      if (!ourInfo[i].equals(expectedInfo)) failures.push(`${name} info: ${firstDifference(ourInfo[i], expectedInfo)}`);
    });
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} mismatches of ${files.length * 3} comparisons`);
    // The zones must actually have changed something, or the test proves nothing about time zones.
    assert.ok(files.some((_, i) => !ourContents[0][i].equals(ourContents[1][i])), 'time zone had no effect');
  });
});
