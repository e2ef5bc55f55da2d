// The lifecycle decision: from the remembered state and a fresh observation, the next step toward the desired state.
import { backfillToRun, runBackfill } from './backfill.ts';
import { detach, detachedBecause, forObject, withKind } from './identity.ts';
import { after, inPhase, normal, outcome, warning, type Context, type Outcome } from './outcome.ts';
import { releasedOnDetach, releases } from './job-removal.ts';
import { restartForConfiguration } from './restarts.ts';
import { settle } from './settle.ts';
import { runCronJob, runStreamingJob } from './streaming.ts';
import type {
  Action,
  Decision,
  InvalidSpec,
  LifecycleConfig,
  Observation,
  ObservedStream,
  PendingRestart,
  StreamPhase,
  StreamState,
  ValidSpec,
} from './types.ts';

const phases: readonly string[] = ['Pending', 'Backfilling', 'Running', 'Scheduled', 'Suspended', 'Failed'];

function isPhase(value: string): value is StreamPhase {
  return phases.includes(value);
}

/**
 * A stream taken over in phase Failed (from upstream's operator, say) stays Failed, as upstream would leave it. It runs
 * again only after one of the manual ways out: suspend and resume, a change of the spec, or the restart update.
 */
function keptFailed(observation: Observation): PendingRestart {
  const job = observation.job;
  const backfillRequest = job?.backfilling ? job.backfillId : undefined;
  return {
    jobUid: job?.uid ?? '',
    ...(backfillRequest === undefined ? {} : { backfillRequest }),
    cause: 'failed',
    message:
      'the stream was taken over in phase Failed and stays Failed; suspend and resume, change the spec or use the ' +
      'restart update to run it again',
  };
}

/**
 * The first observation of a stream. A stream that already has a phase was run by someone before (upstream's
 * operator, say): the workflow takes it over as it is, and does not run its initial backfill again.
 */
function firstSight(
  state: StreamState,
  stream: ObservedStream,
  observation: Observation,
  config: LifecycleConfig,
): StreamState {
  if (state.initialBackfill !== 'unseen') return state;
  const { phase, configurationHash, condition } = stream.status;
  if (phase === '') return { ...state, initialBackfill: 'undecided' };
  const adopted: StreamState = {
    ...state,
    initialBackfill: 'skipped',
    phase: isPhase(phase) ? phase : '',
    configurationHash: configurationHash ?? '',
    condition: condition ? { reason: condition.reason ?? '', message: condition.message } : state.condition,
  };
  if (config.revision < 2 || phase !== 'Failed') return adopted;
  return { ...adopted, pendingRestart: keptFailed(observation) };
}

/** Workloads that exist and are not already going away. */
function deletions(observation: Observation): Action[] {
  const { job, cronJob } = observation;
  return [
    ...(job && !job.terminating ? [{ type: 'deleteJob' as const, uid: job.uid }] : []),
    ...(cronJob && !cronJob.terminating ? [{ type: 'deleteCronJob' as const, uid: cronJob.uid }] : []),
  ];
}

/** The stream is gone: remove its workloads, then end the workflow (its history stays in Temporal to look at). */
function tearDown(state: StreamState, observation: Observation): Decision {
  const removals = deletions(observation);
  const actions = [...removals, ...releases(observation, removals)];
  if (actions.length > 0) return { state, actions };
  return { state: { ...state, ended: 'deleted' }, actions: [], done: true };
}

/**
 * A spec that no workload can be built from: the stream becomes Failed with a message naming the field. Workloads
 * that already run are left alone until the spec is fixed, so a typo does not stop a running stream.
 */
function rejectSpec(state: StreamState, spec: InvalidSpec): Outcome {
  const message = `the ${spec.reason === 'InvalidTemplate' ? 'job template' : 'spec'} is invalid: ${spec.message}`;
  return outcome(inPhase(state, 'Failed', message, spec.reason), { entryEvent: warning(spec.reason, message) });
}

/** A changed spec is remembered, and is one of the manual ways out of Failed. */
function noteConfiguration(state: StreamState, spec: ValidSpec, now: number): StreamState {
  if (spec.configurationHash === state.configurationHash) return state;
  return { ...restartForConfiguration(state, now), configurationHash: spec.configurationHash };
}

function withoutBackend(ctx: Context): Outcome {
  const message =
    'the spec sets no streaming backend (neither a Job template nor a batch schedule); nothing runs until one is set';
  const state = { ...ctx.state, pendingRestart: undefined };
  return outcome(inPhase(state, '', message, 'NoValidBackend'), {
    actions: deletions(ctx.observation),
    entryEvent: warning('NoValidBackend', message),
  });
}

/** The condition of a stream settled in Suspended. */
export const suspendedMessage =
  'suspended by the spec; the workload is stopped and open backfill requests wait for resume';

/** What suspending needs. It does not need a valid spec: a suspended stream is stopped even when its spec is broken. */
type SuspendContext = Pick<Context, 'state' | 'observation' | 'config'>;

/** A backfill Job stopped by a suspension: its request stays open, and the backfill runs again on resume. */
function suspendedBackfill(ctx: SuspendContext): Outcome['events'] {
  const job = ctx.observation.job;
  if (!job?.backfilling || job.terminating || job.state !== 'active') return [];
  const request = job.backfillId ?? ctx.state.activeBackfill ?? 'unknown';
  const message = `the stream was suspended during the backfill of request ${request}: its backfill Job is stopped and the request stays open until resume`;
  return [normal('BackfillSuspended', message)];
}

/**
 * A backfill Job that completed just as the stream was suspended: its request is marked completed, so resuming does
 * not run the same backfill again.
 */
function completedBeforeSuspension(ctx: SuspendContext): Pick<Outcome, 'actions' | 'events'> {
  const job = ctx.observation.job;
  const request = job?.backfillId;
  const open = ctx.observation.backfillRequests.some((r) => r.name === request && !r.completed);
  if (ctx.config.revision < 2 || !job?.backfilling || job.state !== 'complete' || !open || request === undefined) {
    return { actions: [], events: [] };
  }
  const message = `the backfill Job for request ${request} completed before the suspension; marking the request completed`;
  return {
    actions: [{ type: 'completeBackfillRequest', name: request }],
    events: [normal('BackfillCompleted', message)],
  };
}

/**
 * Suspended: the workloads are deleted and open backfill requests wait for resume. Suspending also clears a
 * pending restart and the restart count, which is why suspend and resume is a way out of Failed.
 */
function suspend(ctx: SuspendContext): Outcome {
  const createdSuspended = ctx.state.initialBackfill === 'undecided';
  const state = {
    ...ctx.state,
    initialBackfill: createdSuspended ? ('skipped' as const) : ctx.state.initialBackfill,
    pendingRestart: undefined,
    restartCount: 0,
    quickCompletions: 0,
  };
  const note = createdSuspended
    ? 'the stream was created suspended, which skips the initial backfill; resuming starts streaming'
    : 'the stream was suspended: its workload is stopped and open backfill requests wait for resume';
  const completed = completedBeforeSuspension(ctx);
  return outcome(inPhase(state, 'Suspended', suspendedMessage), {
    actions: [...completed.actions, ...deletions(ctx.observation)],
    events: [...completed.events, ...suspendedBackfill(ctx)],
    entryEvent: normal('StreamSuspended', note),
  });
}

/**
 * Resumed: the stream is Pending for one step. The next decision then runs the open backfill, if there is one, or
 * starts streaming.
 */
function resume(ctx: Context): Outcome {
  const request = backfillToRun(ctx.state, ctx.observation);
  const next = request === undefined ? 'starting the stream' : `continuing with backfill request ${request}`;
  const events = [normal('StreamResumed', `the spec is no longer suspended; ${next}`)];
  if (request !== undefined && request === ctx.state.activeBackfill) {
    const message = `backfill request ${request} was interrupted by the suspension; its backfill Job starts again`;
    events.push(normal('BackfillInProgress', message));
  }
  return outcome(inPhase(ctx.state, 'Pending', `resumed; ${next}`), { events });
}

/** A new Job-backend stream gets its initial BackfillRequest before anything streams. */
function requestInitialBackfill(ctx: Context): Outcome {
  const name = ctx.observation.initialBackfillName;
  const state = { ...ctx.state, initialBackfill: 'requested' as const };
  const message = `new stream; requested the initial backfill ${name} before streaming`;
  return outcome(inPhase(state, 'Pending', message), {
    actions: [{ type: 'createBackfillRequest', name, initial: true }],
    events: [normal('StreamCreated', message)],
  });
}

/**
 * Whether a new stream still needs its initial backfill requested: it runs on Jobs, it was not created suspended, and
 * the request does not exist yet.
 */
function owesInitialBackfill(ctx: Context): boolean {
  const { state, spec, observation } = ctx;
  if (state.initialBackfill !== 'undecided' || spec.backend !== 'job') return false;
  return !observation.backfillRequests.some((request) => request.name === observation.initialBackfillName);
}

/**
 * Once the stream's backend is known, the question of the initial backfill is settled: it was requested for a stream
 * that runs on Jobs, and it is skipped for one that runs on a CronJob.
 */
function initialBackfillSettled(state: StreamState, spec: ValidSpec): StreamState {
  if (state.initialBackfill !== 'undecided') return state;
  return { ...state, initialBackfill: spec.backend === 'job' ? 'requested' : 'skipped' };
}

/** A valid spec, not suspended: first the initial backfill, then any open backfill requests, then streaming. */
function proceed(ctx: Context): Outcome {
  if (owesInitialBackfill(ctx)) return requestInitialBackfill(ctx);
  const settled = { ...ctx, state: initialBackfillSettled(ctx.state, ctx.spec) };
  const request = backfillToRun(settled.state, ctx.observation);
  if (request !== undefined) return runBackfill(settled, request);
  return ctx.spec.backend === 'job' ? runStreamingJob(settled) : runCronJob(settled);
}

function reconcile(
  state: StreamState,
  observation: Observation,
  stream: ObservedStream,
  config: LifecycleConfig,
  now: number,
): Outcome {
  const spec = stream.spec;
  if (!spec.valid) {
    // Suspension wins: a stream asked to stop stops, even when the rest of its spec cannot be used.
    if (config.revision >= 2 && spec.suspended === true) return suspend({ state, observation, config });
    return rejectSpec(state, spec);
  }
  const ctx: Context = {
    state: noteConfiguration(state, spec, now),
    observation,
    spec,
    pinTemplate: stream.pinTemplate,
    config,
    now,
  };
  if (spec.backend === 'none') return withoutBackend(ctx);
  if (spec.suspended) return suspend(ctx);
  if (ctx.state.phase !== 'Suspended') return proceed(ctx);
  const resumed = resume(ctx);
  // Resuming goes straight on to what runs next, so the status is written once, for where the stream settles.
  return config.revision < 2 ? resumed : after(resumed, proceed({ ...ctx, state: resumed.state }));
}

/**
 * Decide the next step for a stream. Pure and deterministic: `now` is epoch ms from the workflow clock. Run the
 * actions in order, observe again and call again until no actions are returned; then wait for a signal or `wakeAt`.
 */
export function decide(state: StreamState, observation: Observation, config: LifecycleConfig, now: number): Decision {
  const detached = detachedBecause(state, observation);
  if (detached !== undefined) {
    const ended = detach(state, detached);
    const released = config.revision >= 5 ? releasedOnDetach(observation) : [];
    return released.length > 0 ? { state: ended, actions: released } : { state: ended, actions: [], done: true };
  }
  const known = withKind(state, observation);
  const stream = observation.stream;
  if (!stream || stream.deleting) return tearDown(known, observation);
  const seen = firstSight(forObject(known, stream), stream, observation, config);
  return settle(seen, reconcile(seen, observation, stream, config, now), { observation, stream, config, now });
}
