// The restart policy: what a failed or completed Job leads to, how long to wait before each restart, and when a Job
// has run long enough (the stable period) for the restart counts to start again from zero.
import { hold, inPhase, normal, outcome, warning, type Context, type Outcome } from './outcome.ts';
import { templateUnusable } from './templates.ts';
import type { LifecycleConfig, ObservedJob, PendingRestart, StreamState } from './types.ts';

/** The delay before restart `attempt` (1-based): exponential, capped. */
function backoffMs(config: LifecycleConfig, attempt: number): number {
  const delay = config.restartBackoffInitialMs * config.restartBackoffFactor ** (attempt - 1);
  return Math.min(delay, config.restartBackoffCapMs);
}

/** A duration as a person reads it: 45s, 3m20s, 2h5m. */
function describeDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 ? `${minutes}m${seconds % 60}s` : `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours}h${minutes % 60}m` : `${hours}h`;
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** When the Job started: its own start time, else when this lifecycle created it. */
function startOf(job: ObservedJob, state: StreamState): number | undefined {
  return job.startTime ?? state.lastJobStart;
}

/** How long the Job ran until it finished (or until now); 0 when its start is unknown. */
function runTime(job: ObservedJob, state: StreamState, now: number): number {
  const end = job.finishTime ?? now;
  return end - (startOf(job, state) ?? end);
}

function ranStably(job: ObservedJob, ctx: Context): boolean {
  return runTime(job, ctx.state, ctx.now) >= ctx.config.stablePeriodMs;
}

function withCountsReset(state: StreamState): StreamState {
  return { ...state, restartCount: 0, quickCompletions: 0 };
}

/**
 * A running Job that has lasted the stable period clears the restart counts. Until it has, the workflow sets a timer
 * for the moment it will have, so the counts are cleared then even if nothing else happens.
 */
export function noteActiveJob(ctx: Context, job: ObservedJob): { state: StreamState; wakeAt?: number } {
  const { state } = ctx;
  if (state.restartCount === 0 && state.quickCompletions === 0) return { state };
  if (ranStably(job, ctx)) return { state: withCountsReset(state) };
  const start = startOf(job, state);
  return start === undefined ? { state } : { state, wakeAt: start + ctx.config.stablePeriodMs };
}

/**
 * Keeps a pending restart only when it belongs to the Job this mode runs (`target` names a backfill request, or is
 * undefined for streaming); a restart owed to some other Job is dropped.
 */
export function owedRestart(state: StreamState, job: ObservedJob | undefined, target?: string): StreamState {
  const pending = state.pendingRestart;
  if (!pending) return state;
  const owed = pending.backfillRequest === target && (!job || job.uid === pending.jobUid);
  return owed ? state : { ...state, pendingRestart: undefined };
}

/** Whether `job` is the one this mode runs: the streaming Job, or the backfill Job of request `target`. */
export function runsTarget(job: ObservedJob, target?: string): boolean {
  if (target === undefined) return !job.backfilling;
  // Jobs adopted from upstream may not say which request they run: they run the one in progress.
  return job.backfilling && (job.backfillId ?? target) === target;
}

/** The `restart` update turns into a restart of this mode's Job due now, with the counts reset. */
export function requestedRestart(ctx: Context, job: ObservedJob | undefined, target?: string): StreamState {
  const { state, now } = ctx;
  if (!state.restartRequested) return state;
  const reset = { ...withCountsReset(state), pendingRestart: undefined };
  if (!job || job.terminating || !runsTarget(job, target)) return reset;
  const pendingRestart: PendingRestart = {
    jobUid: job.uid,
    ...(target === undefined ? {} : { backfillRequest: target }),
    cause: 'requested',
    dueAt: now,
    message: 'restart requested through the restart update',
  };
  return { ...reset, pendingRestart };
}

/** A spec change is a manual way out of Failed: any owed restart becomes due now with the counts reset. */
export function restartForConfiguration(state: StreamState, now: number): StreamState {
  const pending = state.pendingRestart;
  if (!pending) return state;
  const message = 'the configuration changed';
  return { ...withCountsReset(state), pendingRestart: { ...pending, cause: 'configuration', dueAt: now, message } };
}

function jobLabel(target?: string): string {
  return target === undefined ? 'streaming Job' : `backfill Job for request ${target}`;
}

function exhaustedAdvice(config: LifecycleConfig): string {
  const limit =
    config.maxRestarts === 0
      ? 'automatic restarts are off (maxRestarts is 0)'
      : `all ${config.maxRestarts} automatic restarts since the last stable run are used`;
  return `${limit}; suspend and resume, change the spec or use the restart update`;
}

/**
 * A Job failed: the stream is Failed at once. A restart follows after the backoff, unless the automatic restarts are
 * used up; then it stays Failed until someone acts.
 */
export function onJobFailed(ctx: Context, job: ObservedJob, target?: string): Outcome {
  const { config, now } = ctx;
  const state = ranStably(job, ctx) ? withCountsReset(ctx.state) : ctx.state;
  const why = `the ${jobLabel(target)} failed${job.failureMessage ? ` (${job.failureMessage})` : ''}`;
  const failed = (message: string, pendingRestart: PendingRestart, restartCount: number) =>
    inPhase({ ...state, pendingRestart, restartCount }, 'Failed', message);
  const base = {
    jobUid: job.uid,
    ...(target === undefined ? {} : { backfillRequest: target }),
    cause: 'failed' as const,
  };
  if (state.restartCount >= config.maxRestarts) {
    const message = `${why}; ${exhaustedAdvice(config)}`;
    return outcome(failed(message, { ...base, message }, state.restartCount), {
      events: [warning('StreamingJobFailed', message)],
    });
  }
  const attempt = state.restartCount + 1;
  const dueAt = now + backoffMs(config, attempt);
  const message = `${why}; restart ${attempt} of ${config.maxRestarts} at ${isoTime(dueAt)}`;
  return outcome(failed(message, { ...base, dueAt, message }, attempt), {
    events: [warning('StreamingJobFailed', message)],
    wakeAt: dueAt,
  });
}

/**
 * A streaming Job completed. A stream is meant to run until it is suspended, so the Job is started again: at once if
 * it ran for the stable period, else after the backoff, so that a Job that keeps ending quickly does not spin.
 */
export function onJobCompleted(ctx: Context, job: ObservedJob, restartNow: (state: StreamState) => Outcome): Outcome {
  const { config, now } = ctx;
  const ran = describeDuration(runTime(job, ctx.state, now));
  if (ranStably(job, ctx)) {
    const message = `the streaming Job completed after ${ran}; a stream runs until suspended, so it starts again`;
    return templateUnusable(ctx, 'streaming') ?? announce(restartNow(withCountsReset(ctx.state)), message);
  }
  const quickCompletions = ctx.state.quickCompletions + 1;
  const dueAt = now + backoffMs(config, quickCompletions);
  const message =
    `the streaming Job completed after ${ran}, within the stable period of ${describeDuration(config.stablePeriodMs)}; ` +
    `starting it again at ${isoTime(dueAt)}`;
  const pendingRestart: PendingRestart = { jobUid: job.uid, cause: 'completed', dueAt, message };
  return outcome(inPhase({ ...ctx.state, quickCompletions, pendingRestart }, 'Pending', message), { wakeAt: dueAt });
}

function announce(restarted: Outcome, message: string): Outcome {
  return { ...restarted, events: [normal('StreamRestarting', message), ...restarted.events] };
}

/** Why a due restart happens, for its StreamRestarting event. */
function restartReason(pending: PendingRestart, ctx: Context): string {
  const label = jobLabel(pending.backfillRequest);
  switch (pending.cause) {
    case 'failed':
      return `restart ${ctx.state.restartCount} of ${ctx.config.maxRestarts}: the ${label} failed and its backoff elapsed`;
    case 'completed':
      return `the ${label} completed early and its backoff elapsed; starting it again`;
    case 'configuration':
      return `the configuration changed while the ${label} was stopped; starting it with the new spec`;
    case 'requested':
      return `restart requested through the restart update; replacing the ${label}`;
  }
}

/**
 * Act on an owed restart: stay Failed when exhausted, wait for the backoff, or restart now through `restartNow`
 * once the template to build from exists.
 */
export function settleRestart(
  ctx: Context,
  pending: PendingRestart,
  restartNow: (state: StreamState) => Outcome,
): Outcome {
  if (pending.dueAt === undefined) return hold(inPhase(ctx.state, 'Failed', pending.message));
  if (ctx.now < pending.dueAt) {
    return hold(inPhase(ctx.state, pending.cause === 'failed' ? 'Failed' : 'Pending', pending.message), pending.dueAt);
  }
  const missing = templateUnusable(ctx, pending.backfillRequest === undefined ? 'streaming' : 'backfill');
  return missing ?? announce(restartNow({ ...ctx.state, pendingRestart: undefined }), restartReason(pending, ctx));
}
