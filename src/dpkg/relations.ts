/**
 * Package relations and ordering, as dpkg decides them (issue 12): a pure planner over plain data. The
 * transaction engine passes the archives and installed packages; it gets back the ordered steps
 * (deconfigure, unpack, disappear, remove, configure), dpkg's warnings, where dependency cycles were
 * broken, and every problem that should refuse the transaction. See relations/plan.ts for how the plan
 * differs from a single dpkg call.
 */
export { planRelations } from './relations/plan';
export { assertRelations, formatProblem, relationsError } from './relations/report';
export type * from './relations/types';
