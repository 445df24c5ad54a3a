/**
 * Text from an archive or the command line shown inside an error message: control characters escaped
 * (`\x0a`), so that the message stays on one readable line whatever the input holds.
 */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
