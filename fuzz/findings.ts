import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { headline, signature } from './verdict';

/**
 * Findings as they are kept: the input that caused one, written outside the repository with a note of
 * how to make it again. Repeats of the same crash (same kind, target and first line) are counted, and
 * only the first few inputs kept.
 */
export interface FindingReport {
  kind: 'crash' | 'hang' | 'thread died' | 'install';
  target: string;
  /** The input's number in its run (for --replay-iteration), when it has one. */
  iteration?: number;
  how: string;
  reason: string;
}

export interface Finding extends FindingReport {
  /** Where the first inputs were saved. */
  files: string[];
  /** How many inputs gave this same finding. */
  count: number;
}

const KEEP_PER_FINDING = 3;

export class Findings {
  private readonly byKey = new Map<string, Finding>();
  private saved = 0;

  constructor(
    /** Created on the first finding. */
    readonly dir: string,
    private readonly reproduce: (f: FindingReport) => string,
  ) {}

  async add(f: FindingReport, bytes: Uint8Array | undefined): Promise<Finding> {
    const key = `${f.kind} ${f.target} ${signature(f.reason)}`;
    const finding = this.byKey.get(key) ?? { ...f, files: [], count: 0 };
    this.byKey.set(key, finding);
    finding.count++;
    if (bytes && finding.files.length < KEEP_PER_FINDING) finding.files.push(await this.save(f, bytes));
    return finding;
  }

  private async save(f: FindingReport, bytes: Uint8Array): Promise<string> {
    await fsp.mkdir(this.dir, { recursive: true });
    const base = path.join(this.dir, `${f.target}-${f.iteration ?? `n${this.saved}`}`);
    this.saved++;
    await fsp.writeFile(`${base}.bin`, bytes);
    const note = [`kind: ${f.kind}`, `target: ${f.target}`, `made by: ${f.how}`, `repeat with: ${this.reproduce(f)}`, '', f.reason, ''];
    await fsp.writeFile(`${base}.txt`, note.join('\n'));
    return `${base}.bin`;
  }

  get list(): Finding[] {
    return [...this.byKey.values()];
  }

  /** Every input that gave a finding, repeats included. */
  get total(): number {
    let n = 0;
    for (const f of this.byKey.values()) n += f.count;
    return n;
  }
}

export function describeFinding(f: Finding): string {
  const at = f.iteration === undefined ? '' : ` at input ${f.iteration}`;
  const times = f.count > 1 ? ` (${f.count} inputs)` : '';
  const saved = f.files.length > 0 ? `; input saved as ${f.files.join(', ')}` : '';
  return `${f.kind} in ${f.target}${at}${times}: ${headline(f.reason)}; made by ${f.how}${saved}`;
}
