import { needs } from '../helpers/gate';
import { withTempDir } from '../helpers/temp';
/**
 * Conformance against the real dpkg: thousands of generated version pairs must compare exactly as
 * `dpkg --compare-versions` compares them, and hostile version strings must be refused, warned about or
 * accepted exactly as dpkg does, with dpkg's reason.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkVersion, compareVersions } from '../../src/control/version';

const SEED = 0x5eed1234;
const RANDOM_PAIRS = 2400;
const HOSTILE_STRINGS = 400;

/** dpkg is the oracle. */
const SKIP = needs({ tools: ['dpkg'] });

/** A small deterministic generator (xorshift32), so a failure can be reproduced from the seed. */
class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 0x100000000;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

function digits(r: Rng): string {
  if (r.chance(0.05)) return Array.from({ length: 18 + r.int(15) }, () => String(r.int(10))).join('');
  const zeros = r.chance(0.15) ? '0'.repeat(1 + r.int(2)) : '';
  return zeros + String(r.int(r.chance(0.7) ? 10 : 1000));
}

function letters(r: Rng): string {
  return Array.from({ length: 1 + r.int(3) }, () => r.pick(['a', 'b', 'z', 'A', 'Z', 'rc', 'ubuntu', 'dfsg'])).join('');
}

/** `[extra]` separators are allowed only where the split rules keep them inside the part. */
function part(r: Rng, extra: string[]): string {
  let s = '';
  const n = r.int(5);
  for (let i = 0; i < n; i++) {
    s += r.pick(['.', '.', '+', '~', '~', '', ...extra]);
    s += r.chance(0.6) ? digits(r) : letters(r);
  }
  return s;
}

function randomVersion(r: Rng): string {
  const epoch = r.chance(0.3) ? r.pick(['0', '1', '2', '10', '00', '01']) : undefined;
  const revision = r.chance(0.5)
    ? r.pick(['', '0', '~']) + (r.chance(0.7) ? digits(r) : letters(r)) + part(r, [])
    : undefined;
  const extra = [...(epoch !== undefined ? [':'] : []), ...(revision !== undefined ? ['-'] : [])];
  let upstream = digits(r) + part(r, extra);
  if (r.chance(0.1)) upstream += r.pick(['~', '+', '.', '~~']);
  return `${epoch === undefined ? '' : `${epoch}:`}${upstream}${revision === undefined ? '' : `-${revision}`}`;
}

/** A version close to `v`: often equal in dpkg's eyes but written differently, or differing by one step. */
function nearVersion(r: Rng, v: string): string {
  switch (r.int(9)) {
    case 0:
      return v.includes(':') ? v : `0:${v}`;
    case 1:
      return v.includes('-') ? v : `${v}-0`;
    case 2:
      return v.replace(/(\d+)/, '0$1');
    case 3:
      return v.replace(/0(\d)/, '$1');
    case 4:
      return `${v}~`;
    case 5:
      return `${v}0`;
    case 6:
      return `${v}.0`;
    case 7:
      return v.replace(/(\d)(?!.*\d)/, (d) => String((Number(d) + 1) % 10));
    default:
      return `${v}a`;
  }
}

const TRICKY = [
  '0', '00', '0:0', '1', '1.0', '1.00', '1.0-0', '1.0-1', '1.0-1~', '1.0~', '1.0~~', '1.0~rc1', '1.0a', '1.0+',
  '1.0.', '1.0+b1', '1.0-1+b1', '1:0', '2:0~', '9', '10', '1.0-1.2', '1.0-1.10', '18446744073709551616',
  '18446744073709551615', '1.2.3-4-5', '1:2:3', '1.0~a', '1.0~A', '1.0A', '1.0Z', '1.0z', '1.0-a', '1.0-A',
  '1--1', '1.-1', '2147483647:1', '0:1.0~~~', '1.0+~', '1.0~+', '1:1.0-0~', '1.0--0', '1.0_1',
  // dpkg only warns about non-ASCII and compares the UTF-8 bytes as C chars, whose signedness depends on the
  // CPU; overmerge follows amd64 (signed), so only there can dpkg vouch for it.
  ...(process.arch === 'x64' || process.arch === 'ia32' ? ['1.é', '1.0ß', '1.0-é1', '1.0€'] : []),
];

/** Runs `dpkg --compare-versions` over pairs in one shell loop; returns -1, 0 or 1 per pair. */
async function dpkgCompareBatch(dir: string, index: number, pairs: Array<[string, string]>): Promise<number[]> {
  const file = path.join(dir, `pairs-${index}`);
  await writeFile(file, pairs.map(([a, b]) => `${a} ${b}\n`).join(''));
  const script =
    'while read -r a b; do ' +
    'if dpkg --compare-versions "$a" lt "$b" 2>/dev/null; then echo -1; ' +
    'else dpkg --compare-versions "$a" eq "$b" 2>/dev/null; r=$?; ' +
    'if [ $r = 0 ]; then echo 0; elif [ $r = 1 ]; then echo 1; else echo "error $r"; fi; fi; done < "$1"';
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('sh', ['-c', script, 'sh', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (text += s));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`sh exited ${code}`))));
  });
  const lines = out.trim().split('\n');
  assert.equal(lines.length, pairs.length, 'one answer per pair');
  return lines.map((l, i) => {
    assert.match(l, /^(-1|0|1)$/, `dpkg refused ${pairs[i][0]} or ${pairs[i][1]}: ${l}`);
    return Number(l);
  });
}

function buildPairs(): Array<[string, string]> {
  const r = new Rng(SEED);
  const pairs: Array<[string, string]> = [];
  while (pairs.length < RANDOM_PAIRS) {
    const a = randomVersion(r);
    const b = r.chance(0.4) ? nearVersion(r, a) : randomVersion(r);
    // The generator must only make versions dpkg compares (at worst with a warning).
    if (checkVersion(a).version && checkVersion(b).version) pairs.push(r.chance(0.5) ? [a, b] : [b, a]);
  }
  for (let i = 0; i < TRICKY.length; i++) {
    for (let j = i; j < TRICKY.length; j++) pairs.push([TRICKY[i], TRICKY[j]]);
  }
  return pairs;
}

/** Strings made to break a version parser: blanks, colons, hyphens, signs, odd characters. */
function buildHostileStrings(): string[] {
  const r = new Rng(SEED ^ 0xabcdef);
  const alphabet = ['0', '1', '9', 'a', 'Z', '~', '.', '+', '-', ':', '_', ' ', '\t', '\n', 'é', '$', '/', '00'];
  alphabet.push('2147483648');
  const fixed = [
    ' ', '  1', '1  ', '1 0', '1\t', 'x:1', ':1', '1:', '-1', '1-', '1:-1', '+1:2', '-0:2', '-1:1', '1a:1', '1.0:1',
    '2147483647:1', '2147483648:1', '99999999999:1', '\n1:1', '\r1:1', '1.0\n', '1\n0', 'a', 'A', '~', '1.é', '1.0-é',
    '1.0-1$', '1_0', '1.0-1_1', '1:1.0-1:1', '1.0-', '1--', '1:2:3', '0x10', '1e5', '-', ':', '::', '1::', '1:a',
  ];
  const strings = [...fixed];
  while (strings.length < HOSTILE_STRINGS) {
    const n = 1 + r.int(7);
    strings.push(Array.from({ length: n }, () => r.pick(alphabet)).join(''));
  }
  return strings;
}

interface DpkgVerdict {
  status: number | null;
  stderr: string;
}

function dpkgCheck(text: string): Promise<DpkgVerdict> {
  return new Promise((resolve) => {
    execFile('dpkg', ['--compare-versions', '--', text, 'eq', text], { encoding: 'utf8' }, (err, _stdout, stderr) => {
      const status = err ? ((err as { code?: unknown }).code as number | null) : 0;
      resolve({ status: typeof status === 'number' ? status : null, stderr });
    });
  });
}

async function mapLimited<T, U>(items: readonly T[], limit: number, fn: (item: T) => Promise<U>): Promise<U[]> {
  const results: U[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

describe('conformance with dpkg --compare-versions', { skip: SKIP }, () => {
  it(`orders ${RANDOM_PAIRS} generated pairs and every pair of tricky versions exactly as dpkg`, async () => {
    const pairs = buildPairs();
    assert.ok(pairs.length >= 2000);
    await withTempDir('vercmp', async (dir) => {
      const batches = Math.max(2, Math.min(8, os.availableParallelism()));
      const size = Math.ceil(pairs.length / batches);
      const chunks = Array.from({ length: batches }, (_, i) => pairs.slice(i * size, (i + 1) * size));
      const answers = (await Promise.all(chunks.map((c, i) => dpkgCompareBatch(dir, i, c)))).flat();
      const disagreements = pairs
        .map(([a, b], i) => ({ a, b, dpkg: answers[i], ours: compareVersions(a, b) }))
        .filter((d) => d.dpkg !== d.ours);
      assert.deepEqual(disagreements.slice(0, 20), [], `${disagreements.length} disagreements with dpkg`);
      // The generator must produce a useful mix, not almost all "less" or "greater".
      const equal = answers.filter((x) => x === 0).length;
      assert.ok(equal > pairs.length / 20, `only ${equal} equal pairs`);
    });
  });

  it('refuses, warns about or accepts hostile version strings exactly as dpkg, for the same reason', async () => {
    const strings = buildHostileStrings();
    const verdicts = await mapLimited(strings, Math.max(2, os.availableParallelism() * 2), dpkgCheck);
    const disagreements: string[] = [];
    strings.forEach((text, i) => {
      const { status, stderr } = verdicts[i];
      const { problem } = checkVersion(text);
      const dpkgSays =
        status === 2 ? 'error' : stderr.includes('warning') ? 'warning' : status === 0 ? 'ok' : `status ${status}`;
      const weSay = problem?.severity ?? 'ok';
      const sameReason = problem === undefined || stderr.includes(`has bad syntax: ${problem.reason}`);
      if (dpkgSays !== weSay || !sameReason) {
        const dpkgLine = stderr.trim().split('\n')[0];
        disagreements.push(`${JSON.stringify(text)}: dpkg ${dpkgSays} (${dpkgLine}), we ${weSay} (${problem?.reason})`);
      }
    });
    assert.deepEqual(disagreements, []);
  });
});
