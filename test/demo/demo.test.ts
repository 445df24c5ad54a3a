import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { missing } from '../helpers/gate';
import { REPO_ROOT } from '../helpers/run-cli';

const DEMO = path.join(REPO_ROOT, 'dist', 'src', 'demo', 'main.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runDemo(env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined);
}

test('npm run demo: exits 0, shows the upgrade and the rollback, and cleans up', { timeout: 180_000 }, async () => {
  // A stray crash point in the caller's environment must not break the demo: it drops these itself.
  const r = await runDemo({ ...process.env, OVERMERGE_DEBUG_CRASH_AT: '3' });
  assert.equal(r.status, 0, `demo failed:\n${r.stderr}\n${r.stdout.slice(-3000)}`);
  assert.equal(r.stderr, '', 'the demo writes nothing to stderr when it succeeds');

  const out = r.stdout;
  assert.match(out, /ignoring OVERMERGE_DEBUG_CRASH_AT/);
  // A transcript: commands are shown before their output, with the temporary folder as $DEMO.
  assert.match(out, /^\$ SOURCE_DATE_EPOCH=\d+ overmerge build fixtures\/packages\/hello-1\.0 \$DEMO\/debs\/hello-1\.0\.deb$/m);
  assert.match(out, /^\$ overmerge contents \$DEMO\/debs\/hello-2\.0\.deb\n(?:.*\n)*?.* \.\/usr\/share\/bug\/hello$/m);
  assert.match(out, /^Package: hello$/m);
  assert.match(out, /^install hello:all 1\.0-1$/m);
  assert.match(out, /^install greet:all 1\.0$/m);
  assert.match(out, /^upgrade hello:all 1\.0-1 -> 2\.0-1$/m);
  assert.match(out, /^# \/usr\/share\/bug\/hello is a regular file$/m);
  for (const cmd of ['list', 'files hello', 'verify', 'history', 'rollback']) {
    assert.match(out, new RegExp(`^\\$ overmerge --root \\$DEMO/plain/root --db \\$DEMO/plain/overmerge\\.sqlite ${cmd}$`, 'm'));
  }
  assert.match(out, /--keep-backups/);
  assert.match(out, /\(can roll back\)/);
  assert.match(out, /^rolled back transaction 2$/m);
  assert.match(out, /^downgrade hello:all 2\.0-1 -> 1\.0-1$/m);

  if (missing({ mount: 'overlay' }) !== undefined) {
    assert.match(out, /skipping the overlay part: /);
  } else {
    assert.match(out, /^== overmerge on an overlay root$/m);
    assert.match(out, /^\$ mount -t overlay /m);
    assert.match(out, /^# \/usr\/share\/bug\/hello is a regular file in the merged view$/m);
    assert.match(out, /^ +whiteout +\/usr\/share\/doc\/hello\/README\.old/m);
    assert.match(out, /^# left in the lower layer, identical in 1\.0 and 2\.0 so never copied up: .*\/usr\/share\/doc\/hello\/copyright/m);
    assert.doesNotMatch(out, /^ +file +\/usr\/share\/doc\/hello\/copyright$/m);
    if (missing({ tools: ['dpkg'] }) === undefined) {
      assert.match(out, /^== dpkg on an overlay root$/m);
      // dpkg's failure, unless this kernel's overlayfs renames lower directories itself (the demo says so).
      assert.match(out, /# dpkg failed: unable to move aside .*Invalid cross-device link|# dpkg succeeded on this kernel/);
    }
  }

  // Cleaned up: the folder is gone and nothing is left mounted in it.
  const demoDir = /^DEMO=(.+)$/m.exec(out)?.[1];
  assert.ok(demoDir, 'the demo names its working folder');
  assert.match(out, new RegExp(`^removed ${demoDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  assert.equal(existsSync(demoDir), false, `${demoDir} was left behind`);
  assert.deepEqual(mountPoints().filter((p) => p.startsWith(demoDir)), [], 'mounts left behind');
});
