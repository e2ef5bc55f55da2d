// Jobs going away. The operator's outcome finalizer keeps a finished Job readable after its TTL deletes it; the
// lifecycle reads the outcome first, then releases the finalizer so the Job can go.
import type { Context } from './outcome.ts';
import type { Action, Observation, ObservedJob } from './types.ts';

/** A Job deleted (by its TTL, say) whose outcome the lifecycle has not read yet: it finished and is still held. */
export function outcomeUnread(job: ObservedJob): boolean {
  return job.terminating && job.held === true && job.state !== 'active';
}

/** Whether to wait for the Job to be gone before acting: it is terminating and has no outcome left to read. */
export function awaitsRemoval(ctx: Context, job: ObservedJob): boolean {
  if (!job.terminating) return false;
  return ctx.config.revision < 2 || !outcomeUnread(job);
}

/** Whether an action removes or replaces the Job with this uid (and so releases it itself). */
export function replacesJob(action: Action, uid: string): boolean {
  if (action.type === 'deleteJob') return action.uid === uid;
  if (action.type === 'applyStreamingJob' || action.type === 'applyBackfillJob') return action.replaces === uid;
  return false;
}

/**
 * A terminating Job still held by the finalizer is released once this decision has looked at it: its outcome is then
 * in the lifecycle's state (or no longer matters), so it may go. Runs after the decision's own actions, so a request
 * is marked completed before the Job that proves it disappears. A completed Job has no pod left: it goes at once, not
 * after its pods when its TTL deleted it in the foreground, so the Job after it need not wait.
 */
export function releases(observation: Observation, actions: readonly Action[]): Action[] {
  const job = observation.job;
  if (!job?.terminating || job.held !== true) return [];
  if (actions.some((action) => replacesJob(action, job.uid))) return [];
  return [{ type: 'releaseJob', uid: job.uid, ...(job.state === 'complete' ? { completed: true as const } : {}) }];
}

/**
 * A detached lifecycle leaves the stream's Job running as it is, but not held by the operator's finalizer: no lifecycle
 * would release it any more, and the Job could then never be deleted (nor its namespace) without a hand removing it.
 */
export function releasedOnDetach(observation: Observation): Action[] {
  const job = observation.job;
  return job?.held === true ? [{ type: 'releaseJob', uid: job.uid }] : [];
}
