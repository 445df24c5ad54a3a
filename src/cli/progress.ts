import type { DpkgEvent } from '../model/events';
import { printable } from '../control/printable';
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

/**
 * dpkg's per-package lines, from the engine's events: `Unpacking hello (2.0) over (1.0) ...`, `Setting up
 * hello (2.0) ...`, `Processing triggers for man-db (2.11) ...`, `Removing ...`, `Purging configuration
 * files for ...`, on standard output as dpkg prints them, so a long run can be followed in a log.
 */
export function packageLine(e: DpkgEvent): string | undefined {
  if (e.kind !== 'processing') return undefined;
  const name = printable(e.pkg.name);
  switch (e.action) {
    case 'install':
      return `Unpacking ${name} (${e.availableVersion}) ...`;
    case 'upgrade':
      return `Unpacking ${name} (${e.availableVersion}) over (${e.installedVersion}) ...`;
    case 'configure':
      return `Setting up ${name} (${e.installedVersion}) ...`;
    case 'trigproc':
      return `Processing triggers for ${name} (${e.installedVersion}) ...`;
    case 'remove':
      return `Removing ${name} (${e.installedVersion}) ...`;
    case 'purge':
      return `Purging configuration files for ${name} (${e.installedVersion}) ...`;
    case 'disappear':
      return `(Noting disappearance of ${name}, which has been completely replaced.)`;
  }
}
