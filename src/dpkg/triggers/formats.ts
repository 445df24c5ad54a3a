import { printable } from '../../control/printable';
import { OvermergeError } from '../../errors';
import type { ExplicitInterest, FileInterest, PackageStatus } from './model';
import { triggerNameProblem } from './names';

/**
 * The text formats of dpkg's trigger state, pure (bytes in, data out and back), as dpkg 1.21 reads and
 * writes them: triggers/File and triggers/NAME (lib/dpkg/triglib.c), triggers/Unincorp (trigdeferred.c,
 * and src/trigger/main.c for how dpkg-trigger rewrites it), and the status fields Triggers-Pending and
 * Triggers-Awaited (lib/dpkg/fields.c, dump.c, parse.c).
 */

function bad(source: string, problem: string): OvermergeError {
  return new OvermergeError('E_DB', printable(`${source}: ${problem}`), { op: 'read triggers', path: source });
}

/** Lines as dpkg's fgets_checked yields them: each must end with a newline and fit dpkg's buffer. */
function checkedLines(text: string, source: string, maxBytes: number): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  const last = lines.pop();
  if (last !== '') throw bad(source, 'too-long line or missing newline');
  for (const l of lines) {
    if (Buffer.byteLength(l, 'latin1') > maxBytes - 2 || l.includes('\0')) throw bad(source, 'too-long line or missing newline');
  }
  return lines;
}

/** `PKG[/OPTION]` as trig_parse_trigger_options splits it: `/noawait` is the only option that counts. */
function splitOptions(word: string): { spec: string; noawait: boolean } {
  const slash = word.indexOf('/');
  if (slash === -1) return { spec: word, noawait: false };
  // dpkg reads any other option (and `/await`) as await, and the option is gone when it writes the line back.
  return { spec: word.slice(0, slash), noawait: word.slice(slash + 1) === 'noawait' };
}

/** Why dpkg's pkg_spec_parse_pkg refuses `NAME[:ARCH]`, or undefined. */
export function packageSpecProblem(spec: string): string | undefined {
  const colon = spec.indexOf(':');
  const name = colon === -1 ? spec : spec.slice(0, colon);
  if (name === '') return 'may not be empty string';
  if (!/^[A-Za-z0-9]/.test(name)) return 'must start with an alphanumeric character';
  const badChar = /[^A-Za-z0-9+._-]/.exec(name);
  if (badChar) return `character '${badChar[0]}' not allowed (only letters, digits and characters '-+._')`;
  if (colon !== -1 && !/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(spec.slice(colon + 1))) return `illegal architecture name in specifier '${spec}'`;
  return undefined;
}

// ---------- triggers/File ----------

/** Parses triggers/File (`PATH PACKAGE[/noawait]` per line). dpkg's buffer: 1024 bytes. */
export function parseFileInterests(text: string, source = 'triggers/File'): FileInterest[] {
  const out: FileInterest[] = [];
  const seen = new Set<string>();
  for (const line of checkedLines(text, source, 1024)) {
    const space = line.indexOf(' ');
    if (space === -1 || !line.startsWith('/')) throw bad(source, 'syntax error in file triggers file');
    const path = line.slice(0, space);
    const { spec, noawait } = splitOptions(line.slice(space + 1));
    const problem = packageSpecProblem(spec);
    if (problem) throw bad(source, `file triggers record mentions illegal package name '${spec}' (for interest in file '${path}'): ${problem}`);
    const key = `${path}\0${spec}`;
    if (seen.has(key)) throw bad(source, `duplicate file trigger interest for filename '${path}' and package '${spec}'`);
    seen.add(key);
    out.push({ path, package: spec, noawait });
  }
  return out;
}

export function formatFileInterests(interests: readonly FileInterest[]): string {
  return interests.map((i) => `${i.path} ${i.package}${i.noawait ? '/noawait' : ''}\n`).join('');
}

// ---------- triggers/NAME ----------

/** Parses an explicit trigger's interest file (`PACKAGE[/noawait]` per line). */
export function parseExplicitInterests(text: string, source: string): ExplicitInterest[] {
  return checkedLines(text, source, 1024).map((line) => {
    const { spec, noawait } = splitOptions(line);
    const problem = packageSpecProblem(spec);
    if (problem) throw bad(source, `trigger interest file '${source}' syntax error; illegal package name '${spec}': ${problem}`);
    return { package: spec, noawait };
  });
}

export function formatExplicitInterests(interests: readonly ExplicitInterest[]): string {
  return interests.map((i) => `${i.package}${i.noawait ? '/noawait' : ''}\n`).join('');
}

// ---------- triggers/Unincorp ----------

/** One line of Unincorp: a trigger and the packages that activated it (null: one or more that need not await). */
export interface UnincorpEntry {
  readonly trigger: string;
  readonly awaiters: readonly (string | null)[];
}

const isWhite = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n';
const isPkgStart = (c: string) => /[0-9a-z-]/.test(c);
const isPkgChar = (c: string) => /[0-9a-z:+.-]/.test(c);

/**
 * Parses triggers/Unincorp with trigdef_parse's rules, quirks included: an empty line ends the file (what
 * follows is ignored, and gone once dpkg rewrites it), `#` lines are skipped, a line must name at least one
 * package, and a package name ends at a blank or `#`.
 */
export function parseUnincorp(text: string, source = 'triggers/Unincorp'): UnincorpEntry[] {
  const out: UnincorpEntry[] = [];
  const lines = checkedLines(text, source, 2048);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (line === '') break;
    const fail = (at: number) => bad(source, `syntax error in triggers deferred file '${source}' at line ${n + 1} character ${at + 1} '${line.slice(at)}'`);
    let p = 0;
    while (isWhite(line[p])) p++;
    if (p === line.length || line[p] === '#') continue;
    const start = p;
    while (p < line.length && line.charCodeAt(p) >= 0x21 && line.charCodeAt(p) <= 0x7e) p++;
    if (p === line.length || p === start) throw fail(p);
    const trigger = line.slice(start, p);
    p++;
    const awaiters: (string | null)[] = [];
    while (p < line.length) {
      while (isWhite(line[p])) p++;
      const s = p;
      if (p === line.length || !isPkgStart(line[p])) throw fail(p);
      p++;
      while (p < line.length && isPkgChar(line[p])) p++;
      if (p < line.length && line[p] !== '#' && !isWhite(line[p])) throw fail(p);
      const name = line.slice(s, p);
      p++;
      if (name.startsWith('-') && name !== '-') throw bad(source, `invalid package name '${name}' in triggers deferred file '${source}'`);
      awaiters.push(name === '-' ? null : name);
    }
    out.push({ trigger, awaiters });
  }
  return out;
}

export function formatUnincorp(entries: readonly UnincorpEntry[]): string {
  return entries.map((e) => `${e.trigger}${e.awaiters.map((a) => ` ${a ?? '-'}`).join('')}\n`).join('');
}

/**
 * What `dpkg-trigger [--no-await] TRIGGER` makes of Unincorp: the awaiter (`by`, or `-` with --no-await)
 * goes first on the trigger's line, once, or a new line is appended. The name is checked as dpkg-trigger
 * checks it; its kind is not (dpkg-trigger records any valid name).
 */
export function addToUnincorp(entries: readonly UnincorpEntry[], trigger: string, by: string | null): UnincorpEntry[] {
  const problem = triggerNameProblem(trigger);
  if (problem) {
    throw new OvermergeError('E_USAGE', printable(`invalid trigger name '${trigger}': ${problem}`), { op: 'activate trigger' });
  }
  let done = false;
  const out = entries.map((e) => {
    if (e.trigger !== trigger) return e;
    const others = e.awaiters.filter((a) => a !== by);
    if (done) return { trigger, awaiters: others };
    done = true;
    return { trigger, awaiters: [by, ...others] };
  });
  if (!done) out.push({ trigger, awaiters: [by] });
  return out;
}

// ---------- status fields ----------

/**
 * Triggers-Pending as dpkg reads it: blank-separated names, each valid, no repeats, and each one prepended
 * to the list, so the result (in-memory order, see model.ts) is the field reversed.
 */
export function parseTriggersPending(value: string, source = 'Triggers-Pending'): string[] {
  const names: string[] = [];
  for (const w of value.split(/[ \t\n]+/).filter((x) => x !== '')) {
    const problem = triggerNameProblem(w);
    if (problem) throw bad(source, `illegal pending trigger name '${w}': ${problem}`);
    if (names.includes(w)) throw bad(source, `duplicate pending trigger '${w}'`);
    names.unshift(w);
  }
  return names;
}

/** The Triggers-Pending value dpkg writes for `pending` (in-memory order); '' means no field. */
export function formatTriggersPending(pending: readonly string[]): string {
  return pending.join(' ');
}

/** Triggers-Awaited as dpkg reads it: package names, in order, no repeats. */
export function parseTriggersAwaited(value: string, source = 'Triggers-Awaited'): string[] {
  const names: string[] = [];
  for (const w of value.split(/[ \t\n]+/).filter((x) => x !== '')) {
    const problem = packageSpecProblem(w);
    if (problem) throw bad(source, `illegal package name in awaited trigger '${w}': ${problem}`);
    if (names.includes(w)) throw bad(source, `duplicate awaited trigger package '${w}'`);
    names.push(w);
  }
  return names;
}

export function formatTriggersAwaited(awaited: readonly string[]): string {
  return awaited.join(' ');
}

/** dpkg's consistency rules between Status and the two fields (parse.c); the problem, or undefined. */
export function triggerFieldsProblem(status: PackageStatus, pending: readonly string[], awaited: readonly string[]): string | undefined {
  const inTriggerStates = status === 'triggers-pending' || status === 'triggers-awaited';
  if (awaited.length > 0 && (status === 'not-installed' || status === 'config-files' || status === 'triggers-pending' || status === 'installed')) {
    return `package has status ${status} but triggers are awaited`;
  }
  if (status === 'triggers-awaited' && awaited.length === 0) return `package has status ${status} but no triggers awaited`;
  if (pending.length > 0 && !inTriggerStates) return `package has status ${status} but triggers are pending`;
  if (status === 'triggers-pending' && pending.length === 0) return `package has status ${status} but no triggers pending`;
  return undefined;
}
