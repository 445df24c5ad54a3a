/**
 * dpkg's database is bytes, not text: a Description may hold Latin-1 from 1998, and an untouched package
 * must be written back byte for byte. So the database modules work on "byte strings": JavaScript strings
 * holding one character (U+0000..U+00FF) per byte, decoded and encoded as latin1, which maps every byte to
 * itself and back. Comparison of byte strings is then bytewise, as dpkg's strcmp is.
 *
 * The API towards the engine speaks ordinary (UTF-8 decoded) strings; these helpers convert at that edge.
 */
export type ByteString = string & { readonly __brand: 'ByteString' };

/** The bytes of a file or buffer as a byte string. */
export function byteString(bytes: Uint8Array): ByteString {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1') as ByteString;
}

/** The bytes a byte string stands for. */
export function bytesOf(s: ByteString): Buffer {
  return Buffer.from(s, 'latin1');
}

/** A text (UTF-8) as the byte string of its UTF-8 encoding. */
export function fromText(text: string): ByteString {
  return Buffer.from(text, 'utf8').toString('latin1') as ByteString;
}

/** A byte string read as UTF-8 text; bytes that are not UTF-8 become U+FFFD, as any reader would show them. */
export function toText(s: ByteString): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

/** Whether every character of `s` is a byte (so it can stand for bytes without loss). */
export function isByteString(s: string): s is ByteString {
  // eslint-disable-next-line no-control-regex
  return !/[^\x00-\xff]/.test(s);
}
