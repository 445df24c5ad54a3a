import { printable } from '../control/printable';

/**
 * A relations message (src/dpkg/relations: a forced problem, a deconfiguration considered) as dpkg prints
 * it, with overmerge's prefix: each of its own lines prefixed, `warning: ` where dpkg warns (an override,
 * something ignored) rather than notes, and dpkg's indented explanation lines as they are.
 */
const WARNING = /^(overriding problem because --force enabled:|ignoring |More than one copy of package |Package \S+ listed more than once)/;
const FORCED = 'overriding problem because --force enabled:';

export function relationMessageLines(message: string): string[] {
  const out: string[] = [];
  let forced = false;
  for (const line of message.replace(/\n+$/, '').split('\n')) {
    if (/^\s/.test(line)) {
      out.push(printable(line));
      continue;
    }
    // dpkg prints the problem it overrides as a warning of its own, right after the override.
    const warning = forced || WARNING.test(line);
    forced = line.startsWith(FORCED);
    out.push(`overmerge: ${warning ? 'warning: ' : ''}${printable(line)}`);
  }
  return out;
}
