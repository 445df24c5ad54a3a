import * as fs from 'node:fs';
import { fsError } from '../errors';
import type { HostPath } from './host-path';

/**
 * A file without a name, for data a process keeps out of its memory and reads back itself (a huge
 * archive's manifest): created in a folder of the staging area and unlinked at once, so nothing of it is
 * left behind when the process ends, however it ends, and no other process can open it. Its blocks go
 * back to the filesystem when the descriptor is closed: by `close`, or when what holds the SpillFile is
 * collected (the registry below), at the latest when the process exits.
 */
export class SpillFile {
  private fd: number | undefined;
  private size = 0;

  private constructor(
    fd: number,
    private readonly where: HostPath,
  ) {
    this.fd = fd;
    closeWhenCollected.register(this, fd, this);
  }

  /** A new nameless file in `dir`; `name` is taken for the moment between create and unlink, and must be free. */
  static create(dir: HostPath, name: string): SpillFile {
    const at = `${dir}/${name}` as HostPath;
    let fd: number;
    try {
      // O_EXCL and O_NOFOLLOW: a fresh file of ours, never one a name already stood for.
      fd = fs.openSync(at, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      throw fsError('create spill file', err, at);
    }
    try {
      fs.unlinkSync(at);
    } catch (err) {
      fs.closeSync(fd);
      throw fsError('unlink spill file', err, at);
    }
    return new SpillFile(fd, at);
  }

  /** Appends `data`; returns where it starts. */
  append(data: Uint8Array): number {
    const at = this.size;
    this.writeAt(data, at);
    this.size += data.length;
    return at;
  }

  /** Writes `data` over bytes written before, at `position`. */
  writeAt(data: Uint8Array, position: number): void {
    const fd = this.open('write');
    let done = 0;
    try {
      while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, position + done);
    } catch (err) {
      throw fsError('write spill file', err, this.where);
    }
  }

  /** Fills `into` from `position` (bytes written before). */
  readAt(into: Uint8Array, position: number): void {
    const fd = this.open('read');
    let done = 0;
    try {
      while (done < into.length) {
        const n = fs.readSync(fd, into, done, into.length - done, position + done);
        if (n === 0) throw Object.assign(new Error('unexpected end of file'), { code: 'EIO' });
        done += n;
      }
    } catch (err) {
      throw fsError('read spill file', err, this.where);
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    closeWhenCollected.unregister(this);
    fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private open(op: string): number {
    if (this.fd === undefined) throw fsError(`${op} spill file`, Object.assign(new Error('closed'), { code: 'EBADF' }), this.where);
    return this.fd;
  }
}

/** Closes the descriptor of a SpillFile nobody closed once nothing holds it any more. */
const closeWhenCollected = new FinalizationRegistry<number>((fd) => {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed with the process's other descriptors, or never to be reused: nothing to do.
  }
});
