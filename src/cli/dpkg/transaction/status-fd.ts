import { writeToDescriptor } from '../../../fs/descriptor-output';
import type { PkgState } from '../../../dpkg/model';
import type { DpkgEvent, PkgLabel, ProcessingAction } from '../../../model/events';

/**
 * dpkg's machine-readable progress (lib/dpkg/log.c statusfd_send, dbmodify.c modstatdb_note,
 * src/main/errors.c, configure.c, help.c log_action), which apt reads from --status-fd
 * (apt-pkg/deb/dpkgpm.cc ProcessDpkgStatusLine: it splits on ": " into at most four parts and looks at the
 * first word). One line per event, every newline in it turned into a space:
 *
 *   processing: ACTION: PKG                               ACTION: install upgrade configure remove purge
 *                                                          disappear trigproc
 *   status: PKG: STATE                                     STATE: dpkg's state names
 *   status: PKG : error : MESSAGE                          PKG: a package name, or an archive as given
 *   status: FILE : conffile-prompt : 'OLD' 'NEW' U D       U, D: 1 or 0 (user edited, dist edited), and a
 *                                                          trailing space, as dpkg writes it
 *
 * PKG is the name dpkg prints (`name`, or `name:arch` where it would be ambiguous: Multi-Arch: same or a
 * foreign architecture); apt works out the architecture of an unqualified name itself.
 */
export function statusFdLine(event: DpkgEvent): string | undefined {
  switch (event.kind) {
    case 'processing':
      return line(`processing: ${event.action}: ${event.pkg.name}`);
    case 'status':
      return line(`status: ${event.pkg.name}: ${event.state}`);
    case 'error':
      return line(`status: ${event.subject} : error : ${event.message}`);
    case 'conffile-prompt':
      return line(`status: ${event.path} : conffile-prompt : '${event.current}' '${event.incoming}' ${event.userEdited ? 1 : 0} ${event.distEdited ? 1 : 0} `);
    default:
      return undefined;
  }
}

function line(text: string): string {
  return `${text.replace(/\n/g, ' ')}\n`;
}

/**
 * dpkg's --log lines (log_message), each `YYYY-MM-DD HH:MM:SS ` in local time first:
 *   startup archives install | startup packages configure
 *   status STATE name:arch VERSION
 *   ACTION name:arch INSTALLED-VERSION AVAILABLE-VERSION
 *   conffile PATH install|keep
 */
export function logLine(event: DpkgEvent, now: Date): string | undefined {
  const stamp = timestamp(now);
  switch (event.kind) {
    case 'startup':
      return `${stamp} startup ${event.what} ${event.action}\n`;
    case 'status':
      return `${stamp} status ${event.state} ${event.pkg.qualified} ${event.version}\n`;
    case 'processing':
      return `${stamp} ${event.action} ${event.pkg.qualified} ${event.installedVersion} ${event.availableVersion}\n`;
    case 'conffile':
      return `${stamp} conffile ${event.path} ${event.decision}\n`;
    default:
      return undefined;
  }
}

function timestamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * When dpkg writes a `status:` line. dpkg marks a package "dirty" whenever its state changes — and when it
 * reads it from the database in any state but not-installed — and each time it records the package
 * (modstatdb_note) it writes the line if the package is dirty, then clears the mark. So the first record
 * of an installed package in a run announces the state it was read in (`dpkg -r foo` starts with
 * `status: foo: installed`), and a record that changes nothing announces nothing.
 *
 * The engine creates one per run with the states as read, and calls `note` wherever dpkg calls
 * modstatdb_note; it returns the event to emit, if any.
 */
export class StatusNotes {
  private readonly states = new Map<string, { state: PkgState; dirty: boolean }>();

  /** `loaded`: each package's state as read from the database, by its dpkg name. */
  constructor(loaded: Iterable<readonly [string, PkgState]> = []) {
    for (const [name, state] of loaded) this.states.set(name, { state, dirty: state !== 'not-installed' });
  }

  /** pkg_set_status(): a new state marks the package dirty. */
  set(pkg: PkgLabel, state: PkgState): void {
    const s = this.states.get(pkg.name) ?? { state: 'not-installed', dirty: false };
    if (s.state !== state) this.states.set(pkg.name, { state, dirty: true });
    else this.states.set(pkg.name, s);
  }

  /** modstatdb_note(): the status event to emit, if the package is dirty. */
  note(pkg: PkgLabel, version: string): DpkgEvent | undefined {
    const s = this.states.get(pkg.name);
    if (!s || !s.dirty) return undefined;
    s.dirty = false;
    return { kind: 'status', pkg, state: s.state, version };
  }
}

/**
 * The `status:` and `processing:` lines dpkg 1.21 writes for one package, in order, for the common paths
 * (read off a real dpkg with --status-fd; test/cli/dpkg-status-fd.test.ts checks them against it). What a
 * driver emits for these actions must match them, so that apt's progress (which expects
 * half-installed, unpacked for an unpack; half-configured, installed for a configure; half-configured,
 * half-installed for a removal; config-files, not-installed for a purge) advances as with dpkg.
 */
export const STATE_SEQUENCES: Readonly<Record<string, readonly string[]>> = {
  'unpack, not installed before': ['processing: install', 'half-installed', 'unpacked'],
  'unpack over an installed version': ['processing: upgrade', 'half-configured', 'unpacked', 'half-installed', 'unpacked'],
  'configure an unpacked package': ['processing: configure', 'unpacked', 'half-configured', 'installed'],
  'configure just unpacked in the same run (-i)': ['processing: configure', 'half-configured', 'installed'],
  'remove an installed package': ['installed', 'processing: remove', 'half-configured', 'half-installed', 'config-files'],
  'purge a removed package': ['config-files', 'processing: purge', 'not-installed'],
  'purge an installed package': ['installed', 'processing: remove', 'half-configured', 'half-installed', 'config-files', 'processing: purge', 'not-installed'],
};

/** The processing actions apt knows (PackageProcessingOps); any other would be ignored by it. */
export const PROCESSING_ACTIONS: readonly ProcessingAction[] = ['install', 'upgrade', 'configure', 'remove', 'purge', 'disappear', 'trigproc'];

/**
 * Where the lines go: every --status-fd descriptor and every --status-logger's standard input (newest
 * first, as dpkg keeps them), and the --log file. A failed write is fatal, as in dpkg.
 */
export type LineSink = (bytes: Buffer) => void;

export class StatusFdWriter {
  constructor(
    private readonly sinks: readonly LineSink[],
    private readonly log?: LineSink,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** An event sink for a driver. */
  readonly emit = (event: DpkgEvent): void => {
    const text = statusFdLine(event);
    if (text !== undefined) {
      const bytes = Buffer.from(text, 'latin1');
      for (const sink of this.sinks) sink(bytes);
    }
    const logText = this.log && logLine(event, this.now());
    if (logText !== undefined && this.log) this.log(Buffer.from(logText, 'latin1'));
  };
}

/** A sink writing to descriptor `fd`; a failure is reported as dpkg reports it. */
export function descriptorSink(fd: number): LineSink {
  return (bytes) => {
    try {
      writeToDescriptor(fd, bytes);
    } catch (err) {
      throw new Error(`unable to write to status fd ${fd}: ${(err as Error).message}`);
    }
  };
}
