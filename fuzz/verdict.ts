import { OvermergeError } from '../src/errors';

/**
 * What counts as a finding. An input may be accepted or refused; a refusal is an OvermergeError whose
 * message is one line (the CLI prints it as `overmerge: <message>`). Anything else thrown — a TypeError,
 * a RangeError, an assertion, an OvermergeError spread over lines — is a crash, and so is a broken
 * invariant a target checks on what it accepted.
 */
export type Outcome = { kind: 'ok' } | { kind: 'refused'; code: string } | { kind: 'crash'; reason: string };

/** Thrown by a target when an accepted input gave an impossible result (a round trip that differs, ...). */
export class InvariantBroken extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantBroken';
  }
}

export function invariant(ok: boolean, message: () => string): asserts ok {
  if (!ok) throw new InvariantBroken(message());
}

export function classify(err: unknown): Outcome {
  if (err instanceof OvermergeError) {
    if (err.message === '') return { kind: 'crash', reason: `OvermergeError ${err.code} with an empty message` };
    if (/[\r\n]/.test(err.message)) return { kind: 'crash', reason: `OvermergeError ${err.code} message is not one line: ${JSON.stringify(err.message)}` };
    return { kind: 'refused', code: err.code };
  }
  if (err instanceof InvariantBroken) return { kind: 'crash', reason: `invariant broken: ${err.message}` };
  const stack = err instanceof Error ? err.stack ?? `${err.name}: ${err.message}` : `non-error thrown: ${String(err)}`;
  return { kind: 'crash', reason: stack };
}

/** The first line of a crash reason. */
export function headline(reason: string): string {
  return reason.split('\n', 1)[0].slice(0, 300);
}

/**
 * What findings are grouped by: the first line with quoted text and numbers blanked out, and the first
 * stack frame, so a thousand inputs hitting one bug make one finding.
 */
export function signature(reason: string): string {
  const [first, ...rest] = reason.split('\n');
  const frame = rest.find((l) => /^\s+at /.test(l))?.trim() ?? '';
  const shape = first
    .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
    .replace(/'[^']*'/g, "'…'")
    .replace(/[0-9]+/g, 'N');
  return `${shape.slice(0, 200)} ${frame.replace(/:[0-9]+:[0-9]+\)?$/, '')}`;
}
