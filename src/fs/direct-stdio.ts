import { writeSync } from 'node:fs';

/**
 * Standard output or error for a short-lived command: write() of a string or bytes goes straight to the
 * descriptor; any other use (a callback, a listener, a property) makes the real process stream and hands
 * it on. Making process.stdout and process.stderr when they are pipes loads Node's net module and its
 * streams: about 14 ms on the development machine, a third of what `overmerge-dpkg --print-architecture`
 * adds to Node's own start-up. Node writes to pipes and files synchronously on Linux anyway, so the bytes
 * and their order are the same; a descriptor that would block (set non-blocking by whoever shares it)
 * gets the rest through the real stream.
 *
 * `onBrokenPipe` is what a reader that went away means (EPIPE): the programs exit quietly.
 */
export function directStdio(fd: number, real: () => NodeJS.WriteStream, onBrokenPipe: () => void): NodeJS.WritableStream {
  let stream: NodeJS.WriteStream | undefined;
  const made = (): NodeJS.WriteStream => (stream ??= real());
  const write = (chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : chunk instanceof Uint8Array ? chunk : undefined;
    if (stream !== undefined || bytes === undefined || typeof encoding === 'function' || typeof callback === 'function') {
      return (made().write as (...a: unknown[]) => boolean)(chunk, encoding, callback);
    }
    let done = 0;
    try {
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') {
        onBrokenPipe();
        return false;
      }
      if (code === 'EAGAIN') return made().write(bytes.subarray(done));
      throw err;
    }
    return true;
  };
  return new Proxy({} as NodeJS.WritableStream, {
    get: (_target, key) => {
      if (key === 'write') return write;
      const s = made();
      const value = (s as unknown as Record<PropertyKey, unknown>)[key];
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(s) : value;
    },
  });
}
