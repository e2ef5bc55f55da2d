// Backfilling: which open BackfillRequest runs, stopping the streaming workload while it runs, and marking the request
// completed when its Job has finished.
import { after, awaitRemoval, hold, inPhase, normal, outcome, warning, type Context, type Outcome } from './outcome.ts';
import { noteActiveJob, onJobFailed, owedRestart, requestedRestart, runsTarget, settleRestart } from './restarts.ts';
import { awaitsRemoval } from './job-removal.ts';
import { templateUnusable } from './templates.ts';
import type { EventNote, Observation, ObservedBackfillRequest, ObservedJob, StreamState } from './types.ts';

function oldestFirst(a: ObservedBackfillRequest, b: ObservedBackfillRequest): number {
  return a.createdAt - b.createdAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function openRequests(observation: Observation): string[] {
  return observation.backfillRequests
    .filter((request) => !request.completed && request.refused !== true)
    .sort(oldestFirst)
    .map((request) => request.name);
}

/**
 * The open request to backfill now: the one already in progress, else the one the existing backfill Job runs, else the
 * oldest open request.
 */
export function backfillToRun(state: StreamState, observation: Observation): string | undefined {
  const open = openRequests(observation);
  const job = observation.job;
  if (state.activeBackfill !== undefined && open.includes(state.activeBackfill)) return state.activeBackfill;
  if (job?.backfilling && job.backfillId !== undefined && open.includes(job.backfillId)) return job.backfillId;
  return open[0];
}

/** Why a backfill Job that is not the one to run gets stopped. */
function staleBackfillNote(observation: Observation, job: ObservedJob, request?: string): EventNote {
  const id = job.backfillId ?? 'unknown';
  const message =
    request !== undefined && openRequests(observation).includes(id)
      ? `backfill request ${request} runs first; stopping the backfill Job of request ${id}`
      : `backfill request ${id} is no longer open (deleted or completed elsewhere); stopping its backfill Job`;
  return normal('BackfillNotRequested', message);
}

/** Delete a backfill Job whose request no longer runs. */
export function stopStaleBackfill(ctx: Context, job: ObservedJob): Outcome {
  const note = staleBackfillNote(ctx.observation, job);
  return outcome(inPhase(ctx.state, 'Pending', note.message), {
    actions: [{ type: 'deleteJob', uid: job.uid }],
    events: [note],
  });
}

/** The streaming workload and any other backfill Job stop before `request`'s backfill Job starts. */
function stopsForBackfill(ctx: Context, request: string): Pick<Outcome, 'actions' | 'events'> {
  const { job, cronJob } = ctx.observation;
  const stops: Pick<Outcome, 'actions' | 'events'> = { actions: [], events: [] };
  if (cronJob && !cronJob.terminating) {
    stops.actions.push({ type: 'deleteCronJob', uid: cronJob.uid });
    stops.events.push(stoppingNote('CronJob', request));
  }
  if (job && !job.terminating && !runsTarget(job, request)) {
    stops.actions.push({ type: 'deleteJob', uid: job.uid });
    stops.events.push(
      job.backfilling ? staleBackfillNote(ctx.observation, job, request) : stoppingNote('streaming Job', request),
    );
  }
  return stops;
}

function backfillingMessage(request: string): string {
  return `the backfill Job for request ${request} is running`;
}

function stoppingNote(workload: string, request: string): EventNote {
  return normal('BackfillRequested', `backfill request ${request} is open; stopping the ${workload} to backfill`);
}

/** The backfill Job for `request` (re)created: phase Backfilling. */
function backfilling(state: StreamState, request: string, now: number, replaces?: string): Outcome {
  const next = { ...state, pendingRestart: undefined, lastJobStart: now };
  return outcome(inPhase(next, 'Backfilling', backfillingMessage(request)), {
    actions: [{ type: 'applyBackfillJob', request, ...(replaces === undefined ? {} : { replaces }) }],
  });
}

function startBackfill(ctx: Context, request: string): Outcome {
  const again = ctx.state.phase === 'Backfilling';
  const message = again
    ? `the backfill Job for request ${request} is gone (deleted outside the operator); starting it again`
    : `starting the backfill Job for request ${request}`;
  return { ...backfilling(ctx.state, request, ctx.now), events: [normal('BackfillStarted', message)] };
}

/**
 * The backfill Job completed. The request is marked completed before the Job is removed: if the workflow stopped in
 * between, the request would otherwise look open again and run a second time.
 */
function completeBackfill(ctx: Context, request: string, job: ObservedJob): Outcome {
  const state = { ...ctx.state, activeBackfill: undefined };
  return outcome(inPhase(state, 'Pending', `backfill request ${request} completed; the stream continues next`), {
    actions: [
      { type: 'completeBackfillRequest', name: request },
      { type: 'deleteJob', uid: job.uid, completed: true },
    ],
    events: [
      normal('BackfillCompleted', `the backfill Job for request ${request} completed; marking the request completed`),
    ],
  });
}

/**
 * The backfill Job is running. A Job this lifecycle did not start (one found when the workflow took the stream over)
 * gets one Event saying the backfill continues with it.
 */
function keepBackfilling(ctx: Context, request: string, job: ObservedJob, takenOver: boolean): Outcome {
  const { state, wakeAt } = noteActiveJob(ctx, job);
  const events = takenOver
    ? [normal('BackfillInProgress', `the backfill Job for request ${request} is already running; continuing with it`)]
    : [];
  return outcome(inPhase(state, 'Backfilling', backfillingMessage(request)), {
    events,
    ...(wakeAt === undefined ? {} : { wakeAt }),
  });
}

function backfillStep(ctx: Context, request: string, job: ObservedJob | undefined, takenOver: boolean): Outcome {
  if (job && awaitsRemoval(ctx, job)) return awaitRemoval(ctx);
  const pending = ctx.state.pendingRestart;
  if (pending) return settleRestart(ctx, pending, (state) => backfilling(state, request, ctx.now, job?.uid));
  if (!job) return templateUnusable(ctx, 'backfill') ?? startBackfill(ctx, request);
  if (job.state === 'complete') return completeBackfill(ctx, request, job);
  if (job.state === 'failed') return onJobFailed(ctx, job, request);
  return keepBackfilling(ctx, request, job, takenOver);
}

/**
 * A backfill that cannot run: a batch stream whose spec names no backfill template is refused on the request (its
 * CronJob keeps running); a backfill template that cannot build a Job fails the stream before anything is stopped.
 */
function unrunnableBackfill(ctx: Context, request: string): Outcome | undefined {
  if (ctx.config.revision < 2) return undefined;
  const template = ctx.observation.templates.backfill;
  if (template === undefined && ctx.spec.backend === 'cronjob') {
    const message =
      'the stream runs on a batch schedule and its spec names no backfill template (backfillJobTemplateRef), so it ' +
      'cannot backfill; set a backfill template and create a new request';
    return outcome(ctx.state, {
      actions: [{ type: 'refuseBackfillRequest', name: request, reason: 'BackfillNotSupported', message }],
      events: [warning('BackfillNotRequested', `backfill request ${request} refused: ${message}`)],
    });
  }
  if (template?.problem === undefined) return undefined;
  const message = `the backfill template ${template.ref} cannot build a Job for request ${request}: ${template.problem}`;
  return outcome(inPhase(ctx.state, 'Failed', message, 'InvalidTemplate'), {
    entryEvent: warning('InvalidTemplate', message),
  });
}

/** Backfills `request`. Whatever streams stops first. A Failed stream runs a requested backfill too. */
export function runBackfill(ctx: Context, request: string): Outcome {
  const unrunnable = unrunnableBackfill(ctx, request);
  if (unrunnable) return unrunnable;
  const job = ctx.observation.job;
  const state = { ...owedRestart(requestedRestart(ctx, job, request), job, request), activeBackfill: request };
  const next = { ...ctx, state };
  const stops = stopsForBackfill(next, request);
  if (stops.actions.length === 0) return backfillStep(next, request, job, ctx.state.activeBackfill !== request);
  return after(stops, hold(inPhase(state, 'Pending', `stopping the running workload to backfill request ${request}`)));
}
