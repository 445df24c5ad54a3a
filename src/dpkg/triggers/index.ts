/**
 * dpkg's triggers (issue 12): the declarations in a package's `triggers` file, dpkg's trigger state on disk,
 * activation, and the planning of trigger processing, as pure functions over plain data; `disk.ts` is the
 * only part that touches the filesystem.
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
export { planTriggerProcessing, type PlanOptions, type PlanStep, type TriggerPlan, type ScriptCall, type ScriptOutcome, type DpkgAction } from './process';
export { readTriggerState, writeTriggerState, writeTriggerInterests, writeUnincorp, recordTriggerActivation, type TriggerFiles } from './disk';
