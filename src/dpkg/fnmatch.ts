/**
 * fnmatch(3) with no flags, as dpkg calls it for package and path patterns: `*` and `?` match any
 * character, '/' and a leading '.' included; `[...]` is a bracket expression (`!` or `^` negates, ranges,
 * `[:class:]`); a backslash quotes the next character; a `[` without its `]` is an ordinary character.
 * Works on byte strings (one character per byte), so classes are ASCII, as in the C locale.
 */
export function fnmatch(pattern: string, text: string): boolean {
  return compile(pattern).test(text);
}

const cache = new Map<string, RegExp>();

export function compile(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    re = new RegExp(`^${translate(pattern)}$`, 's');
    if (cache.size > 1000) cache.clear();
    cache.set(pattern, re);
  }
  return re;
}

const CLASSES: Record<string, string> = {
  alnum: 'A-Za-z0-9',
  alpha: 'A-Za-z',
  blank: ' \\t',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '\\x21-\\x7e',
  lower: 'a-z',
  print: '\\x20-\\x7e',
  punct: '!-/:-@\\[-`{-~',
  space: ' \\t\\n\\v\\f\\r',
  upper: 'A-Z',
  xdigit: '0-9A-Fa-f',
};

function escape(c: string): string {
  return c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

function translate(p: string): string {
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\' && i + 1 < p.length) {
      out += escape(p[++i]);
    } else if (c === '*') {
      out += '.*';
    } else if (c === '?') {
      out += '.';
    } else if (c === '[') {
      const bracket = readBracket(p, i);
      if (bracket === undefined) out += '\\[';
      else {
        out += bracket.re;
        i = bracket.end;
      }
    } else {
      out += escape(c);
    }
  }
  return out;
}

/** A bracket expression starting at `start` ('['): its regular expression and the index of its ']'. */
function readBracket(p: string, start: number): { re: string; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (p[i] === '!' || p[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  let first = true;
  while (i < p.length) {
    const c = p[i];
    if (c === ']' && !first) return { re: `[${negate ? '^' : ''}${body}]`, end: i };
    first = false;
    if (c === '[' && p[i + 1] === ':') {
      const close = p.indexOf(':]', i + 2);
      const name = close < 0 ? undefined : p.slice(i + 2, close);
      if (name !== undefined && CLASSES[name] !== undefined) {
        body += CLASSES[name];
        i = close + 2;
        continue;
      }
    }
    let ch = c;
    if (c === '\\' && i + 1 < p.length) ch = p[++i];
    if (p[i + 1] === '-' && p[i + 2] !== undefined && p[i + 2] !== ']') {
      let hi = p[i + 2];
      let skip = 2;
      if (hi === '\\' && i + 3 < p.length) {
        hi = p[i + 3];
        skip = 3;
      }
      if (hi >= ch) body += `${escape(ch)}-${escape(hi)}`;
      i += skip + 1;
      continue;
    }
    body += escape(ch);
    i++;
  }
  return undefined;
}
