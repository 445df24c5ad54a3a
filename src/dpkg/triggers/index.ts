/**
 * dpkg's triggers (issue 12), after dpkg 1.21.22: the declarations in a package's `triggers` file, dpkg's
 * trigger state on disk, activation, and the planning of trigger processing, as pure functions over plain
 * data; `disk.ts` is the only part that touches the filesystem.
 *
 * One run, as the engine would use it (what dpkg does, in that order):
 *   1. read the status (Triggers-Pending through `parseTriggersPending`, which reverses it as dpkg does) and
 *      `readTriggerState`; `startRun(state, unincorp)`; write Unincorp back empty (`writeUnincorp`);
 *   2. for each package unpacked or removed, `activate(state, unpackEvents(...) / removeEvents(...))`,
 *      with an `unincorp` event after every maintainer script that left activations in Unincorp;
 *      then `writeTriggerInterests` (File and the interest files changed by the unpack or removal);
 *   3. `processTriggers(state, {action, ...})`: run each yielded postinst and pass its outcome back;
 *      the final state's Triggers-Pending / Triggers-Awaited / Status go to the status file as they are
 *      (`formatTriggersPending`, `formatTriggersAwaited`).
 */
export { triggerKind, triggerNameProblem, type TriggerKind } from './names';
export { parseTriggersControl, formatTriggersControl, NO_DECLARATIONS, type TriggerDeclarations, type TriggerDirective } from './declarations';
export * from './model';
export * from './formats';
export { nodeName, fileInterestsIn, explicitInterestsIn, changeInterests, changedExplicitNames } from './interests';
export { activate, startRun, type TriggerEvent, type ActivateResult } from './activate';
export { unpackEvents, removeEvents, type UnpackFacts, type RemoveFacts } from './events';
export type { TriggerChange, PackageInfo } from './world';
export { dpkgTableOrder, hashBin } from './hash-order';
export { checkTriggerCycle, type TriggerCycle, type CycleTracker } from './cycle';
export {
  planTriggerProcessing,
  processTriggers,
  type ProcessOptions,
  type PlanOptions,
  type PlanStep,
  type TriggerPlan,
  type ScriptCall,
  type ScriptOutcome,
  type DpkgAction,
} from './process';
export { readTriggerState, writeTriggerState, writeTriggerInterests, writeUnincorp, recordTriggerActivation, type TriggerFiles } from './disk';
