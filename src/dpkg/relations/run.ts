import type { Arches } from './arch';
import type { Db, Pkg, Possi } from './model';
import type { CycleBreak, ForceOption, PlanStep, RelationProblem, RelationsInput } from './types';

/** dpkg's dependtry levels (src/main/main.h): how lenient the deferred-configuration loop has become. */
export const DependTry = {
  normal: 1,
  cycles: 2,
  triggers: 3,
  triggersCycles: 4,
  forceDependsVersion: 5,
  forceDepends: 6,
  last: 7,
} as const;

/** What the planner writes as it replays dpkg's run. */
export class Output {
  readonly steps: PlanStep[] = [];
  readonly problems: RelationProblem[] = [];
  readonly warnings: string[] = [];
  readonly cycleBreaks: CycleBreak[] = [];
}

/**
 * The state of one replayed dpkg run: the database, the options, what has been planned so far, and the
 * counters of the deferred-configuration loop (globals in dpkg, fields here).
 */
export class Run {
  readonly out = new Output();
  dependtry: number = DependTry.normal;
  sincenothing = 0;
  private readonly forced: ReadonlySet<ForceOption>;
  private readonly ignored: ReadonlySet<string>;
  readonly autoDeconfigure: boolean;

  constructor(
    readonly db: Db,
    input: Pick<RelationsInput, 'force' | 'autoDeconfigure' | 'ignoreDepends'>,
  ) {
    this.forced = new Set(input.force ?? []);
    this.ignored = new Set(input.ignoreDepends ?? []);
    this.autoDeconfigure = input.autoDeconfigure ?? false;
  }

  get arches(): Arches {
    return this.db.arches;
  }

  inForce(option: ForceOption): boolean {
    return this.forced.has(option);
  }

  /** `--ignore-depends` names this instance. */
  ignoreDepends(pkg: Pkg): boolean {
    return this.ignored.has(pkg.name);
  }

  /** dpkg's ignore_depends_possi: an installed candidate of the alternative is ignored. */
  private ignoreDependsPossi(possi: Possi): boolean {
    for (const pkg of this.db.candidates(possi, 'installed')) if (this.ignoreDepends(pkg)) return true;
    return false;
  }

  /** dpkg's force_depends: --force-depends, or --ignore-depends on either side. */
  forceDepends(possi: Possi): boolean {
    return this.inForce('depends') || this.ignoreDependsPossi(possi) || this.ignoreDepends(possi.dep.owner);
  }

  /** dpkg's force_breaks. */
  forceBreaks(possi: Possi): boolean {
    return this.inForce('breaks') || this.ignoreDependsPossi(possi) || this.ignoreDepends(possi.dep.owner);
  }

  forceConflicts(): boolean {
    return this.inForce('conflicts');
  }

  warn(message: string): void {
    this.out.warnings.push(message);
  }

  problem(p: RelationProblem): void {
    this.out.problems.push(p);
  }

  /** dpkg's clear_istobes, run before each archive and each processing queue. */
  clearIsToBes(): void {
    for (const pkg of this.db.allPkgs()) pkg.istobe = 'normal';
  }
}
