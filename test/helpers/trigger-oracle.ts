import assert from 'node:assert/strict';
import { buildTriggerDeb, DpkgRoot, type DpkgResult, type TriggerFixture } from './trigger-fixtures';
import { TriggerModel, type ModelRun } from './trigger-model';

/**
 * One scenario run twice: by real dpkg on a temporary root and by the model, command by command, and after
 * each command the three things compared: the postinst calls (order and arguments), every package's state
 * with its Triggers-Pending / Triggers-Awaited fields as written in the status file, and the files of
 * triggers/.
 */
export class TriggerOracle {
  readonly model = new TriggerModel();
  private readonly debs = new Map<string, { deb: string; fixture: TriggerFixture }>();
  /** What the last command printed on stderr (dpkg) and planned (model). */
  last: { dpkg: DpkgResult; model: ModelRun } | undefined;

  private constructor(
    readonly dir: string,
    readonly root: DpkgRoot,
  ) {}

  static async create(dir: string, fixtures: TriggerFixture[]): Promise<TriggerOracle> {
    const o = new TriggerOracle(dir, await DpkgRoot.create(dir));
    for (const f of fixtures) o.debs.set(`${f.name}_${f.version ?? '1'}`, { deb: await buildTriggerDeb(dir, f), fixture: f });
    return o;
  }

  private deb(ref: string) {
    const d = this.debs.get(ref) ?? this.debs.get(`${ref}_1`);
    assert.ok(d, `no fixture ${ref}`);
    return d;
  }

  /** `dpkg [--no-triggers] -i|--unpack` of fixtures named `name` or `name_version`. */
  async install(refs: string[], opts: { unpackOnly?: boolean; noTriggers?: boolean } = {}): Promise<void> {
    const debs = refs.map((r) => this.deb(r));
    const args = [...(opts.noTriggers ? ['--no-triggers'] : []), opts.unpackOnly ? '--unpack' : '--install', ...debs.map((d) => d.deb)];
    await this.compare(`dpkg ${args.join(' ')}`, args, () => this.model.install(debs, opts));
  }

  async remove(names: string[]): Promise<void> {
    await this.compare(`dpkg -r ${names.join(' ')}`, ['--remove', ...names], async () => this.model.remove(names));
  }

  async process(action: 'configure' | 'triggers-only', names: string[] | 'pending', opts: { noTriggers?: boolean } = {}): Promise<void> {
    const args = [...(opts.noTriggers ? ['--no-triggers'] : []), `--${action}`, ...(names === 'pending' ? ['--pending'] : names)];
    await this.compare(`dpkg ${args.join(' ')}`, args, async () => this.model.process(action, names, opts));
  }

  private async compare(label: string, args: string[], modelRun: () => Promise<ModelRun>): Promise<void> {
    const dpkg = await this.root.dpkg(args);
    const model = await modelRun();
    this.last = { dpkg, model };
    const context = `${label}\n--- dpkg said:\n${dpkg.stdout}${dpkg.stderr}`;
    assert.deepEqual(await this.root.takeLog(), model.log, `postinst calls after ${context}`);
    assert.deepEqual(await this.root.statusRows(), this.model.statusRows(), `status after ${context}`);
    assert.deepEqual(await this.root.triggerFiles(), this.model.triggerFiles(), `triggers/ after ${context}`);
    assert.equal(dpkg.status, model.status, `exit status of ${context}`);
  }
}
