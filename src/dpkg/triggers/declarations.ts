import { printable } from '../../control/printable';
import { OvermergeError } from '../../errors';
import { triggerKind, triggerNameProblem } from './names';

/**
 * A package's `triggers` control file (deb-triggers(5)), read the way dpkg 1.21 reads it
 * (lib/dpkg/triglib.c trig_parse_ci), which is stricter than the manual page in two places:
 * - only lines whose first non-blank character is `#` are comments; `interest foo # note` declares the
 *   trigger `foo # note`, which dpkg refuses for its blanks (the manual says the `#` part is trimmed);
 * - blanks are space, tab and newline only: a CR before the newline is part of the name, and refused.
 * Every line must end with a newline and be shorter than 255 bytes (dpkg's 256-byte line buffer).
 */
export interface TriggerDirective {
  readonly trigger: string;
  /** `-noawait`: the activating package never waits for this trigger's processing. */
  readonly noawait: boolean;
}

export interface TriggerDeclarations {
  /** `interest`, `interest-await`, `interest-noawait`, in file order. */
  readonly interests: readonly TriggerDirective[];
  /** `activate`, `activate-await`, `activate-noawait`, in file order. */
  readonly activates: readonly TriggerDirective[];
}

export const NO_DECLARATIONS: TriggerDeclarations = Object.freeze({ interests: [], activates: [] });

export interface ParseTriggersOptions {
  /** Names the file in error messages. */
  source?: string;
  /** The declaring package, named in the message for an interest in a name of unknown kind. */
  package?: string;
}

/** dpkg's MAXTRIGDIRECTIVE: fgets into 256 bytes, so a line holds at most 254 bytes before its newline. */
const MAX_LINE_BYTES = 254;

const DIRECTIVES: Record<string, { interest: boolean; noawait: boolean }> = {
  interest: { interest: true, noawait: false },
  'interest-await': { interest: true, noawait: false },
  'interest-noawait': { interest: true, noawait: true },
  activate: { interest: false, noawait: false },
  'activate-await': { interest: false, noawait: false },
  'activate-noawait': { interest: false, noawait: true },
};

/**
 * Parses a `triggers` control file; throws OvermergeError('E_BAD_CONTROL') with dpkg's reason on one line.
 * Bytes are read as dpkg reads them (one character per byte); a string is taken as its UTF-8 bytes.
 */
export function parseTriggersControl(input: string | Uint8Array, options: ParseTriggersOptions = {}): TriggerDeclarations {
  const source = options.source ?? 'triggers';
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  const text = bytes.toString('latin1');
  const interests: TriggerDirective[] = [];
  const activates: TriggerDirective[] = [];
  let start = 0;
  for (let lineNo = 1; start < text.length; lineNo++) {
    const nl = text.indexOf('\n', start);
    const line = text.slice(start, nl === -1 ? text.length : nl);
    start = nl === -1 ? text.length : nl + 1;
    const fail = (problem: string) => bad(source, lineNo, problem);
    if (nl === -1 || line.length > MAX_LINE_BYTES || line.includes('\0')) throw fail('too-long line or missing newline');
    const directive = parseLine(line, fail);
    if (directive === undefined) continue;
    (DIRECTIVES[directive.cmd].interest ? interests : activates).push({ trigger: directive.trigger, noawait: DIRECTIVES[directive.cmd].noawait });
  }
  // dpkg reads the file once for the activations, which must all parse, and only then registers the
  // interests, refusing one it could never activate: so a syntax error anywhere is reported first.
  for (const i of interests) {
    if (triggerKind(i.trigger) === 'unknown') {
      const who = options.package === undefined ? '' : ` (in trigger interests for package '${options.package}')`;
      throw new OvermergeError('E_BAD_CONTROL', printable(`${source}: invalid or unknown syntax in trigger name '${i.trigger}'${who}`), {
        op: 'parse triggers',
        path: source,
      });
    }
  }
  return { interests, activates };
}

function parseLine(line: string, fail: (problem: string) => OvermergeError): { cmd: string; trigger: string } | undefined {
  const body = line.replace(/^[ \t]+/, '');
  if (body.startsWith('#')) return undefined;
  const trimmed = body.replace(/[ \t]+$/, '');
  if (trimmed === '') return undefined;
  const m = /^([^ \t]+)[ \t]+(.*)$/s.exec(trimmed);
  if (!m) throw fail('triggers ci file contains unknown directive syntax');
  const [, cmd, trigger] = m;
  if (!Object.hasOwn(DIRECTIVES, cmd)) throw fail(`triggers ci file contains unknown directive '${cmd}'`);
  const problem = triggerNameProblem(trigger);
  if (problem) throw fail(`illegal trigger syntax in trigger name '${trigger}': ${problem}`);
  return { cmd, trigger };
}

function bad(source: string, line: number, problem: string): OvermergeError {
  return new OvermergeError('E_BAD_CONTROL', printable(`${source}:${line}: ${problem}`), { op: 'parse triggers', path: source });
}

/** The text of a triggers control file declaring `d` (one directive per line, dpkg's spelling). */
export function formatTriggersControl(d: TriggerDeclarations): string {
  const line = (kind: string, t: TriggerDirective) => `${kind}${t.noawait ? '-noawait' : ''} ${t.trigger}\n`;
  return d.interests.map((t) => line('interest', t)).join('') + d.activates.map((t) => line('activate', t)).join('');
}
