import type { Action, ActionContext } from '../context';
import { DpkgExit, EXIT_ERROR, OWN_PROG } from '../report';

/**
 * The dpkg actions overmerge-dpkg refuses, each with one line naming it and why (exit 2, as dpkg's own
 * errors). Listed in man/overmerge-dpkg.1.
 */
export function refuse(ctx: ActionContext, why: string): never {
  throw new DpkgExit(`${OWN_PROG}: error: --${ctx.settings.action!.name} is not supported: ${why}\n`, EXIT_ERROR);
}

export const recordAvail: Action = (ctx) =>
  refuse(ctx, "it records archives' control data in the 'available' file, which only dselect reads; use --merge-avail with a Packages file");

export const predepPackage: Action = (ctx) =>
  refuse(ctx, "it is dselect's step for ordering Pre-Depends from the 'available' file; apt orders installs itself");
