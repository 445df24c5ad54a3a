/**
 * Pulls exact byte counts out of a chunked stream without ever holding more than one upstream chunk plus
 * what the caller asked for. The tar reader needs "exactly 512 bytes" and "up to N bytes of this body";
 * streams hand out chunks of whatever size the decompressor produced.
 */
export class ByteSource {
  private readonly iterator: AsyncIterator<Buffer>;
  private current: Buffer = Buffer.alloc(0);
  private ended = false;
  /** Bytes handed out or skipped so far: the offset of the next byte in the stream. */
  position = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Waits for buffered bytes; false at the end of the stream. */
  private async fill(): Promise<boolean> {
    while (this.current.length === 0) {
      if (this.ended) return false;
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      this.current = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    }
    return true;
  }

  /** Up to `max` bytes (at least one), or null at the end of the stream. Never copies. */
  async readSome(max: number): Promise<Buffer | null> {
    if (max <= 0) return Buffer.alloc(0);
    if (!(await this.fill())) return null;
    const n = Math.min(max, this.current.length);
    const out = this.current.subarray(0, n);
    this.current = this.current.subarray(n);
    this.position += n;
    return out;
  }

  /** Exactly `n` bytes, or fewer only when the stream ends first (the caller decides what that means). */
  async readExact(n: number): Promise<Buffer> {
    const first = await this.readSome(n);
    if (first === null) return Buffer.alloc(0);
    if (first.length === n) return first;
    const parts = [first];
    let got = first.length;
    while (got < n) {
      const more = await this.readSome(n - got);
      if (more === null) break;
      parts.push(more);
      got += more.length;
    }
    return Buffer.concat(parts, got);
  }

  /** Discards up to `n` bytes; resolves to how many were there. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const part = await this.readSome(Math.min(left, 1 << 20));
      if (part === null) break;
      left -= part.length;
    }
    return n - left;
  }

  /** Stops reading upstream (lets the producer clean up) without consuming the rest. */
  async close(): Promise<void> {
    this.ended = true;
    this.current = Buffer.alloc(0);
    await this.iterator.return?.();
  }
}
