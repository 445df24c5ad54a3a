import type { CallSpec } from './script-protocol';
import { SCRIPT_DESCRIPTION } from './script-protocol';

/**
 * How a script call reads in messages. dpkg says "new hello package pre-installation script subprocess
 * returned error exit status 1" and leaves out the arguments, which are what tells an upgrade from an abort;
 * ours name both: "hello's new pre-installation script (preinst upgrade 1.0 2.0)".
 */

/** `hello's new pre-installation script` (installed scripts say "installed", as dpkg does). */
export function describeScript(call: Pick<CallSpec, 'package' | 'source' | 'script'>): string {
  return `${call.package}'s ${call.source} ${SCRIPT_DESCRIPTION[call.script]} script`;
}

/** `preinst upgrade 1.0 2.0`, `postinst configure ''`: the call as a shell would need it typed. */
export function commandLine(call: Pick<CallSpec, 'script' | 'args'>): string {
  return [call.script, ...call.args].map(shellQuote).join(' ');
}

function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_.:+~@%/=,-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
