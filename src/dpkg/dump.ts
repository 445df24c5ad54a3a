import { formatVersion } from '../control/version';
import type { ByteString } from './bytes';
import { formatConffilesField } from './conffiles-field';
import { DEP_FIELDS, type CharField, type PkgEntry } from './model';

/**
 * One stanza as dpkg writes it to status and to update entries (lib/dpkg/dump.c varbuf_stanza): the
 * fields dpkg knows in its own order and spelling, each only when it has something to say, then the fields
 * it does not know in their original order, names as written and values verbatim. Ends with a newline and
 * no empty line. Pure.
 */
export function formatStanza(e: PkgEntry): ByteString {
  const problem = statusProblem(e);
  if (problem) throw new Error(`cannot write ${e.name}${e.arch ? `:${e.arch}` : ''}: ${problem}`);
  const lines: string[] = [`Package: ${e.name}`];
  if (e.essential) lines.push('Essential: yes');
  if (e.protected) lines.push('Protected: yes');
  lines.push(`Status: ${e.status.want} ${e.status.flag} ${e.status.state}`);
  if (e.priority !== undefined) lines.push(`Priority: ${e.priority}`);
  if (e.section !== undefined) lines.push(`Section: ${e.section}`);
  for (const f of ['Installed-Size', 'Origin', 'Maintainer', 'Bugs'] as const) pushText(lines, e, f);
  if (e.arch !== '') lines.push(`Architecture: ${e.arch}`);
  if (e.multiArch !== 'no') lines.push(`Multi-Arch: ${e.multiArch}`);
  pushText(lines, e, 'Source');
  if (e.version !== undefined) lines.push(`Version: ${formatVersion(e.version)}`);
  if (writesConfigVersion(e)) lines.push(`Config-Version: ${formatVersion(e.configVersion!)}`);
  for (const f of DEP_FIELDS) {
    const value = e.depends[f];
    if (value) lines.push(`${f}: ${value}`);
  }
  if (e.conffiles.length > 0) lines.push(formatConffilesField(e.conffiles));
  pushText(lines, e, 'Description');
  if (e.triggersPending.length > 0) lines.push(`Triggers-Pending: ${e.triggersPending.join(' ')}`);
  if (e.triggersAwaited.length > 0) lines.push(`Triggers-Awaited: ${e.triggersAwaited.join(' ')}`);
  for (const [name, value] of e.arbitrary) lines.push(`${name}: ${value}`);
  return `${lines.join('\n')}\n` as ByteString;
}

/** The stanza dpkg would write for `e`: its text as read when untouched, else formatted. */
export function stanzaText(e: PkgEntry): ByteString {
  return e.raw ?? formatStanza(e);
}

function pushText(lines: string[], e: PkgEntry, f: CharField): void {
  const v = e.text[f];
  if (v !== undefined && v !== '') lines.push(`${f}: ${v}`);
}

/** dpkg keeps Config-Version in memory for every state but writes it only where it says something. */
function writesConfigVersion(e: PkgEntry): boolean {
  if (e.configVersion === undefined) return false;
  const s = e.status.state;
  return s !== 'installed' && s !== 'not-installed' && s !== 'triggers-pending';
}

/**
 * What dpkg's writer (w_status) would refuse as an internal error: trigger fields that do not fit the
 * state. Undefined when the entry can be written.
 */
export function statusProblem(e: PkgEntry): string | undefined {
  const state = e.status.state;
  const pending = e.triggersPending.length > 0;
  const awaited = e.triggersAwaited.length > 0;
  switch (state) {
    case 'not-installed':
    case 'config-files':
    case 'installed':
      if (pending || awaited) return `state ${state} with awaited or pending triggers`;
      return undefined;
    case 'half-installed':
    case 'unpacked':
    case 'half-configured':
      if (pending) return `state ${state} with pending triggers`;
      return undefined;
    case 'triggers-awaited':
      return awaited ? undefined : `state ${state} without awaited triggers`;
    case 'triggers-pending':
      return pending && !awaited ? undefined : `state ${state} with awaited or without pending triggers`;
  }
}
