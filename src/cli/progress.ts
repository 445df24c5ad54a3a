import type { Io } from './command';

/** A one-line progress bar on stderr, drawn only on a terminal and at most ten times a second. */
export class Progress {
  private last = 0;
  private drawn = false;

  constructor(
    private readonly io: Io,
    private readonly enabled: boolean,
  ) {}

  update(phase: string, done: number, total: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 100 && done < total) return;
    this.last = now;
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    this.io.stderr.write(`\r${phase.padEnd(6)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}\x1b[K`);
    this.drawn = true;
  }

  /** Clears the bar before normal output follows. */
  end(): void {
    if (this.drawn) this.io.stderr.write('\r\x1b[K');
    this.drawn = false;
  }
}
