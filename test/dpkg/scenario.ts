import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildDeb, dpkg, FOREIGN, makeDpkgRoot, NATIVE, quietPackage, tool, type DpkgRoot } from './dpkg-root';

/**
 * A root that real dpkg brought into most of the states its database can hold:
 * - libm 2.1, `Multi-Arch: same`, for the native and a foreign architecture (info files `libm:ARCH.*`),
 *   configured with --no-triggers so both await alpha's trigger (triggers-awaited, Triggers-Awaited);
 * - alpha, interested in /usr/share/libm (a file trigger), left triggers-pending (Triggers-Pending);
 * - beta installed, with a local diversion of one of its files; a package diversion by beta;
 * - gamma unpacked only; delta removed (config-files); eps installed then purged (gone);
 * - eta upgraded to a version without one of its conffiles (obsolete) and asking for another to go
 *   (remove-on-upgrade);
 * - a statoverride on alpha's conffile; the foreign architecture added with --add-architecture.
 */
export interface Scenario extends DpkgRoot {
  readonly debs: Record<string, string>;
}

export async function buildScenario(work: string): Promise<Scenario> {
  const r = makeDpkgRoot(path.join(work, 'root'));
  const debs: Record<string, string> = {};
  const deb = async (key: string, pkg: Parameters<typeof quietPackage>): Promise<void> => {
    debs[key] = await buildDeb(work, quietPackage(...pkg));
  };
  const same = { fields: { 'Multi-Arch': 'same', Section: 'libs', Priority: 'optional' } };
  await deb('libm-native', ['libm', '2.0', NATIVE, same]);
  await deb('libm-foreign', ['libm', '2.0', FOREIGN, same]);
  await deb('libm21-native', ['libm', '2.1', NATIVE, same]);
  await deb('libm21-foreign', ['libm', '2.1', FOREIGN, same]);
  await deb('alpha', [
    'alpha',
    '1.0',
    'all',
    {
      fields: { Section: 'misc', Priority: 'optional', Depends: 'libm (>= 1.0)', 'X-Custom': 'hello', Homepage: 'https://example.org/alpha' },
      controlMembers: { triggers: 'interest /usr/share/libm\n' },
    },
  ]);
  await deb('beta', ['beta', '1.0', NATIVE]);
  await deb('gamma', ['gamma', '1.0', 'all']);
  await deb('delta', ['delta', '1.0', 'all']);
  await deb('eps', ['eps', '1.0', 'all']);
  // eta 2.0 drops b.conf (dpkg marks it obsolete) and asks for c.conf to go (remove-on-upgrade).
  const etc = (v: string, names: string[]) => names.map((n) => ({ path: `etc/eta/${n}`, type: 'file' as const, content: `${n} ${v}\n` }));
  debs.eta1 = await buildDeb(work, { name: 'eta', version: '1.0', entries: etc('1', ['a.conf', 'b.conf', 'c.conf']), conffiles: ['/etc/eta/a.conf', '/etc/eta/b.conf', '/etc/eta/c.conf'] });
  debs.eta2 = await buildDeb(work, { name: 'eta', version: '2.0', entries: etc('2', ['a.conf']), conffiles: ['/etc/eta/a.conf', 'remove-on-upgrade /etc/eta/c.conf'] });

  dpkg(r, ['--add-architecture', FOREIGN]);
  dpkg(r, ['-i', debs['libm-native'], debs['libm-foreign'], debs.beta, debs.delta, debs.eps]);
  dpkg(r, ['-i', debs.alpha]);
  dpkg(r, ['--no-triggers', '-i', debs['libm21-native'], debs['libm21-foreign']]);
  dpkg(r, ['-i', debs.eta1]);
  dpkg(r, ['-i', debs.eta2]);
  dpkg(r, ['--unpack', debs.gamma]);
  dpkg(r, ['-r', 'delta']);
  dpkg(r, ['-P', 'eps']);
  tool(r, 'dpkg-divert', ['--local', '--add', '--divert', `/usr/share/beta/data-${NATIVE}.real`, `/usr/share/beta/data-${NATIVE}`]);
  tool(r, 'dpkg-divert', ['--package', 'beta', '--add', '--divert', '/etc/gamma/gamma.conf.beta', '/etc/gamma/gamma.conf']);
  tool(r, 'dpkg-statoverride', ['--add', 'root', 'root', '0600', '/etc/alpha/alpha.conf']);
  if (fs.readdirSync(path.join(r.admin, 'updates')).some((n) => /^[0-9]+$/.test(n))) throw new Error('dpkg left update entries');
  return { ...r, debs };
}
