// Streaming: one Job (phase Running) or one CronJob (phase Scheduled) named after the stream, kept up to date.
import { stopStaleBackfill } from './backfill.ts';
import { after, awaitRemoval, inPhase, normal, outcome, type Context, type Outcome } from './outcome.ts';
import {
  noteActiveJob,
  onJobCompleted,
  onJobFailed,
  owedRestart,
  requestedRestart,
  settleRestart,
} from './restarts.ts';
import { awaitsRemoval } from './job-removal.ts';
import { rolloutNote, templateUnusable } from './templates.ts';
import type { EventNote, ObservedCronJob, ObservedJob, StreamState } from './types.ts';

/** The conditions of a stream settled in Running and in Scheduled. */
export const runningMessage = 'the streaming Job is running';
export const scheduledMessage = 'the CronJob runs the stream on its schedule';
const nothingToStop: Pick<Outcome, 'actions' | 'events'> = { actions: [], events: [] };

function shortHash(hash: string | undefined): string {
  return hash === undefined || hash === '' ? 'none' : hash.slice(0, 8);
}

function configurationChange(
  ctx: Context,
  built: string | undefined,
  workload: 'streaming Job' | 'CronJob',
): EventNote {
  const message = `the configuration changed (${shortHash(built)} -> ${shortHash(ctx.spec.configurationHash)}); replacing the ${workload}`;
  return normal(workload === 'CronJob' ? 'StreamingScheduled' : 'StreamingContinued', message);
}

/** The streaming Job (re)created, replacing the Job `replaces`: phase Running. */
function running(state: StreamState, now: number, replaces?: string): Outcome {
  const next = { ...state, pendingRestart: undefined, lastJobStart: now };
  return outcome(inPhase(next, 'Running', runningMessage), {
    actions: [{ type: 'applyStreamingJob', ...(replaces === undefined ? {} : { replaces }) }],
  });
}

function withEvent(result: Outcome, event: EventNote): Outcome {
  return { ...result, events: [...result.events, event] };
}

function startStreaming(ctx: Context): Outcome {
  const event =
    ctx.state.phase === 'Running'
      ? normal('StreamingContinued', 'the streaming Job is gone (deleted outside the operator); recreating it')
      : normal('StreamStarted', 'no backfill is open; starting the streaming Job');
  return withEvent(running(ctx.state, ctx.now), event);
}

function keepRunning(ctx: Context, job: ObservedJob): Outcome {
  const { state, wakeAt } = noteActiveJob(ctx, job);
  return outcome(inPhase(state, 'Running', runningMessage), wakeAt === undefined ? {} : { wakeAt });
}

function streamingJobStep(ctx: Context, job: ObservedJob | undefined): Outcome {
  if (job && awaitsRemoval(ctx, job)) return awaitRemoval(ctx);
  if (job?.backfilling) return stopStaleBackfill(ctx, job);
  const pending = ctx.state.pendingRestart;
  if (pending) return settleRestart(ctx, pending, (state) => running(state, ctx.now, job?.uid));
  if (!job) return templateUnusable(ctx, 'streaming') ?? startStreaming(ctx);
  if (job.configurationHash !== ctx.spec.configurationHash) {
    const change = configurationChange(ctx, job.configurationHash, 'streaming Job');
    return templateUnusable(ctx, 'streaming') ?? withEvent(running(ctx.state, ctx.now, job.uid), change);
  }
  if (job.state === 'failed') return onJobFailed(ctx, job);
  if (job.state === 'complete') return onJobCompleted(ctx, job, (state) => running(state, ctx.now, job.uid));
  const rollout = rolloutNote(ctx, job);
  if (rollout === undefined) return keepRunning(ctx, job);
  const rolledOut = running(ctx.state, ctx.now, job.uid);
  const note = normal('TemplateRollout', `${rollout}; replacing the streaming Job to roll it out`);
  return templateUnusable(ctx, 'streaming') ?? withEvent(rolledOut, note);
}

/** A CronJob left from the batch backend goes once the stream runs as a Job. */
function removeCronJob(cronJob: ObservedCronJob | undefined): Pick<Outcome, 'actions' | 'events'> {
  if (!cronJob || cronJob.terminating) return nothingToStop;
  return {
    actions: [{ type: 'deleteCronJob', uid: cronJob.uid }],
    events: [normal('StreamingContinued', 'the backend changed from batch to a Job; removing the CronJob')],
  };
}

/** Job backend: keep one healthy streaming Job built from the current spec and template. */
export function runStreamingJob(ctx: Context): Outcome {
  const { job, cronJob } = ctx.observation;
  const state = owedRestart(requestedRestart(ctx, job), job);
  return after(removeCronJob(cronJob), streamingJobStep({ ...ctx, state }, job));
}

/** The CronJob (re)created, replacing the CronJob `replaces`: phase Scheduled. */
function scheduled(state: StreamState, event: EventNote, replaces?: string): Outcome {
  return outcome(inPhase(state, 'Scheduled', scheduledMessage), {
    actions: [{ type: 'applyCronJob', ...(replaces === undefined ? {} : { replaces }) }],
    events: [event],
  });
}

function cronJobStep(ctx: Context, cronJob: ObservedCronJob | undefined): Outcome {
  const { state } = ctx;
  if (cronJob?.terminating) return awaitRemoval(ctx);
  if (!cronJob) {
    const message =
      state.phase === 'Scheduled'
        ? 'the CronJob is gone (deleted outside the operator); recreating it'
        : 'creating the CronJob that runs the stream on its schedule';
    return templateUnusable(ctx, 'streaming') ?? scheduled(state, normal('StreamingScheduled', message));
  }
  if (cronJob.configurationHash !== ctx.spec.configurationHash) {
    const change = configurationChange(ctx, cronJob.configurationHash, 'CronJob');
    return templateUnusable(ctx, 'streaming') ?? scheduled(state, change, cronJob.uid);
  }
  const rollout = rolloutNote(ctx, cronJob);
  if (rollout === undefined) return outcome(inPhase(state, 'Scheduled', scheduledMessage));
  const note = normal('TemplateRollout', `${rollout}; replacing the CronJob to roll it out`);
  return templateUnusable(ctx, 'streaming') ?? scheduled(state, note, cronJob.uid);
}

/** Any Job named after the stream is left from the Job backend or a finished backfill once the stream is batch. */
function removeJob(ctx: Context, job: ObservedJob | undefined): Pick<Outcome, 'actions' | 'events'> {
  if (!job || job.terminating) return nothingToStop;
  if (job.backfilling) return stopStaleBackfill(ctx, job);
  return {
    actions: [{ type: 'deleteJob', uid: job.uid }],
    events: [normal('StreamScheduled', 'the backend changed from a Job to batch; removing the streaming Job')],
  };
}

/**
 * CronJob backend: keep one CronJob built from the current spec and template. The restart policy does not apply: the
 * CronJob starts a new Job at each scheduled time by itself.
 */
export function runCronJob(ctx: Context): Outcome {
  const { job, cronJob } = ctx.observation;
  const next = { ...ctx, state: { ...ctx.state, pendingRestart: undefined } };
  return after(removeJob(next, job), cronJobStep(next, cronJob));
}
