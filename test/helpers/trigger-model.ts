import { readDebControl, readDebData } from '../../src/archive/deb';
import { parseRelations } from '../../src/control/relations';
import {
  activate,
  emptyTriggerState,
  formatExplicitInterests,
  formatFileInterests,
  formatTriggersAwaited,
  formatTriggersPending,
  nodeName,
  parseTriggersControl,
  parseTriggersPending,
  planTriggerProcessing,
  removeEvents,
  startRun,
  unpackEvents,
  type PlanStep,
  type ScriptCall,
  type ScriptOutcome,
  type TriggerEvent,
  type TriggerState,
} from '../../src/dpkg/triggers';
import type { PackageRow, TriggerFixture } from './trigger-fixtures';

/**
 * The same dpkg commands as the oracle runs, predicted by src/dpkg/triggers from the same .deb files:
 * the unpack and removal events in dpkg's order, then the planner, with each postinst's dpkg-trigger calls
 * taken from the fixture that generated the script. What it predicts is shaped like what DpkgRoot reads
 * back: log lines, status rows, triggers/ files.
 */
export interface ModelRun {
  log: string[];
  steps: PlanStep[];
  /** dpkg's exit status: 1 when any package failed. */
  status: number;
}

export class TriggerModel {
  state: TriggerState = emptyTriggerState();
  private readonly fixtures = new Map<string, TriggerFixture>();
  private readonly files = new Map<string, string[]>();
  /**
   * postinst configure's second argument, dpkg's configversion: never set by configuring, only when dpkg
   * reads a package's status back as installed or triggers-pending (its Version), kept otherwise.
   */
  private readonly configVersions = new Map<string, string>();

  /**
   * What a new dpkg run starts from: the state as the last run wrote it to the status file and this one
   * reads it back (Triggers-Pending comes back reversed), and an empty deferred queue.
   */
  private startRun(): void {
    for (const p of Object.values(this.state.packages)) {
      p.pending = parseTriggersPending(formatTriggersPending(p.pending));
      if (p.status === 'installed' || p.status === 'triggers-pending') this.configVersions.set(p.name, p.version ?? '');
    }
    this.state = startRun(this.state, []).state;
  }

  /** `dpkg [--no-triggers] --install|--unpack DEBS`. */
  async install(debs: ReadonlyArray<{ deb: string; fixture: TriggerFixture }>, opts: { unpackOnly?: boolean; noTriggers?: boolean } = {}): Promise<ModelRun> {
    this.startRun();
    const names: string[] = [];
    for (const { deb, fixture } of debs) {
      this.fixtures.set(fixture.name, fixture);
      const events = await this.unpackEventsOf(deb, fixture.name);
      this.state = activate(this.state, events, { noTriggers: opts.noTriggers }).state;
      names.push(fixture.name);
    }
    return this.plan({ action: opts.unpackOnly ? 'unpack' : 'install', packages: names, triggers: opts.noTriggers ? false : undefined });
  }

  /** `dpkg --remove NAMES`. */
  remove(names: string[]): ModelRun {
    this.startRun();
    for (const name of names) {
      const p = this.state.packages[name];
      const others = new Set([...this.files].filter(([n]) => n !== name && this.state.packages[n]?.status !== 'config-files').flatMap(([, f]) => f));
      const removed = (this.files.get(name) ?? []).slice().reverse().filter((f) => f !== '/.' && !others.has(f));
      this.state = activate(this.state, removeEvents({ package: name, status: p.status, declarations: p.declarations, removedPaths: removed, finalStatus: 'not-installed' })).state;
      this.files.delete(name);
      this.configVersions.delete(name); // purged: the fixtures have neither conffiles nor a postrm
    }
    return this.plan({ action: 'remove' });
  }

  /** `dpkg [--no-triggers] --configure NAMES|--pending` and `dpkg --triggers-only NAMES|--pending`. */
  process(action: 'configure' | 'triggers-only', names: string[] | 'pending', opts: { noTriggers?: boolean } = {}): ModelRun {
    this.startRun();
    const pending = names === 'pending';
    return this.plan({ action, pending, packages: pending ? [] : names, triggers: opts.noTriggers ? false : undefined });
  }

  private plan(options: Parameters<typeof planTriggerProcessing>[1]): ModelRun {
    // A first configure installs every conffile (dpkg's CFO_NEW_CONFF), activating its path and parents.
    const configurePaths = Object.fromEntries(
      [...this.fixtures.values()].filter((f) => !this.configVersions.has(f.name)).map((f) => [f.name, f.conffiles ?? []]),
    );
    const plan = planTriggerProcessing(this.state, { ...options, configurePaths, scripts: (c) => this.scriptOutcome(c) });
    this.state = plan.state;
    const log: string[] = [];
    for (const s of plan.steps) {
      if (s.kind === 'configure') log.push(`${s.package} postinst configure ${this.configVersions.get(s.package) ?? ''}`.trimEnd());
      if (s.kind === 'triggered') log.push(`${s.package} postinst triggered ${s.triggers.join(' ')}`);
    }
    const failed = plan.steps.some((s) => s.kind === 'error' || s.kind === 'cycle') || plan.unresolved.length > 0;
    return { log, steps: plan.steps, status: failed ? 1 : 0 };
  }

  private scriptOutcome(call: ScriptCall): ScriptOutcome {
    const f = this.fixtures.get(call.package);
    const calls = call.args[0] === 'configure' ? f?.onConfigure : f?.onTriggered;
    return {
      dpkgTrigger: (calls ?? []).map((c) => ({ trigger: c.trigger, await: !c.noAwait })),
      exitStatus: call.args[0] === 'triggered' && f?.failTriggered ? 1 : 0,
    };
  }

  private async unpackEventsOf(deb: string, name: string): Promise<TriggerEvent[]> {
    const control = await readDebControl(deb);
    const triggersFile = control.files.get('triggers');
    const newDeclarations = triggersFile === undefined ? undefined : parseTriggersControl(triggersFile, { source: `${name}/triggers`, package: name });
    const members: string[] = [];
    for await (const e of readDebData(deb)) {
      members.push(e.header.name === './' ? '/.' : nodeName(e.header.name));
      e.body.resume();
    }
    const old = this.state.packages[name];
    const oldFiles = this.files.get(name) ?? [];
    this.files.set(name, members);
    const depends = ['Pre-Depends', 'Depends'].flatMap((field) => {
      const v = control.fields.get(field);
      return v === undefined ? [] : parseRelations(field, v);
    });
    return unpackEvents({
      package: name,
      status: old?.status ?? 'not-installed',
      oldDeclarations: old?.declarations,
      newDeclarations,
      members,
      removedPaths: oldFiles.filter((f) => !members.includes(f)).reverse(),
      info: { version: control.fields.get('Version'), architecture: control.fields.get('Architecture'), depends },
    });
  }

  /** The status rows dpkg would have written. */
  statusRows(): Record<string, PackageRow> {
    const rows: Record<string, PackageRow> = {};
    for (const p of Object.values(this.state.packages)) {
      if (p.status === 'not-installed') continue;
      rows[p.name] = { status: p.status, pending: formatTriggersPending(p.pending), awaited: formatTriggersAwaited(p.awaited) };
    }
    return rows;
  }

  /** The triggers/ files dpkg would have left (Unincorp empty after every run). */
  triggerFiles(): Record<string, string> {
    const out: Record<string, string> = { Unincorp: '' };
    const file = formatFileInterests(this.state.interests.file);
    if (file !== '') out.File = file;
    for (const [name, lines] of Object.entries(this.state.interests.explicit)) out[name] = formatExplicitInterests(lines);
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}
