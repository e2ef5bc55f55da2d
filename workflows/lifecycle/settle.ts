// Turning a step's outcome into a decision: bookkeeping, the status write when it changed, events, adoption labels.
import { conditionTypes, type Outcome } from './outcome.ts';
import type { Action, Decision, LifecycleConfig, Observation, ObservedStream, StreamState } from './types.ts';

/** What settling needs besides the outcome. */
export interface SettleInput {
  observation: Observation;
  stream: ObservedStream;
  config: LifecycleConfig;
  now: number;
}

/** Reasons that describe something a person should look at; they become `lastError`. */
const problemReasons = new Set([
  'StreamFailed',
  'InvalidSpec',
  'InvalidTemplate',
  'TemplateNotFound',
  'NoValidBackend',
]);

function conditionChanged(before: StreamState, after: StreamState): boolean {
  return (
    before.phase !== after.phase ||
    before.condition.reason !== after.condition.reason ||
    before.condition.message !== after.condition.message
  );
}

/** Record phase changes (bounded) and the latest problem. */
function bookkeeping(before: StreamState, after: StreamState, input: SettleInput): StreamState {
  const { now, config } = input;
  const next = { ...after, restartRequested: false };
  if (conditionChanged(before, after) && problemReasons.has(after.condition.reason)) {
    next.lastError = { ...after.condition, at: now };
  }
  if (before.phase === after.phase) return next;
  const transition = { at: now, from: before.phase, to: after.phase, reason: after.condition.reason };
  return { ...next, transitions: [...before.transitions, transition].slice(-config.maxTransitions) };
}

/** The status write, only when phase, hash, condition or observed generation differ from what the stream shows. */
function statusWrite(state: StreamState, stream: ObservedStream): Action[] {
  const shown = stream.status;
  const desired = {
    type: 'writeStatus' as const,
    phase: state.phase,
    configurationHash: state.configurationHash,
    conditionType: conditionTypes[state.phase],
    reason: state.condition.reason,
    message: state.condition.message,
    observedGeneration: stream.generation,
  };
  const same =
    shown.phase === desired.phase &&
    (shown.configurationHash ?? '') === desired.configurationHash &&
    shown.condition?.type === desired.conditionType &&
    shown.condition.reason === desired.reason &&
    shown.condition.message === desired.message &&
    shown.condition.observedGeneration === desired.observedGeneration;
  return same ? [] : [desired];
}

/** Whether an action removes or replaces the Job with this uid. */
function replacesJob(action: Action, uid: string): boolean {
  if (action.type === 'deleteJob') return action.uid === uid;
  if (action.type === 'applyStreamingJob' || action.type === 'applyBackfillJob') return action.replaces === uid;
  return false;
}

/** Whether an action removes or replaces the CronJob with this uid. */
function replacesCronJob(action: Action, uid: string): boolean {
  if (action.type === 'deleteCronJob') return action.uid === uid;
  return action.type === 'applyCronJob' && action.replaces === uid;
}

/** Workloads taken over from upstream get our labels so the watcher sees them, unless they are about to go. */
function adoptions(observation: Observation, actions: Action[]): Action[] {
  const { job, cronJob } = observation;
  const adopt: Action[] = [];
  if (job && !job.labelled && !job.terminating && !actions.some((action) => replacesJob(action, job.uid))) {
    adopt.push({ type: 'adoptJob', uid: job.uid });
  }
  if (cronJob && !cronJob.labelled && !cronJob.terminating && !actions.some((a) => replacesCronJob(a, cronJob.uid))) {
    adopt.push({ type: 'adoptCronJob', uid: cronJob.uid });
  }
  return adopt;
}

/** The decision for `result`: adoption labels, side effects, the status write, then events, in that order. */
export function settle(before: StreamState, result: Outcome, input: SettleInput): Decision {
  const state = bookkeeping(before, result.state, input);
  const entered = result.entryEvent !== undefined && conditionChanged(before, result.state);
  const events = entered && result.entryEvent ? [...result.events, result.entryEvent] : result.events;
  const actions: Action[] = [
    ...adoptions(input.observation, result.actions),
    ...result.actions,
    ...statusWrite(state, input.stream),
    ...events.map((event) => ({ type: 'recordEvent' as const, ...event })),
  ];
  return result.wakeAt === undefined ? { state, actions } : { state, actions, wakeAt: result.wakeAt };
}
