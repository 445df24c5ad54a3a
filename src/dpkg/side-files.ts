import { byteString, type ByteString } from './bytes';
import { readTracked, recheck, type Tracked } from './tracked';

/**
 * A small whole-file database of the admin directory (diversions, statoverride, arch) as last read: its
 * parsed value, re-read only when the file changed. Parsing happens before the new state is kept, so a
 * file that became unreadable leaves the old value in place and the error with the caller.
 */
export class SideFile<T> {
  private tracked: Tracked;
  private parsed: T;

  constructor(
    readonly file: string,
    private readonly parse: (text: ByteString, file: string) => T,
  ) {
    this.tracked = readTracked(file);
    this.parsed = this.parseTracked(this.tracked);
  }

  get value(): T {
    return this.parsed;
  }

  /** The bytes last read (null: no file), for undo data. */
  get bytes(): Buffer | null {
    return this.tracked.bytes;
  }

  /** Re-reads the file if it changed; whether its content did. */
  refresh(): boolean {
    const { now, changed } = recheck(this.tracked, this.file);
    if (changed) this.parsed = this.parseTracked(now);
    this.tracked = now;
    return changed;
  }

  private parseTracked(t: Tracked): T {
    return this.parse(byteString(t.bytes ?? Buffer.alloc(0)), this.file);
  }
}
