import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PkgState } from '../../src/dpkg/model';
import type { TransactionDriver, TransactionOutcome } from '../../src/cli/dpkg/transaction/driver';
import type { DpkgEvent, DpkgEventSink } from '../../src/model/events';
import type { ArchiveRequest, PackageRequest, TransactionRequest } from '../../src/cli/dpkg/transaction/request';
import { OVERMERGE_DPKG } from '../helpers/apt-chroot';
import { logLine, STATE_SEQUENCES, statusFdLine, StatusNotes } from '../../src/cli/dpkg/transaction/status-fd';
import { cannotRunDpkg, dpkg, makeDpkgRoot, quietPackage, buildDeb } from '../dpkg/dpkg-root';
import { difference, omDpkg, realDpkg } from './dpkg-cli';

/**
 * The transaction actions: their command lines parsed into typed requests (checked as dpkg checks them,
 * errors compared with real dpkg), handed to the driver, dpkg's closing report and exit status, the
 * --status-fd lines written from a driver's events, --recursive's walk order, and the refusals until the
 * engine's driver is wired in.
 */

/** A driver that records what it is asked and answers with `outcome`, emitting `events` first. */
function recorder(outcome: TransactionOutcome = { packages: [], halted: false }, events: DpkgEvent[] = []): TransactionDriver & { requests: TransactionRequest[] } {
  const requests: TransactionRequest[] = [];
  const run = async (req: TransactionRequest, sink: DpkgEventSink): Promise<TransactionOutcome> => {
    requests.push(req);
    for (const e of events) sink(e);
    return outcome;
  };
  return { requests, install: run, unpack: run, configure: run, triggersOnly: run, remove: run, purge: run };
}

describe('overmerge-dpkg transaction requests', () => {
  let work: string;
  let deb: string;
  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-dpkgtx-'));
    deb = path.join(work, 'a.deb');
    fs.writeFileSync(deb, '!<arch>\n');
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** The request a command line makes, with no configuration files (the host's could add forces). */
  async function request(argv: string[], env: Record<string, string | undefined> = {}): Promise<TransactionRequest> {
    const driver = recorder();
    const r = await omDpkg(argv, { transactionDriver: driver, env: { HOME: undefined, ...env }, configDir: work });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(driver.requests.length, 1);
    return driver.requests[0];
  }

  it('parses archive actions with every option into an ArchiveRequest', async () => {
    const log = path.join(work, 'log');
    const req = (await request([
      '--root=/r',
      '--admindir=/a',
      '-i',
      '-EBO',
      '--force-overwrite,depends',
      '--refuse-downgrade',
      '--no-triggers',
      '--abort-after=1',
      '--path-exclude=/usr/share/doc/*',
      '--path-include=/usr/share/doc/*/copyright',
      `--log=${log}`,
      '--ignore-depends=b,c:amd64',
      '--no-debsig',
      '-D2',
      '--dry-run',
      deb,
    ])) as ArchiveRequest;
    assert.deepEqual(req, {
      instdir: '/r',
      admindir: '/a',
      noAct: true,
      forces: ['security-mac', 'overwrite', 'depends'],
      ignoreDepends: ['b', 'c:amd64'],
      triggers: 'defer',
      abortAfter: 1,
      statusFds: [],
      statusLoggers: [],
      log,
      debug: 2,
      action: 'install',
      archives: [deb],
      recursive: false,
      selectedOnly: true,
      skipSameVersion: true,
      autoDeconfigure: true,
      pathFilters: [
        { pattern: '/usr/share/doc/*', include: false },
        { pattern: '/usr/share/doc/*/copyright', include: true },
      ],
      noDebsig: true,
    });
  });

  it('parses package actions: names (with architectures), --pending, and dpkg’s trigger defaults', async () => {
    const cases: Array<[string[], Partial<PackageRequest>]> = [
      [['--configure', 'a', 'b:i386'], { action: 'configure', triggers: 'process', target: { pending: false, packages: [{ name: 'a', text: 'a' }, { name: 'b', arch: 'i386', text: 'b:i386' }] } }],
      [['--configure', '-a'], { action: 'configure', triggers: 'process', target: { pending: true } }],
      [['--triggers-only', 'a'], { action: 'triggers-only', triggers: 'defer' }],
      [['--triggers-only', '--pending'], { action: 'triggers-only', triggers: 'process' }],
      [['--triggers', '--triggers-only', 'a'], { action: 'triggers-only', triggers: 'process' }],
      [['-r', '--pending'], { action: 'remove', target: { pending: true } }],
      [['-P', 'x'], { action: 'purge', target: { pending: false, packages: [{ name: 'x', text: 'x' }] } }],
    ];
    for (const [argv, want] of cases) {
      const req = (await request(['--dry-run', ...argv])) as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(want)) assert.deepEqual(req[k], v, `${argv.join(' ')}: ${k}`);
    }
  });

  it('reports the driver’s outcome as dpkg does: the failed listed, exit 1, halted', async () => {
    const outcome: TransactionOutcome = {
      packages: [
        { subject: 'a', result: 'done' },
        { subject: 'b', result: 'failed', message: 'dependency problems - leaving unconfigured' },
        { subject: '/x/c.deb', result: 'failed' },
      ],
      halted: true,
    };
    const r = await omDpkg(['--dry-run', '--configure', 'a', 'b'], { transactionDriver: recorder(outcome) });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.toString(), 'Errors were encountered while processing:\n b\n /x/c.deb\nProcessing was halted because there were too many errors.\n');
  });

  it('writes the driver’s events to --status-fd descriptors and the --log file in dpkg’s formats', async () => {
    const pkg = { name: 'foo', qualified: 'foo:amd64' };
    const events: DpkgEvent[] = [
      { kind: 'startup', what: 'packages', action: 'configure' },
      { kind: 'processing', action: 'install', pkg, installedVersion: '<none>', availableVersion: '1.0' },
      { kind: 'status', pkg, state: 'half-installed', version: '1.0' },
      { kind: 'conffile-prompt', path: '/etc/foo.conf', current: '/etc/foo.conf', incoming: '/etc/foo.conf.dpkg-new', userEdited: true, distEdited: false },
      { kind: 'error', subject: 'foo', message: 'subprocess installed post-installation script returned error exit status 1\nsecond line' },
    ];
    const out = path.join(work, 'status');
    const log = path.join(work, 'dpkg.log');
    const fd = fs.openSync(out, 'w');
    try {
      const r = await omDpkg(['--dry-run', `--status-fd=${fd}`, `--log=${log}`, '--configure', 'foo'], { transactionDriver: recorder({ packages: [], halted: false }, events) });
      assert.equal(r.status, 0, r.stderr.toString());
    } finally {
      fs.closeSync(fd);
    }
    assert.equal(
      fs.readFileSync(out, 'utf8'),
      'processing: install: foo\n' +
        'status: foo: half-installed\n' +
        "status: /etc/foo.conf : conffile-prompt : '/etc/foo.conf' '/etc/foo.conf.dpkg-new' 1 0 \n" +
        'status: foo : error : subprocess installed post-installation script returned error exit status 1 second line\n',
    );
    const logged = fs.readFileSync(log, 'utf8').replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /gm, 'T ');
    assert.equal(logged, 'T startup packages configure\nT install foo:amd64 <none> 1.0\nT status half-installed foo:amd64 1.0\n');
  });

  it('checks the archives and changes nothing with --dry-run, and refuses the forces overmerge refuses, with one line', async () => {
    const r = await omDpkg(['--dry-run', '-i', deb]);
    // The test's archive is an empty file: read, refused as dpkg refuses a broken archive, nothing changed.
    assert.deepEqual([r.status, r.stdout.toString()], [1, '']);
    assert.match(r.stderr.toString(), /^dpkg: error processing archive .*a\.deb \(--install\):\n .*empty archive\nErrors were encountered while processing:\n .*a\.deb\n$/);
    const g = await omDpkg(['--dry-run', '-G', '-i', deb]);
    assert.deepEqual([g.status, g.stderr.toString()], [2, 'overmerge-dpkg: error: --refuse-downgrade is not supported: a lower version may replace the installed one: always so in overmerge, so --refuse-downgrade (and -G) refuse the transaction\n']);
    const f = await omDpkg(['--dry-run', '--force-configure-any', '-r', 'x'], { transactionDriver: recorder() });
    assert.deepEqual([f.status, f.stderr.toString()], [2, 'overmerge-dpkg: error: --force-configure-any is not supported: the engine configures only the packages named or pending, never others that might help\n']);
    const all = await omDpkg(['--dry-run', '--force-all', '-r', 'x'], { transactionDriver: recorder() });
    assert.equal(all.status, 2, 'force-all includes configure-any');
    const unsafe = await omDpkg(['--dry-run', '--force-unsafe-io', '-r', 'x'], { transactionDriver: recorder() });
    assert.equal(unsafe.status, 0, 'force-unsafe-io is a no-op');
  });
});

describe('overmerge-dpkg --status-fd lines', () => {
  it('formats each event as dpkg does, newlines turned into spaces', () => {
    const pkg = { name: 'libm:i386', qualified: 'libm:i386' };
    assert.equal(statusFdLine({ kind: 'processing', action: 'trigproc', pkg, installedVersion: '1', availableVersion: '1' }), 'processing: trigproc: libm:i386\n');
    assert.equal(statusFdLine({ kind: 'status', pkg, state: 'triggers-awaited', version: '1' }), 'status: libm:i386: triggers-awaited\n');
    assert.equal(statusFdLine({ kind: 'error', subject: '/tmp/x.deb', message: 'a\nb' }), 'status: /tmp/x.deb : error : a b\n');
    assert.equal(statusFdLine({ kind: 'conffile', path: '/etc/x', decision: 'keep' }), undefined);
    assert.equal(logLine({ kind: 'conffile', path: '/etc/x', decision: 'keep' }, new Date(2024, 0, 2, 3, 4, 5)), '2024-01-02 03:04:05 conffile /etc/x keep\n');
  });

  it('announces a package read in any state but not-installed at its first record, then only changes', () => {
    const foo = { name: 'foo', qualified: 'foo:amd64' };
    const notes = new StatusNotes([['foo', 'installed']]);
    const lines: string[] = [];
    const note = (): void => {
      const e = notes.note(foo, '1.0');
      if (e) lines.push(statusFdLine(e)!.trim());
    };
    note();
    note();
    for (const state of ['half-configured', 'half-configured', 'half-installed', 'config-files'] as PkgState[]) {
      notes.set(foo, state);
      note();
    }
    assert.deepEqual(lines, ['status: foo: installed', 'status: foo: half-configured', 'status: foo: half-installed', 'status: foo: config-files']);
    const fresh = new StatusNotes();
    assert.equal(fresh.note({ name: 'new', qualified: 'new:all' }, '1'), undefined);
  });
});

const skip = cannotRunDpkg();

describe('overmerge-dpkg transactions against real dpkg', { skip }, () => {
  let work: string;
  let root: string;
  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'overmerge-dpkgtx-real-'));
    root = makeDpkgRoot(path.join(work, 'root')).root;
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it('gives dpkg’s usage errors before doing anything', async () => {
    const empty = fs.mkdtempSync(path.join(work, 'empty-'));
    fs.mkdirSync(path.join(empty, 'sub'));
    const cases = [
      ['-i'],
      ['--unpack', '-R'],
      ['-R', '--install', empty],
      ['--install', path.join(work, 'no-such.deb')],
      ['--install', empty],
      ['--configure'],
      ['--configure', '-a', 'x'],
      ['--remove', '--pending', 'x'],
      ['--purge', '-bad'],
      ['--triggers-only', 'a:'],
      ['--configure', 'x:-y'],
    ];
    for (const args of cases) {
      const argv = [`--root=${root}`, ...args];
      assert.equal(difference(realDpkg(argv), await omDpkg(argv)), '', args.join(' '));
    }
  });

  it('walks --recursive directories in dpkg’s order', async () => {
    const tree = path.join(work, 'tree');
    const layout: Record<string, string> = { 'b.deb': 'rb', 'a/z.deb': 'raz', 'a/b/c.deb': 'rabc', 'A.deb': 'rcap', 'c-link/x.deb': 'rcx', 'a.deb': 'ra', 'a/a.deb': 'raa' };
    for (const [file, name] of Object.entries(layout)) {
      fs.mkdirSync(path.dirname(path.join(tree, file)), { recursive: true });
      fs.copyFileSync(await buildDeb(work, quietPackage(name, '1.0')), path.join(tree, file));
    }
    fs.writeFileSync(path.join(tree, 'notes.txt'), 'not an archive\n');
    fs.symlinkSync('a', path.join(tree, 'link-to-a'));
    fs.symlinkSync('..', path.join(tree, 'a', 'loop'));
    const driver = recorder();
    const r = await omDpkg(['--dry-run', '--unpack', '-R', tree], { transactionDriver: driver });
    assert.equal(r.status, 0, r.stderr.toString());
    const ours = (driver.requests[0] as ArchiveRequest).archives.map((a) => path.relative(tree, a));
    const run = dpkg({ root, admin: path.join(root, 'var/lib/dpkg') }, ['--no-triggers', '--unpack', '-R', tree]);
    // dpkg hands out the entry after a skipped loop twice; overmerge does not (see recursive.ts).
    const theirs = [...run.stdout.matchAll(/^Unpacking (\S+) /gm)].map((m) => m[1]).filter((n, i, all) => n !== all[i - 1]);
    assert.deepEqual(
      ours.map((p) => layout[p.replace(/^link-to-a\//, 'a/')]),
      theirs,
    );
    assert.ok(ours.includes('link-to-a/z.deb') && !ours.some((p) => p.includes('loop')), ours.join(' '));
  });

  for (const [who, program] of [['real dpkg', 'dpkg'], ['overmerge-dpkg', OVERMERGE_DPKG]] as const) {
  it(`writes the status-fd state sequences real dpkg writes: ${who}`, async () => {
    const r = makeDpkgRoot(path.join(work, `seq-${program === 'dpkg' ? 'dpkg' : 'om'}`));
    const one = await buildDeb(work, quietPackage('seqpkg', '1.0'));
    const two = await buildDeb(work, quietPackage('seqpkg', '2.0'));
    const fdFile = path.join(work, 'fd3');
    const run = (args: string[]): string[] => {
      const fd = fs.openSync(fdFile, 'w');
      try {
        // The file becomes the child's descriptor 3.
        const res = spawnSync(program, [`--root=${r.root}`, '--force-script-chrootless', '--log=/dev/null', '--status-fd=3', ...args], {
          stdio: ['ignore', 'pipe', 'pipe', fd],
          env: { ...process.env, LC_ALL: 'C' },
        });
        assert.equal(res.status, 0, `${args.join(' ')}: ${res.stdout}${res.stderr}`);
      } finally {
        fs.closeSync(fd);
      }
      return fs
        .readFileSync(fdFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (l.startsWith('processing: ') ? l.replace(/: seqpkg$/, '') : l.replace(/^status: seqpkg: /, '')));
    };
    assert.deepEqual(run(['--unpack', one]), STATE_SEQUENCES['unpack, not installed before']);
    assert.deepEqual(run(['--configure', 'seqpkg']), STATE_SEQUENCES['configure an unpacked package']);
    assert.deepEqual(run(['--unpack', two]), STATE_SEQUENCES['unpack over an installed version']);
    assert.deepEqual(run(['--configure', 'seqpkg']), STATE_SEQUENCES['configure an unpacked package']);
    assert.deepEqual(run(['-r', 'seqpkg']), STATE_SEQUENCES['remove an installed package']);
    assert.deepEqual(run(['-P', 'seqpkg']), STATE_SEQUENCES['purge a removed package']);
    assert.deepEqual(run(['-i', one]), [...STATE_SEQUENCES['unpack, not installed before'], ...STATE_SEQUENCES['configure just unpacked in the same run (-i)']]);
    assert.deepEqual(run(['-P', 'seqpkg']), STATE_SEQUENCES['purge an installed package']);
  });
  }
});
