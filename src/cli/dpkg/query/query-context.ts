import type { World } from '../db/world';
import type { Reporter } from '../report';

/** What a query action (dpkg-query's -l, -L, -s, -S, -p) gets from backend.ts. */
export interface QueryContext {
  /** modstatdb_open(msdbrw_readonly), once: actions open the database after checking their arguments. */
  readonly open: () => World;
  readonly report: Reporter;
  readonly out: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly action: string;
}

export type QueryAction = (q: QueryContext, args: string[]) => number;

