/**
 * dpkg's screen widths (lib/dpkg/strwide.c str_width, str_gen_crop), which -l uses for its columns. In a
 * UTF-8 locale a string that decodes is measured in columns (wide East Asian characters count 2, combining
 * marks 0, a control character makes the width -1 as wcswidth does); in any other locale, or when the bytes
 * are not UTF-8, a byte is a column — dpkg's fallback. The column table is an approximation of glibc's
 * wcwidth: exact for ASCII, Latin, Greek, Cyrillic, CJK and the common emoji blocks.
 */
export function isUtf8Locale(env: Readonly<Record<string, string | undefined>>): boolean {
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  return /utf-?8/i.test(locale);
}

/**
 * The character at byte `i`: its code point and length in bytes, as mbrtowc() reads it — in a UTF-8
 * locale a UTF-8 sequence, otherwise (the C locale) an ASCII byte; undefined where mbrtowc() fails.
 */
function charAt(bytes: string, i: number, utf8: boolean): { cp: number; len: number } | undefined {
  const b0 = bytes.charCodeAt(i);
  if (b0 < 0x80) return { cp: b0, len: 1 };
  if (!utf8) return undefined;
  const len = b0 >= 0xf0 && b0 <= 0xf4 ? 4 : b0 >= 0xe0 ? 3 : b0 >= 0xc2 && b0 < 0xe0 ? 2 : 0;
  if (len === 0 || b0 > 0xf4 || i + len > bytes.length) return undefined;
  let cp = b0 & (0xff >> (len + 1));
  for (let k = 1; k < len; k++) {
    const b = bytes.charCodeAt(i + k);
    if ((b & 0xc0) !== 0x80) return undefined;
    cp = (cp << 6) | (b & 0x3f);
  }
  const min = len === 2 ? 0x80 : len === 3 ? 0x800 : 0x10000;
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
  return { cp, len };
}

/** wcwidth(): -1 for control characters, 0 for combining marks and format characters, 2 for wide ones. */
export function wcwidth(cp: number): number {
  if (cp === 0) return 0;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return -1;
  if (cp < 0x300) return 1;
  const ch = String.fromCodePoint(cp);
  if (cp !== 0xad && /[\p{Mn}\p{Me}\p{Cf}]/u.test(ch)) return 0;
  if (cp >= 0x1160 && cp <= 0x11ff) return 0;
  if (isWide(cp)) return 2;
  return 1;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    cp === 0x2329 ||
    cp === 0x232a ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xa960 && cp <= 0xa97f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe10 && cp <= 0xfe19) ||
    (cp >= 0xfe30 && cp <= 0xfe6f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** str_width(): the width in columns, or the length in bytes when the string does not decode. */
export function strWidth(bytes: string, utf8: boolean): number {
  let width = 0;
  let nonPrintable = false;
  for (let i = 0; i < bytes.length; ) {
    const ch = charAt(bytes, i, utf8);
    if (!ch) return bytes.length;
    const w = wcwidth(ch.cp);
    if (w < 0) nonPrintable = true;
    else width += w;
    i += ch.len;
  }
  return nonPrintable ? -1 : width;
}

/**
 * str_gen_crop(): how many bytes of `bytes` fit in `maxWidth` columns (stopping at a control character),
 * and the field width in bytes to pad to; dpkg's fallback (`maxWidth` bytes both) where a character does
 * not decode.
 */
export function crop(bytes: string, maxWidth: number, utf8: boolean): { strBytes: number; maxBytes: number } {
  let width = 0;
  let used = 0;
  while (used < bytes.length) {
    const ch = charAt(bytes, used, utf8);
    if (!ch) return { strBytes: maxWidth, maxBytes: maxWidth };
    if (ch.cp === 0) break;
    const w = wcwidth(ch.cp);
    if (w < 0 || width + w > maxWidth) break;
    width += w;
    used += ch.len;
  }
  return { strBytes: used, maxBytes: used + maxWidth - width };
}

/** printf("%-*.*s", maxBytes, strBytes, s): at most strBytes bytes, padded with spaces to maxBytes bytes. */
export function padField(s: string, c: { strBytes: number; maxBytes: number }): string {
  const shown = s.slice(0, c.strBytes);
  return shown.length >= c.maxBytes ? shown : shown + ' '.repeat(c.maxBytes - shown.length);
}
