// Turns the outcome of one lifecycle step into a decision: updates the remembered state, and adds the actions every
// step may need (labels on adopted workloads, the status write when the status changed, and Kubernetes Events).
import { PRUNED_BY_PLUGINS, statusShows, type StatusWrite } from '../../resources/status-write.ts';
import { releases, replacesJob } from './job-removal.ts';
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

/** The status the lifecycle wants the stream to show. */
export interface DesiredStatus {
  phase: string;
  configurationHash: string;
  conditionType: string;
  reason: string;
  message: string;
  observedGeneration: number;
}

/** `desired` as the write it makes, for statusShows. The condition's status is left out: observing does not read it. */
export function statusWriteOf(desired: DesiredStatus): StatusWrite {
  const { phase, configurationHash, conditionType, reason, message, observedGeneration } = desired;
  return { phase, configurationHash, condition: { type: conditionType, reason, message, observedGeneration } };
}

/** The status write, only when the stream does not already show the state. */
function statusWrite(state: StreamState, stream: ObservedStream, revision: number): Action[] {
  const desired = {
    type: 'writeStatus' as const,
    phase: state.phase,
    configurationHash: state.configurationHash,
    conditionType: conditionTypes[state.phase],
    reason: state.condition.reason,
    message: state.condition.message,
    observedGeneration: stream.generation,
  };
  // The stream's first condition is the one this operator writes; fields its plugin's schema pruned are not compared.
  const shown = revision < 2 ? strict(stream.status) : stream.status;
  return statusShows(shown, statusWriteOf(desired), PRUNED_BY_PLUGINS) ? [] : [desired];
}

/** The first revision compared every condition field, whether or not the stored object kept it. */
function strict(status: ObservedStream['status']): ObservedStream['status'] {
  const condition = status.condition;
  if (!condition) return status;
  return {
    ...status,
    condition: { ...condition, reason: condition.reason ?? '', observedGeneration: condition.observedGeneration ?? -1 },
  };
}

/** Whether an action removes or replaces the CronJob with this uid. */
function replacesCronJob(action: Action, uid: string): boolean {
  if (action.type === 'deleteCronJob') return action.uid === uid;
  return action.type === 'applyCronJob' && action.replaces === uid;
}

/**
 * Workloads taken over from upstream's operator, or made before the outcome finalizer existed, are adopted: they get
 * our labels, so that the watcher sees their events, and a Job also gets the finalizer that keeps its outcome from
 * being lost. A workload that this step deletes or replaces anyway is left as it is.
 */
function adoptions(observation: Observation, actions: Action[]): Action[] {
  const { job, cronJob } = observation;
  const adopt: Action[] = [];
  if (
    job &&
    (!job.labelled || job.held === false) &&
    !job.terminating &&
    !actions.some((action) => replacesJob(action, job.uid))
  ) {
    adopt.push({ type: 'adoptJob', uid: job.uid });
  }
  if (cronJob && !cronJob.labelled && !cronJob.terminating && !actions.some((a) => replacesCronJob(a, cronJob.uid))) {
    adopt.push({ type: 'adoptCronJob', uid: cronJob.uid });
  }
  return adopt;
}

/** The phases a started workload leaves the stream in, by the action that starts it. */
const startedPhases: Partial<Record<Action['type'], StreamState['phase']>> = {
  applyBackfillJob: 'Backfilling',
  applyStreamingJob: 'Running',
  applyCronJob: 'Scheduled',
};

/**
 * Whether the step starts the workload its phase runs, as its last action: once that action has succeeded, the next
 * step would only find the stream settled in that phase.
 */
function startsPhase(result: Outcome): boolean {
  const last = result.actions.at(-1);
  return last !== undefined && startedPhases[last.type] === result.state.phase;
}

/**
 * Whether this step is where the stream settles, so its status is written now. Revision 1 wrote the status at every
 * step. Revision 2 writes it only at a step that changes no workload or request and is not waiting for one to go
 * away. A transition then writes the status once, which also gives clients that update whole stream objects fewer
 * write conflicts. Revision 3 also writes it at the step that starts the phase's workload, after starting it: the
 * same single write, a round earlier. If the start fails, the write after it is not made.
 */
function settles(result: Outcome, revision: number): boolean {
  if (revision < 2) return true;
  if (result.transient !== undefined) return false;
  return result.actions.length === 0 || (revision >= 3 && startsPhase(result));
}

/**
 * The decision for `result`. Its actions come in this order: adoption labels, the step's own actions, the release of
 * finished Jobs, the status write, then the Events.
 */
export function settle(before: StreamState, result: Outcome, input: SettleInput): Decision {
  const state = bookkeeping(before, result.state, input);
  const entered = result.entryEvent !== undefined && conditionChanged(before, result.state);
  const events = entered && result.entryEvent ? [...result.events, result.entryEvent] : result.events;
  const revision = input.config.revision;
  const actions: Action[] = [
    ...adoptions(input.observation, result.actions),
    ...result.actions,
    ...(revision < 2 ? [] : releases(input.observation, result.actions)),
    ...(settles(result, revision) ? statusWrite(state, input.stream, revision) : []),
    ...events.map((event) => ({ type: 'recordEvent' as const, ...event })),
  ];
  return result.wakeAt === undefined ? { state, actions } : { state, actions, wakeAt: result.wakeAt };
}
