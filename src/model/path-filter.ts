/** One `--path-exclude` / `--path-include` (dpkg's path filtering), in the order given. */
export interface PathFilter {
  /** A shell pattern matched as fnmatch(3) with no flags against the member's path (`/usr/share/doc/*`). */
  readonly pattern: string;
  /** `--path-include` (true) brings back what an earlier `--path-exclude` (false) removed. */
  readonly include: boolean;
}
