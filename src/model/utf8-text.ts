/**
 * The UTF-8 text of `b[start, end)`. Buffer's own decoder, without toString's argument handling around it:
 * a third of the time of making an entry's path, and the manifest and the disk states make one for every
 * member several times a transaction. Where Buffer has no `utf8Slice` (not a public API), toString.
 */
export const utf8Text: (b: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as { utf8Slice?: unknown }).utf8Slice === 'function'
    ? (b, start, end) => (b as Buffer & { utf8Slice(start: number, end: number): string }).utf8Slice(start, end)
    : (b, start, end) => b.toString('utf8', start, end);
