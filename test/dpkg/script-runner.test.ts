import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { DPKG_PROTOCOL_VERSION, dpkgForceString, scriptEnvironment } from '../../src/dpkg/script-env';
import type { MaintScript } from '../../src/dpkg/script-protocol';
import { installedScriptPath, runScript, type RunScriptOptions, type ScriptMode, type ScriptRun } from '../../src/dpkg/script-runner';
import type { ScriptCall } from '../../src/dpkg/script-sequence';
import { privateProcSupport } from '../../src/dpkg/private-proc';
import { OvermergeError } from '../../src/errors';
import { openRoot, parseRootPath, type RootPath } from '../../src/fs/rootpath';
import { REPO_ROOT } from '../helpers/run-cli';
import { withTempDir } from '../helpers/temp';
import { unbuiltAddonPreload } from '../helpers/unbuilt-addon';
import { BASE_ENV, cannotRunScriptOracle, prepareScriptRoot } from '../helpers/script-oracle';

/**
 * The runner on its own: what a script sees (argv, environment, cwd, umask) in both modes, how failures,
 * signals, refusals and disabled scripts are reported. Whether all of it is what dpkg does is
 * test/dpkg/script-oracle.test.ts's job; here each behaviour is pinned down with its message.
 */

const SPY = [
  '#!/bin/sh',
  'out="$DPKG_ROOT/seen"',
  '{ printf "0=%s\\n" "$0"; for a in "$@"; do printf "arg=<%s>\\n" "$a"; done',
  '  printf "cwd=%s\\numask=%s\\n" "$(pwd)" "$(umask)"',
  '  export -p | while IFS= read -r l; do case "$l" in *DPKG_*) printf "%s\\n" "$l";; esac; done; } > "$out"',
  'case "$1" in',
  '  fail) exit 3;;',
  '  kill) kill -TERM $$;;',
  '  int) kill -INT $$;;',
  '  sleep) sleep 1;;',
  'esac',
  'exit 0',
  '',
].join('\n');

function call(script: MaintScript, args: string[], over: Partial<ScriptCall> = {}): ScriptCall {
  return { key: 'hello', package: 'hello', arch: 'all', version: '1.0', source: 'installed', script, args, ifAbsent: 'ok', refcount: 1, ...over };
}

async function withScriptRoot<T>(mode: 'chroot' | 'chrootless', fn: (root: string) => Promise<T>): Promise<T> {
  return withTempDir('script-runner', async (dir) => {
    const root = path.join(dir, 'root');
    await prepareScriptRoot(root, mode);
    return fn(root);
  });
}

async function put(root: string, rel: string, body = SPY, mode = 0o755): Promise<RootPath> {
  await fsp.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await fsp.writeFile(path.join(root, rel), body);
  await fsp.chmod(path.join(root, rel), mode);
  return parseRootPath(rel);
}

async function run(root: string, mode: ScriptMode, c: ScriptCall, script: RootPath, over: Partial<RunScriptOptions> = {}): Promise<ScriptRun> {
  return runScript({ root: await openRoot(root), mode, call: c, script, env: BASE_ENV, stdio: ['ignore', 'ignore', 'ignore'], ...over });
}

async function seen(root: string): Promise<string[]> {
  return (await fsp.readFile(path.join(root, 'seen'), 'utf8')).trim().split('\n');
}

function failure(r: ScriptRun): OvermergeError {
  assert.equal(r.status, 'failed', JSON.stringify(r));
  return (r as Extract<ScriptRun, { status: 'failed' }>).error;
}

test('chrootless: the script runs on the host at its host path, in the root, with DPKG_ROOT set', async () => {
  await withScriptRoot('chrootless', async (root) => {
    const script = await put(root, 'var/lib/dpkg/info/hello.postinst');
    const old = process.umask(0o077);
    let r: ScriptRun;
    try {
      r = await run(root, 'chrootless', call('postinst', ['configure', '', 'two words']), script);
    } finally {
      process.umask(old);
    }
    assert.deepEqual(r, { status: 'ok' });
    assert.deepEqual(await seen(root), [
      `0=${root}/var/lib/dpkg/info/hello.postinst`,
      'arg=<configure>',
      'arg=<>',
      'arg=<two words>',
      `cwd=${root}`,
      'umask=0022',
      `export DPKG_ADMINDIR='${root}/var/lib/dpkg'`,
      "export DPKG_FORCE='security-mac,downgrade,script-chrootless'",
      "export DPKG_MAINTSCRIPT_ARCH='all'",
      "export DPKG_MAINTSCRIPT_DEBUG='0'",
      "export DPKG_MAINTSCRIPT_NAME='postinst'",
      "export DPKG_MAINTSCRIPT_PACKAGE='hello'",
      "export DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT='1'",
      `export DPKG_ROOT='${root}'`,
      `export DPKG_RUNNING_VERSION='${DPKG_PROTOCOL_VERSION}'`,
    ]);
  });
});

test('chroot: the script runs inside the root at its path there, DPKG_ROOT empty', async (t) => {
  const skip = await cannotRunScriptOracle('chroot');
  if (skip) return t.skip(skip);
  await withScriptRoot('chroot', async (root) => {
    const script = await put(root, 'var/lib/dpkg/tmp.ci/preinst');
    const r = await run(root, 'chroot', call('preinst', ['upgrade', '1.0', '2.0'], { source: 'new', arch: 'amd64', refcount: 2 }), script, { debug: true });
    assert.deepEqual(r, { status: 'ok' });
    assert.deepEqual(await seen(root), [
      '0=/var/lib/dpkg/tmp.ci/preinst',
      'arg=<upgrade>',
      'arg=<1.0>',
      'arg=<2.0>',
      'cwd=/',
      'umask=0022',
      "export DPKG_ADMINDIR='/var/lib/dpkg'",
      "export DPKG_FORCE='security-mac,downgrade'",
      "export DPKG_MAINTSCRIPT_ARCH='amd64'",
      "export DPKG_MAINTSCRIPT_DEBUG='1'",
      "export DPKG_MAINTSCRIPT_NAME='preinst'",
      "export DPKG_MAINTSCRIPT_PACKAGE='hello'",
      "export DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT='2'",
      "export DPKG_ROOT=''",
      `export DPKG_RUNNING_VERSION='${DPKG_PROTOCOL_VERSION}'`,
    ]);
  });
});

test('chroot with a private /proc (the bootstrap): the script sees a /proc of its own, gone with it', async (t) => {
  const skip = await cannotRunScriptOracle('chroot');
  if (skip) return t.skip(skip);
  const support = await privateProcSupport();
  if ('why' in support) return t.skip(`cannot make a mount namespace here: ${support.why}`);
  await withScriptRoot('chroot', async (root) => {
    // ischroot(1) reads /proc/1/root; with no /proc it cannot tell, and libc6's postinst sleeps a second.
    const probe = ['#!/bin/sh', 'if [ -e /proc/self/stat ]; then echo proc=yes; else echo proc=no; fi > /seen', 'echo "cwd=$(pwd) args=<$*>" >> /seen', ''].join('\n');
    const script = await put(root, 'var/lib/dpkg/info/hello.postinst', probe);
    const mountsUnder = async (): Promise<string[]> =>
      (await fsp.readFile('/proc/self/mounts', 'utf8')).split('\n').filter((l) => (l.split(' ')[1] ?? '').startsWith(root));

    // No /proc folder in the root (before base-files): plain chroot, nothing mounted.
    assert.deepEqual(await run(root, 'chroot', call('postinst', ['configure', '']), script, { privateProc: support.unshare }), { status: 'ok' });
    assert.deepEqual(await seen(root), ['proc=no', 'cwd=/ args=<configure >']);

    await fsp.mkdir(path.join(root, 'proc'), { mode: 0o555 });
    assert.deepEqual(await run(root, 'chroot', call('postinst', ['configure', '']), script, { privateProc: support.unshare }), { status: 'ok' });
    assert.deepEqual(await seen(root), ['proc=yes', 'cwd=/ args=<configure >']);
    // The mount was the script's namespace's: never in ours, and the folder is empty again.
    assert.deepEqual(await mountsUnder(), []);
    assert.deepEqual(await fsp.readdir(path.join(root, 'proc')), []);

    // Without the option: chroot(8), no /proc, as dpkg runs scripts.
    assert.deepEqual(await run(root, 'chroot', call('postinst', ['configure', '']), script), { status: 'ok' });
    assert.deepEqual((await seen(root))[0], 'proc=no');
  });
});

test('without the spawn_child addon, chroot(8) and unshare(1) start the script in the root: it sees the same', async (t) => {
  const skip = await cannotRunScriptOracle('chroot');
  if (skip) return t.skip(skip);
  const support = await privateProcSupport();
  if ('why' in support) return t.skip(`cannot make a mount namespace here: ${support.why}`);
  await withScriptRoot('chroot', async (root) => {
    const body = SPY.replace('exit 0', 'if [ -e /proc/self/stat ]; then echo proc=yes >> "$out"; else echo proc=no >> "$out"; fi\nexit 0');
    const script = await put(root, 'var/lib/dpkg/info/hello.postinst', body);
    const preload = await unbuiltAddonPreload(path.dirname(root), 'spawn_child.node', 'spawn_child.node refused');
    const runner = path.join(REPO_ROOT, 'dist', 'src', 'dpkg', 'script-runner.js');
    const rootpath = path.join(REPO_ROOT, 'dist', 'src', 'fs', 'rootpath.js');
    for (const privateProc of [undefined, support.unshare]) {
      for (const proc of [false, true]) {
        if (proc) await fsp.mkdir(path.join(root, 'proc'), { mode: 0o555 });
        else await fsp.rm(path.join(root, 'proc'), { recursive: true, force: true });
        const c = call('postinst', ['configure', '1.0']);
        const options = { mode: 'chroot', call: c, script, env: BASE_ENV, stdio: ['ignore', 'ignore', 'ignore'], privateProc };
        assert.deepEqual(await run(root, 'chroot', c, script, { privateProc }), { status: 'ok' });
        const native = await seen(root);
        const code = `const { runScript } = require(${JSON.stringify(runner)}); const { openRoot } = require(${JSON.stringify(rootpath)});
openRoot(${JSON.stringify(root)}).then((r) => runScript({ ...${JSON.stringify(options)}, root: r })).then((x) => process.stdout.write(JSON.stringify(x)));`;
        const r = spawnSync(process.execPath, ['--require', preload, '-e', code], { encoding: 'utf8' });
        assert.deepEqual(JSON.parse(r.stdout), { status: 'ok' });
        assert.match(r.stderr, /spawn_child\.node refused/, 'the addon was asked for, and refused');
        const wrapped = await seen(root);
        assert.deepEqual(wrapped, native, `privateProc ${privateProc !== undefined}, /proc folder ${proc}`);
        assert.equal(native.at(-1), `proc=${proc && privateProc !== undefined ? 'yes' : 'no'}`);
      }
    }
  });
});

test('the environment for the host root itself: no chroot, DPKG_ROOT empty (dpkg without --root)', () => {
  const env = scriptEnvironment({
    package: 'p',
    arch: 'all',
    script: 'prerm',
    refcount: 1,
    mode: 'chrootless',
    root: '/',
    admindir: parseRootPath('var/lib/dpkg'),
    force: dpkgForceString(['downgrade', 'script-chrootless', 'security-mac']),
    base: { PATH: '/bin', DPKG_ROOT: '/stale', DPKG_MAINTSCRIPT_NAME: 'stale' },
  });
  assert.equal(env.DPKG_ROOT, '');
  assert.equal(env.DPKG_ADMINDIR, '/var/lib/dpkg');
  assert.equal(env.DPKG_MAINTSCRIPT_NAME, 'prerm');
  assert.equal(env.DPKG_FORCE, 'security-mac,downgrade,script-chrootless');
  assert.equal(env.PATH, '/bin');
  assert.throws(() => dpkgForceString(['everything']), /unknown dpkg force option 'everything'/);
});

test('a failing script: a typed error naming the package, the script, its arguments and the status', async () => {
  await withScriptRoot('chrootless', async (root) => {
    const script = await put(root, 'var/lib/dpkg/tmp.ci/preinst');
    const r = await run(root, 'chrootless', call('preinst', ['fail', '1.0', ''], { source: 'new' }), script);
    const e = failure(r);
    assert.equal(e.code, 'E_SCRIPT_FAILED');
    assert.equal(e.message, "hello's new pre-installation script (preinst fail 1.0 '') returned error exit status 3");
    assert.equal(e.path, '/var/lib/dpkg/tmp.ci/preinst');
    assert.match(e.hint ?? '', /sh -x \/var\/lib\/dpkg\/tmp.ci\/preinst/);
    assert.equal((r as { exitCode?: number }).exitCode, 3);
  });
});

test('a script killed by a signal is reported with the signal', async () => {
  await withScriptRoot('chrootless', async (root) => {
    const script = await put(root, 'var/lib/dpkg/info/hello.postrm');
    const killed = await run(root, 'chrootless', call('postrm', ['kill']), script);
    assert.equal(failure(killed).message, "hello's installed post-removal script (postrm kill) was killed by signal SIGTERM");
    assert.equal((killed as { signal?: string }).signal, 'SIGTERM');
    const interrupted = await run(root, 'chrootless', call('postrm', ['int']), script);
    assert.equal(failure(interrupted).message, "hello's installed post-removal script (postrm int) was interrupted (SIGINT)");
  });
});

test('while a script runs, SIGINT and SIGQUIT do not stop us; afterwards they are ours again', async () => {
  await withScriptRoot('chrootless', async (root) => {
    const script = await put(root, 'var/lib/dpkg/info/hello.prerm');
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGQUIT')];
    const running = run(root, 'chrootless', call('prerm', ['sleep']), script);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(process.pid, 'SIGINT');
    process.kill(process.pid, 'SIGQUIT');
    assert.deepEqual(await running, { status: 'ok' });
    assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGQUIT')], before);
  });
});

test('a missing script is absent (dpkg: success), whatever the mode', async () => {
  await withScriptRoot('chrootless', async (root) => {
    for (const mode of ['chrootless', 'disabled'] as const) {
      assert.deepEqual(await run(root, mode, call('postinst', ['configure', '']), installedScriptPath('hello', 'postinst')), { status: 'absent' });
    }
    // A missing parent folder too.
    assert.deepEqual(await run(root, 'chrootless', call('postinst', []), parseRootPath('no/such/dir/postinst')), { status: 'absent' });
  });
});

test('scripts disabled: an existing script is skipped with a notice to print, and does not run', async () => {
  await withScriptRoot('chrootless', async (root) => {
    const script = await put(root, 'var/lib/dpkg/info/hello.postinst');
    const r = await run(root, 'disabled', call('postinst', ['configure', '']), script);
    assert.deepEqual(r, {
      status: 'skipped',
      notice: "not running hello's installed post-installation script (postinst configure ''): maintainer scripts are disabled (--no-scripts)",
    });
    await assert.rejects(fsp.access(path.join(root, 'seen')));
  });
});

test('refused: a symlink, a directory, a FIFO, a script nobody may execute, a missing PATH', async () => {
  await withScriptRoot('chrootless', async (root) => {
    const info = path.join(root, 'var/lib/dpkg/info');
    await put(root, 'elsewhere/real');
    await fsp.symlink('../../../elsewhere/real', path.join(info, 'link.prerm'));
    await fsp.mkdir(path.join(info, 'dir.prerm'));
    execFileSync('mkfifo', [path.join(info, 'fifo.prerm')]);
    await put(root, 'var/lib/dpkg/info/plain.prerm', SPY, 0o644);
    const refused = async (key: string, what: string) => {
      const e = failure(await run(root, 'chrootless', call('prerm', ['remove'], { package: key }), installedScriptPath(key, 'prerm')));
      assert.equal(e.code, 'E_SCRIPT_REFUSED');
      assert.equal(e.message, `refusing to run ${key}'s installed pre-removal script (prerm remove): /var/lib/dpkg/info/${key}.prerm is ${what}`);
    };
    await refused('link', 'a symbolic link, not a regular file');
    await refused('dir', 'a directory, not a regular file');
    await refused('fifo', 'a FIFO, not a regular file');
    await refused('plain', 'not executable (mode 0644)');
    const ok = await put(root, 'var/lib/dpkg/info/hello.prerm');
    const noPath = failure(await run(root, 'chrootless', call('prerm', ['remove']), ok, { env: { LC_ALL: 'C' } }));
    assert.equal(noPath.code, 'E_SCRIPT_REFUSED');
    assert.match(noPath.message, /PATH is not set/);
  });
});

test('a script whose interpreter is missing cannot start, and says so', async () => {
  await withScriptRoot('chrootless', async (root) => {
    const script = await put(root, 'var/lib/dpkg/info/hello.postinst', '#!/nonexistent/interpreter\nexit 0\n');
    const e = failure(await run(root, 'chrootless', call('postinst', ['configure', '']), script));
    assert.equal(e.code, 'E_SCRIPT_FAILED');
    assert.equal(e.message, "cannot start hello's installed post-installation script (postinst configure ''): no such file or directory");
  });
});

test('folders on the way are resolved inside the root, as in the chroot, never on the host', async () => {
  await withScriptRoot('chrootless', async (root) => {
    // ROOT/var is an absolute symlink: in the chroot it means ROOT/data/var, on the host /data/var.
    await fsp.rm(path.join(root, 'var'), { recursive: true });
    await put(root, 'data/var/lib/dpkg/info/hello.postinst');
    await fsp.symlink('/data/var', path.join(root, 'var'));
    const r = await run(root, 'chrootless', call('postinst', ['configure', '1.0']), installedScriptPath('hello', 'postinst'));
    assert.deepEqual(r, { status: 'ok' });
    assert.equal((await seen(root))[0], `0=${root}/data/var/lib/dpkg/info/hello.postinst`);
  });
});
