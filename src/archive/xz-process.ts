import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { spawnChild } from '../spawn-child';

/**
 * xz data decoded by the host's `xz` (XZ Utils), in a process of its own: Debian's required set decodes in
 * about half the CPU time lzma-native's bundled liblzma (5.2.3) takes, on another core, with no hand-over
 * between the main thread and a decoder thread for every slice of input (which, on a loaded machine, costs
 * more wall time than the decoding), and the dictionary outside this process's memory.
 *
 * The process reads the member on stdin and writes the archive's tar on stdout; the pipes (1 MiB each)
 * bound what is in flight (a reader that stops reading stops xz). It gets no environment of ours (XZ_OPT,
 * XZ_DEFAULTS would change what it does) and a memory limit, as lzma-native gets. A reader that stops
 * early (a refused member) kills it.
 */
export async function* decodeXzByProcess(source: AsyncIterable<Buffer>, xz: string, memlimit: number): AsyncGenerator<Buffer> {
  const child = spawnChild(xz, xzDecodeArgs(memlimit), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { LC_ALL: 'C' },
    // While this thread is busy with something else (another lane's members, a collection), xz decodes
    // on from up to 1 MiB of input into up to 1 MiB of output, where the default 64 KiB pipes stopped it:
    // in a bootstrap the extraction's two lanes otherwise wait on each other through this thread.
    pipeCapacity: XZ_PIPE_BYTES,
  });
  const { stdin, stdout, stderr } = child;
  if (stdin === null || stdout === null || stderr === null) {
    const { error } = await child.closed;
    throw error ?? new Error('xz did not start');
  }
  const errText: Buffer[] = [];
  stderr.on('data', (b: Buffer) => errText.push(b));
  // The source's own read errors are the ones to report; xz leaving early (EPIPE) is reported by its status.
  let readError: unknown;
  const fed = pipeline(Readable.from(source, { objectMode: false }), stdin).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'EPIPE' && (err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') readError = err;
  });
  let done = false;
  try {
    for await (const chunk of stdout) yield chunk as Buffer;
    await fed;
    const { code, error } = await child.closed;
    done = true;
    if (readError !== undefined) throw readError;
    if (error) throw error;
    if (code !== 0) {
      const said = Buffer.concat(errText).toString('utf8').replace(/^xz: \(stdin\): /gm, '').trim();
      throw new Error(said || `xz exited with status ${code}`);
    }
  } finally {
    if (!done) {
      child.kill('SIGKILL');
      stdin.destroy();
      stdout.destroy();
      await child.closed;
      await fed;
    }
  }
}

/** xz's arguments to decode stdin to stdout within `memlimit` bytes of memory. */
export function xzDecodeArgs(memlimit: number): string[] {
  return ['--decompress', '--stdout', '--quiet', `--memlimit-decompress=${memlimit}`];
}

/** Linux's default pipe-max-size: what an unprivileged process may ask for. */
export const XZ_PIPE_BYTES = 1 << 20;

/**
 * The host's xz, where XZ Utils installs it; undefined without one (lzma-native decodes then). Looked up at
 * each large member rather than remembered: one stat against a decode of 64 KiB or more, and no module state
 * that a test (or a root whose host changes under it) would have to reset.
 */
export function hostXz(): string | undefined {
  return ['/usr/bin/xz', '/bin/xz'].find((p) => existsSync(p));
}
