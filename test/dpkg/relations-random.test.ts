import { describe, test } from 'node:test';
import { seededRandom } from '../../fixtures/random';
import { assertSame, cannotRunDpkgOracle, type OraclePackage, runScenario, type Scenario } from '../helpers/dpkg-relations';

/**
 * Random small transactions against dpkg: a handful of packages depending on one another (cycles likely,
 * some without a postinst, alternatives, virtual packages, versions that do or do not match, now and then a
 * Conflicts or a Breaks), some installed first, the rest installed in one `dpkg -i` call in a random
 * order. The planner must predict dpkg's order of unpacks and configurations, where it breaks cycles, the
 * states it leaves and its messages. Pre-Depends on packages of the same call are left out: there the
 * planner differs from dpkg on purpose. OVERMERGE_RELATIONS_SEED=N repeats a run; OVERMERGE_TEST_FULL=1
 * runs more cases.
 */

const SEED = Number(process.env.OVERMERGE_RELATIONS_SEED ?? 20240612);
const CASES = process.env.OVERMERGE_TEST_FULL ? 60 : 12;

function randomScenario(seed: number): Scenario {
  const rnd = seededRandom(seed);
  const below = (n: number) => Math.floor(rnd() * n);
  const chance = (p: number) => rnd() < p;
  const n = 3 + below(4);
  const names = Array.from({ length: n }, (_, i) => `p${i}`);
  const version = (name: string, installed: boolean) => (installed ? '1' : name === 'p0' ? '2' : '1');
  const installedFirst = new Set(names.filter(() => chance(0.25)));

  const make = (name: string, installed: boolean): OraclePackage => {
    const fields: Record<string, string> = {};
    const groups: string[] = [];
    for (let k = below(3); k > 0; k--) {
      const alts: string[] = [];
      for (let a = chance(0.2) ? 2 : 1; a > 0; a--) {
        const target = chance(0.15) ? 'virt' : names[below(n)];
        const c = chance(0.2) ? ` (>= ${chance(0.7) ? '1' : '3'})` : '';
        alts.push(`${target}${c}`);
      }
      groups.push(alts.join(' | '));
    }
    if (groups.length > 0) fields.Depends = [...new Set(groups)].join(', ');
    if (chance(0.2)) fields.Provides = chance(0.5) ? 'virt' : 'virt (= 3)';
    if (chance(0.08)) fields.Conflicts = names[below(n)];
    if (chance(0.08)) fields.Breaks = `${names[below(n)]} (<< 2)`;
    return { name, version: version(name, installed), fields, postinst: chance(0.7) };
  };

  const setup = names.filter((x) => installedFirst.has(x)).map((x) => make(x, true));
  const archives = names.filter((x) => !installedFirst.has(x) || chance(0.3)).map((x) => make(x, false));
  for (let i = archives.length - 1; i > 0; i--) {
    const j = below(i + 1);
    [archives[i], archives[j]] = [archives[j], archives[i]];
  }
  // The set-up must install cleanly: its packages depend only on one another, without versions.
  const setupOk = setup.map((p) => {
    const depends = onlyAmong(p.fields?.Depends ?? '', installedFirst);
    return {
      ...p,
      fields: {
        ...(depends ? { Depends: depends } : {}),
        ...(p.fields?.Provides ? { Provides: p.fields.Provides } : {}),
      },
    };
  });
  return {
    setup: setupOk.length > 0 ? [setupOk] : [],
    action: '--install',
    archives,
    force: chance(0.15) ? ['depends'] : [],
    autoDeconfigure: chance(0.3),
  };
}

/**
 * A random installed graph, then a random set of its packages removed or purged in one call. The graph is
 * installed in two calls, so that it installs cleanly: two base packages without relations first, then
 * the others, whose Pre-Depends name base packages only (a pre-dependency must be configured before).
 */
function randomRemoval(seed: number): Scenario {
  const rnd = seededRandom(seed);
  const below = (n: number) => Math.floor(rnd() * n);
  const chance = (p: number) => rnd() < p;
  const n = 4 + below(4);
  const names = Array.from({ length: n }, (_, i) => `r${i}`);
  const pkgs: OraclePackage[] = names.map((name, i) => {
    const fields: Record<string, string> = {};
    if (i >= 2) {
      const groups: string[] = [];
      for (let k = below(3); k > 0; k--) {
        const one = () => (chance(0.15) ? 'virt' : names[below(n)]);
        groups.push(chance(0.25) ? `${one()} | ${one()}` : one());
      }
      if (groups.length > 0) fields.Depends = [...new Set(groups)].join(', ');
      if (chance(0.2)) fields['Pre-Depends'] = names[below(2)];
    }
    if (chance(0.3) || i === 0) fields.Provides = 'virt';
    if (chance(0.1)) fields.Essential = 'yes';
    if (chance(0.05)) fields.Protected = 'yes';
    return { name, version: '1', fields, postinst: chance(0.7) };
  });
  const removed = names.filter(() => chance(0.4));
  if (removed.length === 0) removed.push(names[below(n)]);
  return {
    setup: [pkgs.slice(0, 2), pkgs.slice(2)],
    action: chance(0.3) ? '--purge' : '--remove',
    names: removed,
    force: chance(0.15) ? ['depends'] : [],
  };
}

/** Keeps the groups of a Depends that name only `allowed` packages, unversioned. */
function onlyAmong(depends: string, allowed: ReadonlySet<string>): string {
  return depends
    .split(', ')
    .filter((g) => g !== '' && g.split(' | ').every((a) => allowed.has(a.split(' ')[0])))
    .map((g) => g.replace(/ \([^)]*\)/g, ''))
    .join(', ');
}

describe(`relations planner against dpkg on random transactions (seed ${SEED})`, async () => {
  const why = await cannotRunDpkgOracle();
  for (let i = 0; i < CASES; i++) {
    const scenario = randomScenario(SEED + i);
    test(`install ${i}: ${describeScenario(scenario)}`, why ? { skip: why } : {}, async () => {
      assertSame(await runScenario(scenario));
    });
  }
  for (let i = 0; i < CASES / 2; i++) {
    const scenario = randomRemoval(SEED + 1000 + i);
    test(`remove ${i}: ${describeScenario(scenario)}`, why ? { skip: why } : {}, async () => {
      assertSame(await runScenario(scenario));
    });
  }
});

function describeScenario(s: Scenario): string {
  const show = (p: OraclePackage) => {
    const f = Object.entries(p.fields ?? {}).map(([k, v]) => `${k}: ${v}`);
    return `${p.name}${p.postinst === false ? '*' : ''}${f.length ? ` {${f.join('; ')}}` : ''}`;
  };
  const setup = (s.setup ?? []).flat().map(show);
  const flags = [...(s.force ?? []).map((f) => `--force-${f}`), ...(s.autoDeconfigure ? ['-B'] : [])];
  const what = s.archives ? `-i ${flags.join(' ')} [${s.archives.map(show).join(', ')}]` : `${s.action} ${flags.join(' ')} ${(s.names ?? []).join(' ')}`;
  return `${setup.length ? `installed [${setup.join(', ')}] then ` : ''}${what}`;
}
