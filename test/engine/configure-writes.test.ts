import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { openForWriting } from '../../src/engine/context';
import { installArchives } from '../../src/engine/install';
import type { DpkgEvent } from '../../src/model/events';
import { cannotRunDpkg, makeDpkgRoot } from '../dpkg/dpkg-root';
import { buildAdHocDeb } from '../helpers/fixtures';
import { gate } from '../helpers/gate';
import { tempDir, withTempDir } from '../helpers/temp';
import { testTxnOptions } from '../helpers/txn-options';

/**
 * The configure queue's writes to dpkg's database (engine/configure-run.ts): the states of a package
 * without a postinst are told when reached but written with the entry before the next script (or the
 * queue's last). What a script sees is what it would see under dpkg — every package configured before it
 * installed, itself half-configured — and the status events are dpkg's, each once, in dpkg's order.
 * dpkg writes an entry (and syncs it) for each state; here aa's, bb's and cc's states before cc's postinst
 * are one entry. Real dpkg installs the same archives on a twin root: cc's postinst sees the same, the
 * --status-fd configure lines and the end states are the same.
 */

const work = tempDir('configure-writes', { after });

test('states of packages without a postinst are written before the next script, told once in order', async (t) => {
  const why = cannotRunDpkg();
  if (gate(t, why === undefined ? {} : { skip: why })) return;
  const seen = 'var/tmp/seen-by-cc';
  const entry = 'var/tmp/entry-before-cc';
  const plain = (name: string, depends?: string) =>
    buildAdHocDeb(work, { name, version: '1', entries: [{ path: `usr/share/${name}/f`, type: 'file', content: `${name}\n` }], fields: depends ? { Depends: depends } : {} });
  const debs = [
    await plain('aa'),
    await plain('bb', 'aa'),
    await buildAdHocDeb(work, {
      name: 'cc',
      version: '1',
      fields: { Depends: 'bb' },
      entries: [{ path: 'usr/share/cc/f', type: 'file', content: 'cc\n' }],
      controlMembers: {
        postinst:
          '#!/bin/sh\nset -e\nmkdir -p "$DPKG_ROOT/var/tmp"\n' +
          `dpkg-query --admindir="$DPKG_ADMINDIR" -W -f '\${Package} \${Status}\\n' > "$DPKG_ROOT/${seen}"\n` +
          `cd "$DPKG_ADMINDIR/updates" && cat "$(ls | grep -v tmp | sort | tail -n 1)" > "$DPKG_ROOT/${entry}"\n`,
      },
    }),
    await plain('dd', 'cc'),
  ];
  await withTempDir('root', async (root) => {
    await fsp.chmod(root, 0o755);
    makeDpkgRoot(root);
    const events: DpkgEvent[] = [];
    const w = await openForWriting({ root, lockWait: 0 });
    try {
      const outcome = await installArchives(w, debs, 'installed', testTxnOptions({ scripts: { mode: 'chrootless', notice: () => undefined }, events: (e) => void events.push(e) }));
      assert.deepEqual(outcome.failures, []);
    } finally {
      w.close();
    }
    assert.equal(
      await fsp.readFile(path.join(root, seen), 'utf8'),
      'aa install ok installed\nbb install ok installed\ncc install ok half-configured\ndd install ok unpacked\n',
      "cc's postinst sees what it would see under dpkg",
    );
    const written = (await fsp.readFile(path.join(root, entry), 'utf8')).split('\n\n').map((st) => `${/^Package: (.*)$/m.exec(st)?.[1]} ${/^Status: (.*)$/m.exec(st)?.[1]}`);
    assert.deepEqual(written, ['aa install ok installed', 'bb install ok installed', 'cc install ok half-configured'], 'one update entry for the three');
    const configuring = events
      .filter((e) => (e.kind === 'status' && (e.state === 'half-configured' || e.state === 'installed')) || (e.kind === 'processing' && e.action === 'configure'))
      .map((e) => (e.kind === 'status' ? `${e.pkg.name} ${e.state}` : e.kind === 'processing' ? `processing ${e.pkg.name}` : ''));
    assert.deepEqual(configuring, [
      'processing aa',
      'aa half-configured',
      'aa installed',
      'processing bb',
      'bb half-configured',
      'bb installed',
      'processing cc',
      'cc half-configured',
      'cc installed',
      'processing dd',
      'dd half-configured',
      'dd installed',
    ]);
    const status = spawnSync('dpkg-query', ['--admindir', path.join(root, 'var/lib/dpkg'), '-W', '-f', '${Package} ${Status}\n'], { encoding: 'utf8' });
    assert.equal(status.stdout, 'aa install ok installed\nbb install ok installed\ncc install ok installed\ndd install ok installed\n');

    // Real dpkg, the same archives on a twin root: what cc's postinst saw, the configure lines of
    // --status-fd and the end states are the same.
    await withTempDir('dpkg-root', async (twin) => {
      await fsp.chmod(twin, 0o755);
      makeDpkgRoot(twin);
      const fdFile = path.join(work, 'dpkg.status-fd'); // removed with the test's folder
      const fd = openSync(fdFile, 'w');
      try {
        const res = spawnSync('dpkg', [`--root=${twin}`, '--force-script-chrootless', '--log=/dev/null', '--status-fd=3', '-i', ...debs], {
          stdio: ['ignore', 'pipe', 'pipe', fd],
          env: { ...process.env, LC_ALL: 'C' },
          encoding: 'utf8',
        });
        assert.equal(res.status, 0, `${res.stdout}${res.stderr}`);
      } finally {
        closeSync(fd);
      }
      const lines = (await fsp.readFile(fdFile, 'utf8')).split('\n');
      const theirs = lines.flatMap((l) => {
        const st = /^status: (\S+): (half-configured|installed)$/.exec(l);
        if (st) return [`${st[1]} ${st[2]}`];
        const pr = /^processing: configure: (\S+)$/.exec(l);
        return pr ? [`processing ${pr[1]}`] : [];
      });
      assert.deepEqual(configuring, theirs, '--status-fd configure lines as dpkg writes them');
      assert.equal(await fsp.readFile(path.join(root, seen), 'utf8'), await fsp.readFile(path.join(twin, seen), 'utf8'), "cc's postinst saw what it saw under dpkg");
      const dpkgStatus = spawnSync('dpkg-query', ['--admindir', path.join(twin, 'var/lib/dpkg'), '-W', '-f', '${Package} ${Status}\n'], { encoding: 'utf8' });
      assert.equal(status.stdout, dpkgStatus.stdout);
    });
  });
});
