// The stream lifecycle as a pure decision function, for the stream workflow to drive (see workflows/lifecycle/).
export { decide, initialStreamState } from './lifecycle/decide.ts';
export { requestRestart, validateRestart } from './lifecycle/restart-request.ts';
export { defaultLifecycleConfig } from './lifecycle/types.ts';
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
  Observation,
  ObservedBackfillRequest,
  ObservedCondition,
  ObservedCronJob,
  ObservedJob,
  ObservedStream,
  ObservedTemplate,
  PendingRestart,
  StreamPhase,
  StreamState,
  Transition,
  ValidSpec,
} from './lifecycle/types.ts';
