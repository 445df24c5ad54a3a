import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildAdHocDeb } from '../helpers/fixtures';
import { needs } from '../helpers/gate';
import { tempDir } from '../helpers/temp';
import { promptsOn, runOnTerminal } from '../helpers/terminal';
import { cannotRunDpkg, makeDpkgRoot } from '../dpkg/dpkg-root';
import { OM_DPKG, testEnv } from './dpkg-cli';

/**
 * overmerge-dpkg's conffile prompt against real dpkg's, on the same fixture (a package in versions 1, 1.1
 * with the same conffile, and 2 with a changed one), each program on a root of its own: the prompt's text
 * on a real terminal (util-linux script), the answers Y, N, Enter, D then Y, the forces, --force-confask,
 * --force-confmiss and end of file on a stdin that is not a terminal; then the files beside the conffile,
 * `dpkg -s` and the --status-fd conffile-prompt line. Where overmerge deliberately differs (it decides
 * conffiles of `-i` before its commit, so the version offered is the staged file; an unanswerable prompt
 * undoes the whole transaction) the test says so.
 */
const skip = cannotRunDpkg() ?? needs({ tools: ['script', 'diff'] });

type Tool = 'dpkg' | 'om';
const CONF = 'etc/cfx/cfx.conf';

describe('overmerge-dpkg conffile prompts against real dpkg', { skip }, () => {
  const work = skip ? '' : tempDir('conffile-prompt', { after });
  const debs: Record<string, string> = {};

  before(async () => {
    const build = async (version: string, conf: string): Promise<string> => {
      const dir = fs.mkdtempSync(path.join(work, 'deb-'));
      return buildAdHocDeb(dir, {
        name: 'cfx',
        version,
        entries: [
          { path: CONF, type: 'file', content: conf },
          { path: `usr/share/cfx/v${version}`, type: 'file', content: `${version}\n` },
        ],
        conffiles: [`/${CONF}`],
        fields: { Architecture: 'all' },
      });
    };
    debs['1'] = await build('1', 'setting = 1\n');
    debs['1.1'] = await build('1.1', 'setting = 1\n');
    debs['2'] = await build('2', 'setting = 2\n');
  });

  let roots = 0;
  /** A root with version 1 installed by `tool` and the conffile edited by the administrator (or deleted). */
  const prepared = (tool: Tool, edit: 'edit' | 'delete' = 'edit'): string => {
    const root = path.join(work, `${tool}-${roots++}`);
    makeDpkgRoot(root);
    const r = run(tool, root, ['-i', debs['1']]);
    assert.equal(r.status, 0, r.stderr);
    if (edit === 'edit') fs.writeFileSync(path.join(root, CONF), 'setting = mine\n');
    else fs.rmSync(path.join(root, CONF));
    return root;
  };

  const argv = (tool: Tool, root: string, args: string[]): string[] =>
    tool === 'dpkg' ? ['dpkg', `--root=${root}`, `--log=${root}/dpkg.log`, ...args] : [process.execPath, OM_DPKG, `--root=${root}`, `--log=${root}/dpkg.log`, ...args];

  /** Not on a terminal: stdin is `input` from a file (empty: end of file at once). */
  const run = (tool: Tool, root: string, args: string[], input = ''): { status: number; stdout: string; stderr: string } => {
    const [cmd, ...rest] = argv(tool, root, args);
    const r = spawnSync(cmd, rest, { env: testEnv(), input, encoding: 'latin1' });
    return { status: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
  };

  const sh = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  /** On a terminal, with --status-fd 3 into ROOT/status-fd. */
  const onTerminal = (tool: Tool, root: string, args: string[], answers: string[]) =>
    runOnTerminal(`${argv(tool, root, ['--status-fd', '3', ...args]).map(sh).join(' ')} 3>${sh(`${root}/status-fd`)}`, answers, testEnv({ SHELL: '/bin/sh', PAGER: 'cat', DPKG_PAGER: 'cat' }));

  /** What a test compares: the files beside the conffile (content), and dpkg's record of the package. */
  const outcome = (root: string) => {
    const dir = path.dirname(path.join(root, CONF));
    const files = Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f), 'latin1')]));
    const q = spawnSync('dpkg-query', [`--admindir=${root}/var/lib/dpkg`, '-W', '-f', '${Status} ${Version}\n${Conffiles}\n', 'cfx'], { encoding: 'utf8' });
    return { files, record: q.stdout };
  };

  const norm = (text: string, root: string): string => text.split(root).join('ROOT');
  const promptLines = (root: string): string[] =>
    fs.readFileSync(path.join(root, 'status-fd'), 'latin1').split('\n').filter((l) => l.includes(': conffile-prompt :')).map((l) => norm(l, root));

  for (const [answers, name] of [
    [['y'], 'Y installs the new version, the old one as .dpkg-old'],
    [['N'], 'N keeps the current version, the new one as .dpkg-dist'],
    [[''], 'Enter takes the default, keep'],
    [['d', 'i'], 'D shows the differences and asks again; I installs'],
  ] as const) {
    it(`asks on a terminal at --configure as dpkg asks (apt's sequence): ${name}`, async () => {
      const got: Record<Tool, { prompts: string[]; statusFd: string[]; outcome: ReturnType<typeof outcome>; screen: string; status: number }> = {} as never;
      for (const tool of ['dpkg', 'om'] as const) {
        const root = prepared(tool);
        assert.equal(run(tool, root, ['--unpack', debs['2']]).status, 0);
        const t = await onTerminal(tool, root, ['--configure', 'cfx'], [...answers]);
        got[tool] = { prompts: promptsOn(t.screen).map((p) => norm(p, root)), statusFd: promptLines(root), outcome: outcome(root), screen: t.screen, status: t.status };
      }
      const installing = (screen: string): string[] => screen.split('\n').filter((l) => l.startsWith('Installing new version'));
      assert.deepEqual(installing(got.om.screen), installing(got.dpkg.screen));
      assert.equal(got.om.status, 0, got.om.screen);
      assert.equal(got.dpkg.status, 0, got.dpkg.screen);
      assert.equal(got.om.prompts.length, answers.length, got.om.screen);
      assert.deepEqual(got.om.prompts, got.dpkg.prompts);
      assert.deepEqual(got.om.statusFd, got.dpkg.statusFd);
      assert.deepEqual(got.om.statusFd, [`status: /${CONF} : conffile-prompt : 'ROOT/${CONF}' 'ROOT/${CONF}.dpkg-new' 1 1 `]);
      assert.deepEqual(got.om.outcome, got.dpkg.outcome);
      const kept = answers[answers.length - 1] !== 'y' && answers[answers.length - 1] !== 'i';
      assert.deepEqual(Object.keys(got.om.outcome.files), kept ? ['cfx.conf', 'cfx.conf.dpkg-dist'] : ['cfx.conf', 'cfx.conf.dpkg-old']);
      if (answers[0] === 'd') for (const tool of ['dpkg', 'om'] as const) assert.match(got[tool].screen, /\n-setting = mine\n\+setting = 2\n/, `${tool} shows the diff`);
    });
  }

  it('Z starts $SHELL -i with DPKG_SHELL_REASON, DPKG_CONFFILE_OLD and DPKG_CONFFILE_NEW, then asks again, as dpkg', async () => {
    // A "shell" that shows what it was given and returns at once, so the test need not type into it.
    const shell = path.join(work, 'show-shell');
    fs.writeFileSync(shell, '#!/bin/sh\necho "shell $* reason=$DPKG_SHELL_REASON old=$DPKG_CONFFILE_OLD new=$DPKG_CONFFILE_NEW"\n', { mode: 0o755 });
    const got: Record<Tool, { shown: string[]; outcome: ReturnType<typeof outcome> }> = {} as never;
    for (const tool of ['dpkg', 'om'] as const) {
      const root = prepared(tool);
      assert.equal(run(tool, root, ['--unpack', debs['2']]).status, 0);
      const cmd = `SHELL=${sh(shell)} ${argv(tool, root, ['--configure', 'cfx']).map(sh).join(' ')}`;
      const t = await runOnTerminal(cmd, ['z', 'n'], testEnv({ SHELL: '/bin/sh' }));
      assert.equal(t.status, 0, t.screen);
      const shown = t.screen.split('\n').filter((l) => /^(shell |Useful environment| - DPKG_|Type 'exit')/.test(l)).map((l) => norm(l, root));
      got[tool] = { shown, outcome: outcome(root) };
    }
    assert.deepEqual(got.om, got.dpkg);
    assert.equal(got.om.shown.at(-1), `shell -i reason=conffile-prompt old=ROOT/${CONF} new=ROOT/${CONF}.dpkg-new`);
  });

  it('asks at -i as dpkg asks, the new version offered being the staged file (overmerge decides before its commit)', async () => {
    const got: Record<Tool, { prompts: string[]; statusFd: string[]; outcome: ReturnType<typeof outcome> }> = {} as never;
    for (const tool of ['dpkg', 'om'] as const) {
      const root = prepared(tool);
      const t = await onTerminal(tool, root, ['-i', debs['2']], ['y']);
      assert.equal(t.status, 0, t.screen);
      got[tool] = { prompts: promptsOn(t.screen).map((p) => norm(p, root)), statusFd: promptLines(root), outcome: outcome(root) };
    }
    assert.deepEqual(got.om.prompts, got.dpkg.prompts);
    assert.equal(got.om.prompts.length, 1);
    assert.deepEqual(got.om.outcome, got.dpkg.outcome);
    assert.equal(got.dpkg.statusFd[0], `status: /${CONF} : conffile-prompt : 'ROOT/${CONF}' 'ROOT/${CONF}.dpkg-new' 1 1 `);
    assert.match(got.om.statusFd[0], new RegExp(`^status: /${CONF} : conffile-prompt : 'ROOT/${CONF}' 'ROOT/var/lib/overmerge/staging/txn-\\d+/[^']+' 1 1 $`));
  });

  /** The forced prompt's lines on stderr: from "Configuration file" to the line that gives the answer. */
  const forcedBlock = (stderr: string, root: string): string => norm(stderr.match(/\nConfiguration file [^\n]*\n(?: ==>|    )[^\n]*\n(?:[^\n]*\n)*? ==> (?:Using|Keeping)[^\n]*\n/)?.[0] ?? `(none in ${JSON.stringify(stderr)})`, root);

  for (const forces of [['confold'], ['confnew'], ['confdef'], ['confdef', 'confnew'], ['confold', 'confnew']]) {
    it(`answers with --force-${forces.join(',')} as dpkg does, saying so, asking nothing`, () => {
      const got: Record<Tool, { block: string; outcome: ReturnType<typeof outcome>; log: string; installing: string[] }> = {} as never;
      for (const tool of ['dpkg', 'om'] as const) {
        const root = prepared(tool);
        const r = run(tool, root, [`--force-${forces.join(',')}`, '-i', debs['2']]);
        assert.equal(r.status, 0, r.stderr);
        const log = fs.readFileSync(path.join(root, 'dpkg.log'), 'utf8').split('\n').filter((l) => l.includes(' conffile '));
        got[tool] = {
          block: forcedBlock(r.stderr, root),
          outcome: outcome(root),
          log: log.map((l) => l.slice(20)).join('\n'),
          installing: r.stdout.split('\n').filter((l) => l.startsWith('Installing new version')),
        };
      }
      assert.deepEqual(got.om, got.dpkg);
      assert.match(got.om.block, /^\nConfiguration file '\/etc\/cfx\/cfx\.conf' \(actually 'ROOT\/etc\/cfx\/cfx\.conf'\)\n ==> Modified/);
      const install = forces.includes('confnew') && !forces.includes('confdef');
      assert.equal(got.om.log, `conffile /${CONF} ${install ? 'install' : 'keep'}`);
      assert.deepEqual(got.om.installing, install ? [`Installing new version of config file /${CONF} ...`] : []);
    });
  }

  it('--force-confask asks about a modified conffile the package did not change, as dpkg; without it nothing is asked', async () => {
    for (const tool of ['dpkg', 'om'] as const) {
      const root = prepared(tool);
      const quiet = run(tool, root, ['-i', debs['1.1']]);
      assert.equal(quiet.status, 0, quiet.stderr);
      assert.doesNotMatch(quiet.stderr, /Configuration file/);
      assert.deepEqual(Object.keys(outcome(root).files), ['cfx.conf']);
    }
    const got: Record<Tool, { prompts: string[]; outcome: ReturnType<typeof outcome>; statusFd: string[] }> = {} as never;
    for (const tool of ['dpkg', 'om'] as const) {
      const root = prepared(tool);
      assert.equal(run(tool, root, ['--unpack', debs['1.1']]).status, 0);
      const t = await onTerminal(tool, root, ['--force-confask', '--configure', 'cfx'], ['y']);
      assert.equal(t.status, 0, t.screen);
      got[tool] = { prompts: promptsOn(t.screen).map((p) => norm(p, root)), outcome: outcome(root), statusFd: promptLines(root) };
    }
    assert.deepEqual(got.om, got.dpkg);
    assert.match(got.om.prompts[0] ?? '', /     Version in package is the same as at last installation\.\n/);
    assert.deepEqual(got.om.statusFd, [`status: /${CONF} : conffile-prompt : 'ROOT/${CONF}' 'ROOT/${CONF}.dpkg-new' 1 0 `]);
    assert.deepEqual(got.om.outcome.files, { 'cfx.conf': 'setting = 1\n', 'cfx.conf.dpkg-old': 'setting = mine\n' });
  });

  it('--force-confmiss puts a deleted conffile back, saying so, as dpkg', () => {
    const got: Record<Tool, { outcome: ReturnType<typeof outcome>; said: string }> = {} as never;
    for (const tool of ['dpkg', 'om'] as const) {
      const root = prepared(tool, 'delete');
      const r = run(tool, root, ['--force-confmiss', '-i', debs['2']]);
      assert.equal(r.status, 0, r.stderr);
      got[tool] = { outcome: outcome(root), said: r.stderr.match(/\nConfiguration file '[^']*', does not exist on system\.\n[^\n]*\n/)?.[0] ?? '' };
    }
    assert.deepEqual(got.om, got.dpkg);
    assert.deepEqual(got.om.outcome.files, { 'cfx.conf': 'setting = 2\n' });
    assert.equal(got.om.said, `\nConfiguration file '/${CONF}', does not exist on system.\nInstalling new config file as you requested.\n`);
  });

  it('says "Installing new version of config file" on stdout where only the package changed it, as dpkg', () => {
    const got: Record<Tool, { stdout: string[]; outcome: ReturnType<typeof outcome> }> = {} as never;
    for (const tool of ['dpkg', 'om'] as const) {
      const root = path.join(work, `${tool}-${roots++}`);
      makeDpkgRoot(root);
      assert.equal(run(tool, root, ['-i', debs['1']]).status, 0);
      const r = run(tool, root, ['-i', debs['2']]);
      assert.equal(r.status, 0, r.stderr);
      got[tool] = { stdout: r.stdout.split('\n').filter((l) => l.startsWith('Installing new version')), outcome: outcome(root) };
    }
    assert.deepEqual(got.om, got.dpkg);
    assert.deepEqual(got.om.stdout, [`Installing new version of config file /${CONF} ...`]);
  });

  it('a deleted conffile the package changed is asked about ("Deleted"), and stays deleted on N, as dpkg', async () => {
    const got: Record<Tool, { prompts: string[]; outcome: ReturnType<typeof outcome> }> = {} as never;
    for (const tool of ['dpkg', 'om'] as const) {
      const root = prepared(tool, 'delete');
      assert.equal(run(tool, root, ['--unpack', debs['2']]).status, 0);
      const t = await onTerminal(tool, root, ['--configure', 'cfx'], ['n']);
      assert.equal(t.status, 0, t.screen);
      got[tool] = { prompts: promptsOn(t.screen).map((p) => norm(p, root)), outcome: outcome(root) };
    }
    assert.deepEqual(got.om, got.dpkg);
    assert.match(got.om.prompts[0] ?? '', / ==> Deleted \(by you or by a script\) since installation\.\n/);
  });

  it('end of file on a stdin that is not a terminal fails the prompt in dpkg\'s words (overmerge undoes the transaction)', () => {
    const got: Record<Tool, { r: ReturnType<typeof run>; outcome: ReturnType<typeof outcome> }> = {} as never;
    for (const tool of ['dpkg', 'om'] as const) {
      const root = prepared(tool);
      got[tool] = { r: run(tool, root, ['-i', debs['2']]), outcome: outcome(root) };
    }
    for (const tool of ['dpkg', 'om'] as const) {
      assert.equal(got[tool].r.status, 1, tool);
      assert.match(got[tool].r.stderr, /\*\*\* cfx\.conf \(Y\/I\/N\/O\/D\/Z\) \[default=N\] \? dpkg: error processing (?:package cfx|archive \S+cfx_2\.deb) \(--install\):\n end of file on stdin at conffile prompt\n/, tool);
    }
    // dpkg unpacked version 2 and leaves it unpacked; overmerge undid the transaction: version 1 as it was.
    assert.match(got.dpkg.outcome.record, /^install ok unpacked 2\n/);
    assert.match(got.om.outcome.record, /^install ok installed 1\n/);
    assert.deepEqual(got.om.outcome.files, { 'cfx.conf': 'setting = mine\n' });
  });

  it('kill -9 at any point after the answer: recover leaves the root before the upgrade or after it with the answer carried out', (t) => {
    const template = prepared('om');
    const seen = { before: 0, after: 0 };
    // Every crash point of the run, one run each, until a run passes them all (overmerge-dpkg does not count them).
    for (let at = 1; ; at++) {
      assert.ok(at < 1000, 'the sweep ends');
      const root = path.join(work, `om-crash-${at}`);
      fs.cpSync(template, root, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      const r = spawnSync(process.execPath, [OM_DPKG, `--root=${root}`, '-i', debs['2']], { env: testEnv({ OVERMERGE_DEBUG_CRASH_AT: String(at) }), input: 'y\n', encoding: 'utf8' });
      if (r.signal !== 'SIGKILL') {
        assert.equal(r.status, 0, r.stderr);
        fs.rmSync(root, { recursive: true, force: true });
        break;
      }
      const rec = spawnSync(process.execPath, [path.join(path.dirname(OM_DPKG), 'overmerge'), '--root', root, 'recover'], { env: testEnv(), encoding: 'utf8' });
      assert.equal(rec.status, 0, `recover after point ${at}: ${rec.stderr}`);
      const o = outcome(root);
      if (/^install ok installed 1\n/.test(o.record)) {
        assert.deepEqual(o.files, { 'cfx.conf': 'setting = mine\n' }, `point ${at}: undone`);
        seen.before++;
      } else {
        assert.match(o.record, /^install ok (installed|unpacked|half-configured) 2\n/, `point ${at}`);
        assert.deepEqual(o.files, { 'cfx.conf': 'setting = 2\n', 'cfx.conf.dpkg-old': 'setting = mine\n' }, `point ${at}: done, the answer (Y) carried out`);
        seen.after++;
      }
      fs.rmSync(root, { recursive: true, force: true });
    }
    t.diagnostic(`crash points: ${seen.before} recovered to version 1, ${seen.after} to version 2`);
    assert.ok(seen.before > 0 && seen.after > 0, JSON.stringify(seen));
  });

  it('reads the answer from a stdin that is not a terminal, as dpkg does', () => {
    const got: Record<Tool, ReturnType<typeof outcome>> = {} as never;
    for (const tool of ['dpkg', 'om'] as const) {
      const root = prepared(tool);
      const r = run(tool, root, ['-i', debs['2']], 'y\n');
      assert.equal(r.status, 0, r.stderr);
      got[tool] = outcome(root);
    }
    assert.deepEqual(got.om, got.dpkg);
    assert.deepEqual(got.om.files, { 'cfx.conf': 'setting = 2\n', 'cfx.conf.dpkg-old': 'setting = mine\n' });
  });
});

describe('overmerge install: the conffile prompt on a terminal only', { skip: needs({ root: 'file owners', tools: ['script'] }) }, () => {
  const work = tempDir('conffile-prompt-om', { after });
  const OM = path.join(path.dirname(OM_DPKG), 'overmerge');
  const build = (version: string, conf: string): Promise<string> =>
    buildAdHocDeb(fs.mkdtempSync(path.join(work, 'deb-')), { name: 'cfy', version, entries: [{ path: 'etc/cfy.conf', type: 'file', content: conf }], conffiles: ['/etc/cfy.conf'], fields: { Architecture: 'all' } });

  it('asks as dpkg asks when stdin is a terminal, and keeps the local version without asking when it is not', async () => {
    const v1 = await build('1', 'one\n');
    const v2 = await build('2', 'two\n');
    const v3 = await build('3', 'three\n');
    const root = path.join(work, 'root');
    fs.mkdirSync(root);
    const om = (args: string[]) => spawnSync(process.execPath, [OM, '--root', root, ...args], { env: testEnv(), input: '', encoding: 'utf8' });
    assert.equal(om(['install', v1]).status, 0);
    fs.writeFileSync(path.join(root, 'etc/cfy.conf'), 'mine\n');
    const t = await runOnTerminal(`${process.execPath} ${OM} --root ${root} install ${v2}`, ['y'], testEnv());
    assert.equal(t.status, 0, t.screen);
    assert.deepEqual(promptsOn(t.screen).map((p) => p.split('\n').slice(0, 4).join('\n')), [
      `\nConfiguration file '/etc/cfy.conf' (actually '${root}/etc/cfy.conf')\n ==> Modified (by you or by a script) since installation.\n ==> Package distributor has shipped an updated version.`,
    ]);
    assert.equal(fs.readFileSync(path.join(root, 'etc/cfy.conf'), 'utf8'), 'two\n');
    assert.equal(fs.readFileSync(path.join(root, 'etc/cfy.conf.dpkg-old'), 'utf8'), 'mine\n');
    fs.writeFileSync(path.join(root, 'etc/cfy.conf'), 'mine again\n');
    const quiet = om(['install', v3]);
    assert.equal(quiet.status, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /Configuration file/);
    assert.match(quiet.stderr, /keeping locally modified config file \/etc\/cfy\.conf; new version installed as \/etc\/cfy\.conf\.dpkg-dist/);
    assert.deepEqual(fs.readdirSync(path.join(root, 'etc')).sort(), ['cfy.conf', 'cfy.conf.dpkg-dist']);
  });
});
