import { mutateBytes } from './bytes';
import type { Rng } from './rng';

/**
 * Mutations of deb822 text (a control file) that keep it mostly well-formed, so they reach the field
 * checks instead of stopping at the first line: whole lines added, removed, repeated or moved; values
 * replaced by edge cases of their syntax (versions, relations, architectures, booleans, sizes); the line
 * structure bent (continuations, blank lines, CRLF, a missing final newline).
 */

export const VERSIONS = [
  '1.0', '1:2.38.1-5+deb12u3', '0.03-3', '1.0~rc1', '2022-09-12-1', '1:', ':1', '-1', '1.0-', '1-', 'a1.0', '1.0 2', '1.0\t',
  '4294967296:1', '2147483647:1', '2147483648:1', '+1:2', ' 1:2', '00:1', '-0:1', '1:1:1', '1.0-1-1', '1~~', '~', '1.0\u00e9',
  `1.${'9'.repeat(40)}`, '1.0\0', '1.0\n', '1..0', '1.0+', '1.0-~', '0', '', ' ',
];

export const RELATIONS = [
  'a', 'a, b', 'a | b', 'a (>= 1.0)', 'a (>> 1) | b (<< 2)', 'a:any', 'a:native (= 1)', 'a:amd64', 'a [amd64]', 'a <stage1>',
  'a (1.0)', 'a (< 1)', 'a (> 1)', 'a (>= 1', 'a (>=)', 'a ()', 'a (=> 1)', 'a (>= 1.0) (<= 2)', ',', 'a,', ', a', 'a,,b', '|',
  'a |', 'A', 'a_b', '-a', 'a:', 'a:-x', 'a (= 1:)', 'a\n b', 'a\tb', 'a b', 'a [', 'a <', 'a (>= 1.0)[amd64]', 'a\u00e9',
  `${'x'.repeat(300)}`, Array.from({ length: 200 }, (_, i) => `p${i}`).join(', '),
];

const FIELD_LINES = [
  'Package: hello', 'Package: Hello', 'Package: a_b', 'Package: ', 'Package: a', 'Package: -a', 'Package: a b', 'Package: a\u00e9',
  'Architecture: all', 'Architecture: amd64', 'Architecture: any', 'Architecture: linux-any', 'Architecture: AMD64',
  'Architecture: ', 'Architecture: amd64 i386', 'Architecture: a_b',
  'Multi-Arch: same', 'Multi-Arch: foreign', 'Multi-Arch: bogus', 'Multi-Arch: SAME',
  'Essential: yes', 'Essential: maybe', 'Protected: YES', 'Protected: ',
  'Installed-Size: 1', 'Installed-Size: 0', 'Installed-Size: -5', 'Installed-Size: 99999999999999999999', 'Installed-Size: 1e9',
  'Installed-Size: abc', 'Installed-Size: 0x10', 'Installed-Size: 9007199254740993', 'Installed-Size:  12 ',
  'Maintainer: x', 'Description: x\n .\n  y', 'Description:', 'Description: \n x', 'Conffiles:\n /etc/x 0123',
  'Source: a (1.0)', 'Replaces: hello (<< 2)', 'Breaks: a | b', 'Provides: x (= 1.0)', 'Provides: x (>= 1.0)',
  ' continued', ' .', '\t', '  ', '#comment', ':', 'Foo:', '-Foo: x', 'Foo bar: x', 'Foo : x', 'Foo:x', 'foo: x', 'FOO: y',
  '', '\r', `Long: ${'x'.repeat(5000)}`,
];

const VALUE_FIELDS = ['Version', 'Depends', 'Pre-Depends', 'Recommends', 'Suggests', 'Breaks', 'Conflicts', 'Replaces', 'Provides', 'Enhances'];

function lines(textIn: string): string[] {
  return textIn.split('\n');
}

function fieldLine(rng: Rng): string {
  const field = rng.pick(VALUE_FIELDS);
  const pool = field === 'Version' ? VERSIONS : RELATIONS;
  let value = rng.pick(pool);
  if (rng.chance(0.3)) value = `${value}${rng.pick(['', ', ', ' | '])}${rng.pick(pool)}`;
  return `${field}: ${value}`.replace(/\n(?! )/g, '\n ');
}

type TextMutation = (rng: Rng, l: string[]) => string[];

const LINE_MUTATIONS: ReadonlyArray<readonly [number, TextMutation]> = [
  [4, (rng, l) => (l.splice(rng.below(l.length + 1), 0, rng.chance(0.5) ? fieldLine(rng) : rng.pick(FIELD_LINES)), l)],
  // A field replaced in place keeps the paragraph's shape, so the other checks still pass.
  [6, (rng, l) => {
    const i = rng.below(l.length);
    const name = /^([^:\s]+):/.exec(l[i] ?? '')?.[1];
    const pool = name && /version/i.test(name) ? VERSIONS : name && VALUE_FIELDS.some((f) => f.toLowerCase() === name.toLowerCase()) ? RELATIONS : undefined;
    l[i] = pool ? `${name}: ${rng.pick(pool)}`.replace(/\n(?! )/g, '\n ') : rng.chance(0.5) ? fieldLine(rng) : rng.pick(FIELD_LINES);
    return l;
  }],
  [2, (rng, l) => (l.splice(rng.below(l.length), 1), l)],
  [2, (rng, l) => (l.splice(rng.below(l.length + 1), 0, l[rng.below(l.length)] ?? ''), l)],
  [1, (rng, l) => {
    const [i, j] = [rng.below(l.length), rng.below(l.length)];
    [l[i], l[j]] = [l[j], l[i]];
    return l;
  }],
  [1, (rng, l) => l.map((x) => (rng.chance(0.5) ? `${x}\r` : x))],
  [1, (rng, l) => (l[rng.below(l.length)] = `${l[rng.below(l.length)] ?? ''}${rng.pick([' ', '\t', '\0', '\u00e9', '\xff', '\u2028', '\v', '\ufeff'])}`, l)],
  // A byte order mark: text decoders drop it unless told not to, dpkg reads it as part of the field name.
  [1, (_rng, l) => (l[0] = `\ufeff${l[0] ?? ''}`, l)],
];

/** One to three mutations of a control file's text; sometimes format-blind byte mutations on top. */
export function mutateControlText(rng: Rng, input: Buffer): Buffer {
  let l = lines(input.toString('utf8'));
  const n = 1 + rng.smallInt(2);
  for (let i = 0; i < n; i++) l = rng.weighted(LINE_MUTATIONS)(rng, l);
  let out = l.join('\n');
  if (rng.chance(0.05)) out = out.replace(/\n+$/, '');
  if (rng.chance(0.05)) out = `${out}\n\n${rng.pick(FIELD_LINES)}\n`;
  const bytes = Buffer.from(out, rng.chance(0.95) ? 'utf8' : 'latin1');
  return rng.chance(0.15) ? mutateBytes(rng, bytes, undefined, 2) : bytes;
}

/** A version string: a known edge case, or one bent by inserting, replacing or dropping characters. */
export function mutateVersion(rng: Rng, input: string): string {
  const pieces = ['~', '~~', '+', '.', '-', ':', '0', '00', '1', '9'.repeat(25), 'a', 'Z', '\u00e9', '\0', ' ', '\t', '\n', '\x7f', '\xff', '_'];
  let s = input;
  const n = 1 + rng.smallInt(3);
  for (let k = 0; k < n; k++) {
    const i = rng.below(s.length + 1);
    s = rng.weighted<() => string>([
      [3, () => s.slice(0, i) + rng.pick(pieces) + s.slice(i)],
      [2, () => s.slice(0, i) + rng.pick(pieces) + s.slice(i + 1)],
      [1, () => s.slice(0, i) + s.slice(i + 1 + rng.smallInt(3))],
      [1, () => rng.pick(VERSIONS)],
    ])();
  }
  return s;
}

/** A relation field value built from its tokens, then bent the way versions are. */
export function mutateRelations(rng: Rng, input: string): string {
  const tokens = [',', '|', '(', ')', '>=', '<<', '>>', '=', '<', '>', '[', ']', '!', ':', 'any', 'native', 'amd64', 'a', 'pkg-name', '1.0', '2:1-1', ' ', '\n ', '\t', '<stage1>', '<!nocheck>'];
  let s = input;
  const n = 1 + rng.smallInt(3);
  for (let k = 0; k < n; k++) {
    const i = rng.below(s.length + 1);
    s = rng.weighted<() => string>([
      [3, () => s.slice(0, i) + rng.pick(tokens) + s.slice(i)],
      [1, () => s.slice(0, i) + s.slice(i + 1 + rng.smallInt(4))],
      [1, () => `${s}, ${rng.pick(RELATIONS)}`],
      [1, () => rng.pick(RELATIONS)],
      [1, () => mutateVersion(rng, s)],
    ])();
  }
  return s;
}
