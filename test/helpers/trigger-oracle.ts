import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parseTriggersPending, readTriggerState, writeTriggerInterests, writeTriggerState, writeUnincorp } from '../../src/dpkg/triggers';
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
  /** A second admin folder our writer keeps up to date with the model's interests, run after run. */
  private readonly ours: string;

  private constructor(
    readonly dir: string,
    readonly root: DpkgRoot,
  ) {
    this.ours = path.join(dir, 'ours-admin');
  }

  static async create(dir: string, fixtures: TriggerFixture[]): Promise<TriggerOracle> {
    const o = new TriggerOracle(dir, await DpkgRoot.create(dir));
    await fsp.mkdir(o.ours);
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
    await this.compareReaders(context);
    await this.compareWriter(context);
  }

  /** dpkg's own readers agree with ours: dpkg-query shows Triggers-Pending as read back; our reader reads triggers/. */
  private async compareReaders(context: string): Promise<void> {
    const rows = await this.root.statusRows();
    const query = await this.root.query('${Package}\\t${Triggers-Pending}\\t${Triggers-Awaited}\\n');
    for (const line of query.stdout.split('\n').filter((l) => l !== '')) {
      const [name, pending, awaited] = line.split('\t');
      if (!rows[name]) continue;
      const readBack = parseTriggersPending(rows[name].pending).map((t) => ` ${t}`).join('');
      assert.equal(pending, readBack, `dpkg-query's Triggers-Pending of ${name} after ${context}`);
      assert.equal(awaited, rows[name].awaited.split(' ').filter((x) => x).map((a) => ` ${a}`).join(''), `dpkg-query's Triggers-Awaited of ${name}`);
    }
    const read = await readTriggerState(this.root.adminDir);
    assert.deepEqual(read.interests, this.model.state.interests, `readTriggerState after ${context}`);
    assert.deepEqual(read.unincorp, [], `Unincorp after ${context}`);
  }

  /** Our writer, fed the model's interests run after run, leaves the same files as dpkg. */
  private async compareWriter(context: string): Promise<void> {
    await writeTriggerState(this.ours, await readTriggerState(this.ours), { interests: this.model.state.interests, unincorp: [] });
    const dir = path.join(this.ours, 'triggers');
    const ours: Record<string, string> = {};
    for (const name of (await fsp.readdir(dir)).sort()) {
      if (name === 'Lock') continue;
      ours[name] = await fsp.readFile(path.join(dir, name), 'latin1');
      assert.equal((await fsp.stat(path.join(dir, name))).mode & 0o777, 0o644, `mode of our ${name}`);
    }
    assert.deepEqual(ours, await this.root.triggerFiles(), `our triggers/ files after ${context}`);
  }

  /**
   * Replaces dpkg's triggers/ with what our writer makes from the model, so that the next commands show
   * that dpkg carries on from our files as from its own.
   */
  async handOverOurTriggerFiles(): Promise<void> {
    const dir = path.join(this.root.adminDir, 'triggers');
    await fsp.rm(dir, { recursive: true, force: true });
    await writeTriggerInterests(this.root.adminDir, { file: [], explicit: {} }, this.model.state.interests);
    await writeUnincorp(this.root.adminDir, []);
  }
}
