import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { openForWriting } from '../../src/engine/context';
import { installArchives } from '../../src/engine/install';
import { cannotRunDpkg, makeDpkgRoot } from '../dpkg/dpkg-root';
import { buildAdHocDeb } from '../helpers/fixtures';
import { gate } from '../helpers/gate';
import { tempDir, withTempDir } from '../helpers/temp';
import { testTxnOptions } from '../helpers/txn-options';

/**
 * Each archive's control area in dpkg's admin folder while its transaction runs (engine/script-flows.ts):
 * written for an archive with a script that may run from there before the commit (a preinst; a prerm or
 * postrm, as dpkg's fallbacks and abort calls), not for one without (nothing would read it). The first
 * archive's preinst lists the admin folder while the transaction's other two wait beside it; afterwards
 * every folder is gone and dpkg's database holds all three, scripts included.
 */

const work = tempDir('control-area', { after });

test('a control area for the archives with scripts that run from it, none for one without', async (t) => {
  const why = cannotRunDpkg();
  if (gate(t, why === undefined ? {} : { skip: why })) return;
  const listing = 'var/tmp/admin-folders';
  const debs = [
    await buildAdHocDeb(work, {
      name: 'first',
      version: '1',
      entries: [{ path: 'usr/share/first/a', type: 'file', content: 'a\n' }],
      controlMembers: { preinst: `#!/bin/sh\nset -e\nmkdir -p "$DPKG_ROOT/var/tmp"\nls "$DPKG_ROOT/var/lib/dpkg" | grep '^tmp\\.ci' > "$DPKG_ROOT/${listing}"\n` },
    }),
    await buildAdHocDeb(work, {
      name: 'aborts',
      version: '1',
      entries: [{ path: 'usr/share/aborts/b', type: 'file', content: 'b\n' }],
      controlMembers: { postrm: '#!/bin/sh\nexit 0\n' },
    }),
    await buildAdHocDeb(work, { name: 'plain', version: '1', entries: [{ path: 'usr/share/plain/c', type: 'file', content: 'c\n' }] }),
  ];
  await withTempDir('root', async (root) => {
    await fsp.chmod(root, 0o755);
    makeDpkgRoot(root);
    const w = await openForWriting({ root, lockWait: 0 });
    try {
      const outcome = await installArchives(w, debs, 'installed', testTxnOptions({ scripts: { mode: 'chrootless', notice: () => undefined } }));
      assert.deepEqual(outcome.failures, []);
    } finally {
      w.close();
    }
    assert.deepEqual((await fsp.readFile(path.join(root, listing), 'utf8')).split('\n').filter(Boolean), ['tmp.ci', 'tmp.ci.1'], "first's own, aborts' beside it, none for plain");
    const left = (await fsp.readdir(path.join(root, 'var/lib/dpkg'))).filter((n) => n.startsWith('tmp.ci'));
    assert.deepEqual(left, [], 'every control area goes with the commit');
    assert.ok((await fsp.stat(path.join(root, 'var/lib/dpkg/info/aborts.postrm'))).isFile(), "the postrm installed from the archive, as dpkg installs it");
    const status = spawnSync('dpkg-query', ['--admindir', path.join(root, 'var/lib/dpkg'), '-W', '-f', '${Package} ${Status}\n'], { encoding: 'utf8' });
    assert.equal(status.stdout, 'aborts install ok installed\nfirst install ok installed\nplain install ok installed\n');
  });
});
