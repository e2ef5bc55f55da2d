// The stream lifecycle as a pure decision function, for the stream workflow to drive (see workflows/lifecycle/).
export { atRest } from './lifecycle/at-rest.ts';
export { decide } from './lifecycle/decide.ts';
export { initialStreamState } from './lifecycle/identity.ts';
export { rejectAction, type ActionRejection } from './lifecycle/rejected-action.ts';
export { requestRestart, validateUpdate, type StreamUpdate } from './lifecycle/updates.ts';
export { defaultLifecycleConfig, nonRetryableReasons } from './lifecycle/types.ts';
export { statusWriteOf, type DesiredStatus } from './lifecycle/settle.ts';
export { alreadyShown, requiredAfter, type NoticeContent, type WorkloadNotice } from './lifecycle/shown.ts';
export { covers, newest, versionKey, type ObjectVersions } from './lifecycle/versions.ts';
export {
  answerRefusal,
  maxRoundsPerWake,
  RoundPending,
  runWake,
  type ActOutcome,
  type Refusal,
  type WakeEnd,
  type WakeHolder,
  type WakeIo,
  type WakeResult,
  type WakeStart,
} from './lifecycle/wake.ts';
export type {
  Action,
  Backend,
  Condition,
  Decision,
  EventNote,
  EventReason,
  InitialBackfill,
  InvalidSpec,
  LifecycleConfig,
  LifecycleRevision,
  NonRetryableReason,
  Observation,
  ObservedBackfillRequest,
  ObservedCondition,
  ObservedCronJob,
  ObservedJob,
  ObservedStream,
  ObservedTemplate,
  PendingRestart,
  StreamKind,
  StreamPhase,
  StreamState,
  Transition,
  ValidSpec,
} from './lifecycle/types.ts';
