import { DPKG_FORCE_ORDER, type DpkgForce } from '../../dpkg/script-env';
import { DpkgExit, type Reporter } from './report';

/**
 * dpkg 1.21's forcing options (src/common/force.c), each with what overmerge-dpkg does with it.
 *
 * dpkg keeps them as bits, `--force-all` sets every one and `--refuse-all` clears every one; DPKG_FORCE in
 * the environment replaces the defaults (dpkg exports it to the programs it runs, so a maintainer script
 * calling dpkg keeps its caller's forces). Parsing accepts every name dpkg accepts; what overmerge does with
 * each is decided when a transaction is asked for (`refused` ones refuse it then, naming the option).
 */
export type ForceType = 'disabled' | 'enabled' | 'damage';

/**
 * - mapped: the transaction request carries it and the engine implements dpkg's meaning;
 * - no-op: accepted, changes nothing in overmerge (the reason is said);
 * - refused: a transaction with it enabled is refused with one line naming it.
 */
export type ForceTreatment = { readonly kind: 'mapped' | 'no-op' | 'refused'; readonly why: string };

export interface ForceInfo {
  readonly name: ForceName;
  readonly type: ForceType;
  readonly desc: string;
  readonly overmerge: ForceTreatment;
}

// dpkg's table, in its order (src/common/force.c): one list for the command line and for DPKG_FORCE.
export const FORCE_NAMES = DPKG_FORCE_ORDER;

export type ForceName = DpkgForce;

const mapped = (why: string): ForceTreatment => ({ kind: 'mapped', why });
const noop = (why: string): ForceTreatment => ({ kind: 'no-op', why });
const refused = (why: string): ForceTreatment => ({ kind: 'refused', why });

/** In dpkg's order (the order of --force-help and of DPKG_FORCE). */
export const FORCES: readonly ForceInfo[] = [
  { name: 'security-mac', type: 'enabled', desc: 'Use MAC based security if available', overmerge: noop('overmerge copies the extended attributes an archive carries and sets no security context of its own') },
  { name: 'downgrade', type: 'enabled', desc: 'Replace a package with a lower version', overmerge: mapped('a lower version may replace the installed one: always so in overmerge, so --refuse-downgrade (and -G) refuse the transaction') },
  { name: 'configure-any', type: 'disabled', desc: 'Configure any package which may help this one', overmerge: refused('the engine configures only the packages named or pending, never others that might help') },
  { name: 'hold', type: 'disabled', desc: 'Install or remove incidental packages even when on hold', overmerge: mapped('process packages on hold') },
  { name: 'not-root', type: 'disabled', desc: 'Try to (de)install things even when not root', overmerge: mapped('run a transaction as a user other than root') },
  { name: 'bad-path', type: 'disabled', desc: 'PATH is missing important programs, problems likely', overmerge: noop('overmerge does not check PATH for the programs maintainer scripts need, so there is no check to skip') },
  { name: 'bad-verify', type: 'disabled', desc: 'Install a package even if it fails authenticity check', overmerge: noop('overmerge does not check package signatures (dpkg 1.21 does only with debsig-verify installed)') },
  { name: 'bad-version', type: 'disabled', desc: 'Process even packages with wrong versions', overmerge: refused('overmerge refuses an archive whose Version dpkg would refuse, forced or not') },
  { name: 'statoverride-add', type: 'disabled', desc: 'Overwrite an existing stat override when adding it', overmerge: noop('an option of dpkg-statoverride; dpkg itself ignores it') },
  { name: 'statoverride-remove', type: 'disabled', desc: 'Ignore a missing stat override when removing it', overmerge: noop('an option of dpkg-statoverride; dpkg itself ignores it') },
  { name: 'overwrite', type: 'disabled', desc: 'Overwrite a file from one package with another', overmerge: mapped("take over another package's files (overmerge install --force-overwrite)") },
  { name: 'overwrite-diverted', type: 'disabled', desc: 'Overwrite a diverted file with an undiverted version', overmerge: refused('the engine always honours diversions') },
  { name: 'overwrite-dir', type: 'damage', desc: "Overwrite one package's directory with another's file", overmerge: refused("the engine never replaces another package's directory by a file") },
  { name: 'unsafe-io', type: 'damage', desc: 'Do not perform safe I/O operations when unpacking', overmerge: noop('overmerge makes a transaction durable with one syncfs, not an fsync per file: there is nothing to skip') },
  { name: 'script-chrootless', type: 'damage', desc: 'Do not chroot into maintainer script environment', overmerge: mapped('run maintainer scripts without chroot, with DPKG_ROOT set') },
  { name: 'confnew', type: 'damage', desc: "Always use the new config files, don't prompt", overmerge: mapped('answer the conffile prompt with the new version (the old one kept as .dpkg-old)') },
  { name: 'confold', type: 'damage', desc: "Always use the old config files, don't prompt", overmerge: mapped('answer the conffile prompt by keeping the local version (the new one kept as .dpkg-dist)') },
  {
    name: 'confdef',
    type: 'damage',
    desc: "Use the default option for new config files if one\nis available, don't prompt. If no default can be found,\nyou will be prompted unless one of the confold or\nconfnew options is also given",
    overmerge: mapped("take dpkg's default answer (keep the local version) where dpkg would prompt"),
  },
  { name: 'confmiss', type: 'damage', desc: 'Always install missing config files', overmerge: mapped('install a conffile the administrator deleted again when the package ships it') },
  { name: 'confask', type: 'damage', desc: 'Offer to replace config files with no new versions', overmerge: mapped('ask about a locally modified conffile even when the package did not change it') },
  { name: 'architecture', type: 'damage', desc: 'Process even packages with wrong or no architecture', overmerge: mapped('install packages of an architecture dpkg does not accept') },
  { name: 'breaks', type: 'damage', desc: 'Install even if it would break another package', overmerge: mapped('turn Breaks into warnings') },
  { name: 'conflicts', type: 'damage', desc: 'Allow installation of conflicting packages', overmerge: mapped('turn Conflicts into warnings') },
  { name: 'depends', type: 'damage', desc: 'Turn all dependency problems into warnings', overmerge: mapped('turn dependency problems into warnings') },
  { name: 'depends-version', type: 'damage', desc: 'Turn dependency version problems into warnings', overmerge: mapped('turn dependency version problems into warnings') },
  { name: 'remove-reinstreq', type: 'damage', desc: 'Remove packages which require installation', overmerge: refused('the engine does not remove a package dpkg marks reinstall-required') },
  { name: 'remove-protected', type: 'damage', desc: 'Remove a protected package', overmerge: mapped('remove Protected: yes packages') },
  { name: 'remove-essential', type: 'damage', desc: 'Remove an essential package', overmerge: mapped('remove Essential: yes packages') },
];

const BY_NAME = new Map<string, ForceInfo>(FORCES.map((f) => [f.name, f]));

export function forceInfo(name: ForceName): ForceInfo {
  return BY_NAME.get(name)!;
}

/** The forces in effect: dpkg's defaults, or DPKG_FORCE from the environment instead of them. */
export class Forces {
  private readonly on = new Set<ForceName>();

  constructor(env: Readonly<Record<string, string | undefined>>, report: Reporter) {
    const fromEnv = env.DPKG_FORCE;
    if (fromEnv !== undefined) {
      if (fromEnv !== '') this.parse(fromEnv, true, report);
      return;
    }
    for (const f of FORCES) if (f.type === 'enabled') this.on.add(f.name);
  }

  has(name: ForceName): boolean {
    return this.on.has(name);
  }

  /** Enabled, in dpkg's order. */
  get enabled(): ForceName[] {
    return FORCES.filter((f) => this.on.has(f.name)).map((f) => f.name);
  }

  set(name: ForceName, on: boolean): void {
    if (on) this.on.add(name);
    else this.on.delete(name);
  }

  /** The value dpkg exports as DPKG_FORCE: the enabled forces, comma-separated, in dpkg's order. */
  toString(): string {
    return this.enabled.join(',');
  }

  /** parse_force(): `THING[,THING...]`, or `help` (prints the help and ends the run). */
  parse(value: string, on: boolean, report: Reporter): void {
    if (value === 'help') throw new DpkgExit(forceHelp(report.prog, this.toString()), 0, 'stdout');
    for (const word of value.split(',')) {
      if (word === 'all') {
        for (const f of FORCES) this.set(f.name, on);
        continue;
      }
      const info = BY_NAME.get(word);
      if (!info) report.badUsage(`unknown force/refuse option '${word.slice(0, 250)}'`);
      this.set(info.name, on);
    }
  }
}

/** `dpkg --force-help`, byte for byte. */
export function forceHelp(prog: string, enabled: string): string {
  const lines = [
    `${prog} forcing options - control behaviour when problems found:`,
    '  warn but continue:  --force-<thing>,<thing>,...',
    '  stop with error:    --refuse-<thing>,<thing>,... | --no-force-<thing>,...',
    ' Forcing things:',
  ];
  const row = (mark: string, name: string, desc: string): string => `  ${mark} ${name.padEnd(18)} ${desc}`;
  const markOf = (t: ForceType): string => (t === 'disabled' ? '   ' : t === 'enabled' ? '[*]' : '[!]');
  lines.push(row('[!]', 'all', 'Set all force options'));
  for (const f of FORCES) {
    const [first, ...rest] = f.desc.split('\n');
    lines.push(row(markOf(f.type), f.name, first));
    for (const more of rest) lines.push(row('   ', '', more));
  }
  lines.push('', 'WARNING - use of options marked [!] can seriously damage your installation.', 'Forcing options marked [*] are enabled by default.', '', 'Currently enabled options:', ` ${enabled}`);
  return `${lines.join('\n')}\n`;
}
