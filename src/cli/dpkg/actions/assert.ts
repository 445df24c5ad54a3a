import { checkVersion, compareVersions } from '../../../control/version';
import type { Action } from '../context';
import { DpkgExit } from '../report';

/**
 * --assert-FEATURE (src/main/enquiry.c assert_feature): whether the dpkg that runs the caller supports a
 * feature. Every feature of dpkg 1.21 is supported by overmerge-dpkg: exit 0. Inside a maintainer script
 * (DPKG_RUNNING_VERSION set by the dpkg running it), the answer is about that dpkg's version, as dpkg
 * gives it: 1, with dpkg's message, when it is older than the feature.
 */
export const ASSERT_FEATURES: ReadonlyArray<{ name: string; version: string; desc: string }> = [
  { name: 'support-predepends', version: '1.1.0', desc: 'the Pre-Depends field' },
  { name: 'working-epoch', version: '1.4.0.7', desc: 'epochs in versions' },
  { name: 'long-filenames', version: '1.4.1.17', desc: 'long filenames in .deb archives' },
  { name: 'multi-conrep', version: '1.4.1.19', desc: 'multiple Conflicts and Replaces' },
  { name: 'multi-arch', version: '1.16.2', desc: 'multi-arch fields and semantics' },
  { name: 'versioned-provides', version: '1.17.11', desc: 'versioned relationships in the Provides field' },
  { name: 'protected-field', version: '1.20.1', desc: 'the Protected field' },
];

export const assertFeature: Action = (ctx, args) => {
  const name = ctx.settings.action!.suffix!;
  if (name === 'help') {
    const rows = ASSERT_FEATURES.map((f) => `  ${f.name.padEnd(19)} ${f.version.padEnd(9)} ${f.desc}\n`).join('');
    throw new DpkgExit(`${ctx.report.prog} assert options - assert whether features are supported:\n${rows}`, 0, 'stdout');
  }
  const feature = ASSERT_FEATURES.find((f) => f.name === name);
  if (!feature) return ctx.report.badUsage(`unknown --${ctx.settings.action!.name}-<feature>`);
  if (args.length > 0) ctx.report.badUsage(`--${ctx.settings.action!.name} takes no arguments`);
  const running = ctx.io.env.DPKG_RUNNING_VERSION;
  if (running === undefined || running === '') return 0;
  const { version, problem } = checkVersion(running);
  if (problem) ctx.report.fatal(`cannot parse dpkg running version '${running}': ${problem.reason}`);
  if (compareVersions(version!, feature.version) >= 0) return 0;
  ctx.out(`Running version of dpkg does not support ${feature.desc}.\n Please upgrade to at least dpkg ${feature.version}, and then try again.\n`);
  return 1;
};
