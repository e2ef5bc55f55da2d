// The intermediate result every lifecycle step returns, and the vocabulary to build one.
import type {
  Action,
  EventNote,
  EventReason,
  LifecycleConfig,
  Observation,
  StreamPhase,
  StreamState,
  ValidSpec,
} from './types.ts';

/** What a step decides from: the state so far, a fresh observation of a stream with a valid spec, and the time. */
export interface Context {
  state: StreamState;
  observation: Observation;
  spec: ValidSpec;
  pinTemplate: boolean;
  config: LifecycleConfig;
  now: number;
}

/** A step's verdict before status and bookkeeping are added. */
export interface Outcome {
  /** The next state, with its phase and condition. */
  state: StreamState;
  /** Side effects on workloads and requests, in order. */
  actions: Action[];
  /** Events recorded after the side effects. */
  events: EventNote[];
  /** Recorded only when the stream enters this phase and condition, so waiting does not repeat it. */
  entryEvent?: EventNote;
  wakeAt?: number;
  /** Waiting for a workload to finish going away: a passing moment, so the stream's status is not written for it. */
  transient?: true;
}

/** The condition reason each phase carries unless a step names a more specific one. */
export const phaseReasons: Record<StreamPhase, string> = {
  '': 'NoValidBackend',
  Pending: 'StreamPending',
  Backfilling: 'StreamBackfilling',
  Running: 'StreamRunning',
  Scheduled: 'StreamScheduled',
  Suspended: 'StreamSuspended',
  Failed: 'StreamFailed',
};

/** The condition type per phase, as upstream writes it. */
export const conditionTypes: Record<StreamPhase, string> = {
  '': 'Warning',
  Pending: 'Warning',
  Backfilling: 'Ready',
  Running: 'Ready',
  Scheduled: 'Ready',
  Suspended: 'Warning',
  Failed: 'Error',
};

/** `state` moved to `phase` with a condition saying why. */
export function inPhase(
  state: StreamState,
  phase: StreamPhase,
  message: string,
  reason: string = phaseReasons[phase],
): StreamState {
  return { ...state, phase, condition: { reason, message } };
}

export function outcome(state: StreamState, parts: Partial<Omit<Outcome, 'state'>> = {}): Outcome {
  return { ...parts, state, actions: parts.actions ?? [], events: parts.events ?? [] };
}

/** Nothing to do but wait, in the current phase, for a signal or `wakeAt`. */
export function hold(state: StreamState, wakeAt?: number): Outcome {
  return outcome(state, wakeAt === undefined ? {} : { wakeAt });
}

export function normal(reason: EventReason, message: string): EventNote {
  return { eventType: 'Normal', reason, message };
}

export function warning(reason: EventReason, message: string): EventNote {
  return { eventType: 'Warning', reason, message };
}

/** Wait for a workload that is going away; the watcher reports when it is gone, the re-check is a safety net. */
export function awaitRemoval(ctx: Context): Outcome {
  return { ...hold(ctx.state, ctx.now + ctx.config.recheckMs), transient: true };
}

/** `stops` (removing workloads another mode left) run before `next`'s own actions. */
export function after(stops: Pick<Outcome, 'actions' | 'events'>, next: Outcome): Outcome {
  return { ...next, actions: [...stops.actions, ...next.actions], events: [...stops.events, ...next.events] };
}
