import { archNameProblem, packageNameProblem } from '../names';
import type { Reporter } from '../report';
import type { Inst, World } from '../db/world';
import { fnmatch } from '../../../dpkg/fnmatch';

/**
 * dpkg's package specifiers (lib/dpkg/pkg-spec.c): `NAME[:ARCH]` naming one instance, and patterns for
 * -l, --get-selections and friends (shell patterns on the name and on the architecture).
 */

const PATTERN_CHARS = /[*[?\\]/;

/**
 * dpkg_options_parse_pkgname(): the one instance a command-line word names, or dpkg's usage error. A bare
 * name is the set's single instance (refused as ambiguous when several are installed); `name:arch` is
 * that architecture's instance. Either may be a blank instance of a name dpkg has never seen.
 */
export function parsePkgName(world: World, text: string, action: string, report: Reporter): Inst {
  const found = lookupPkg(world, text);
  if (typeof found === 'string') report.badUsage(`--${action} needs a valid package name but '${text.slice(0, 250)}' is not: ${found}`);
  return found;
}

/** pkg_spec_parse_pkg(): the instance, or the reason the word names none. */
export function lookupPkg(world: World, text: string): Inst | string {
  const colon = text.indexOf(':');
  const name = colon < 0 ? text : text.slice(0, colon);
  const arch = colon < 0 ? undefined : text.slice(colon + 1);
  const problem = specProblem(world, name, arch);
  if (problem) return problem;
  const set = world.findSet(name);
  if (arch === undefined) return world.singleton(set)!;
  return world.instanceFor(set, arch);
}

function specProblem(world: World, name: string, arch: string | undefined): string | undefined {
  const nameProblem = packageNameProblem(name);
  if (nameProblem) return `illegal package name in specifier '${name}${arch === undefined ? '' : `:${arch}`}': ${nameProblem}`;
  if (arch !== undefined) {
    const type = world.arches.typeOf(arch);
    if (type === 'illegal' || type === 'empty') return `illegal architecture name in specifier '${name}:${arch}': ${archNameProblem(arch)}`;
    return undefined;
  }
  if (world.installedInstances(world.findSet(name)) > 1) return `ambiguous package name '${name}' with more than one installed instance`;
  return undefined;
}

/** A pattern as `pkg_spec_parse(PKG_SPEC_PATTERNS | PKG_SPEC_ARCH_WILDCARD)` reads it. */
export class PkgPattern {
  private readonly name: string;
  private readonly arch?: string;
  private readonly nameIsPattern: boolean;
  private readonly archIsPattern: boolean;

  constructor(
    readonly text: string,
    world: World,
  ) {
    const colon = text.indexOf(':');
    this.name = colon < 0 ? text : text.slice(0, colon);
    this.arch = colon < 0 ? undefined : text.slice(colon + 1);
    this.nameIsPattern = PATTERN_CHARS.test(this.name);
    this.archIsPattern = this.arch !== undefined && PATTERN_CHARS.test(this.arch);
    // dpkg looks the architecture up (adding it to its list as an unknown one) even for a pattern.
    if (this.arch !== undefined && !this.archIsPattern) world.arches.find(this.arch);
  }

  /** pkg_spec_match_pkg() against the installed half. */
  matches(inst: Inst): boolean {
    const nameOk = this.nameIsPattern ? fnmatch(this.name, inst.set.name) : this.name === inst.set.name;
    if (!nameOk) return false;
    if (this.arch === undefined) return true;
    const arch = inst.archNone ? '' : inst.entry.arch;
    if (this.archIsPattern) return fnmatch(this.arch, arch);
    if (this.arch === '') return !inst.archNone && inst.entry.arch === '';
    return !inst.archNone && inst.entry.arch === this.arch;
  }
}
