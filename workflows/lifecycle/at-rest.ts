// Whether a stream is at rest: its stored status shows a settled phase and the cluster agrees with it, so a resync
// would find nothing to do, whatever its workflow remembers. The watcher asks this before it resyncs a stream whose
// workflow is open; anything not clearly settled is not at rest, and that stream gets its resync.
import { PRUNED_BY_PLUGINS, statusShows } from '../../resources/status-write.ts';
import { suspendedMessage } from './decide.ts';
import { conditionTypes, phaseReasons } from './outcome.ts';
import { statusWriteOf } from './settle.ts';
import { runningMessage, scheduledMessage } from './streaming.ts';
import type { Observation, ObservedCronJob, ObservedStream, ValidSpec } from './types.ts';

/** The phases a stream stays in with nothing to do until something changes. */
type RestingPhase = 'Running' | 'Scheduled' | 'Suspended';

const restingMessages: Record<RestingPhase, string> = {
  Running: runningMessage,
  Scheduled: scheduledMessage,
  Suspended: suspendedMessage,
};

/** The phase the spec settles in; a spec without a backend is never at rest, even suspended (it stays phase ''). */
function restingPhase(spec: ValidSpec): RestingPhase | undefined {
  if (spec.backend === 'none') return undefined;
  if (spec.suspended) return 'Suspended';
  return spec.backend === 'job' ? 'Running' : 'Scheduled';
}

/**
 * Whether the stored status is the one the lifecycle writes when it settles in `phase` on this spec (phase, hash and
 * condition, for the stream's current generation), compared as the lifecycle compares it, so it would not rewrite it.
 */
function showsSettled(stream: ObservedStream, phase: RestingPhase, spec: ValidSpec): boolean {
  const settled = statusWriteOf({
    phase,
    configurationHash: spec.configurationHash,
    conditionType: conditionTypes[phase],
    reason: phaseReasons[phase],
    message: restingMessages[phase],
    observedGeneration: stream.generation,
  });
  return statusShows(stream.status, settled, PRUNED_BY_PLUGINS);
}

/** A workload of ours, not going away, built from the current spec and from the template generation it would use. */
function upToDate(workload: ObservedCronJob, spec: ValidSpec, stream: ObservedStream, observation: Observation) {
  if (workload.terminating || !workload.labelled || workload.configurationHash !== spec.configurationHash) return false;
  if (workload.templateGeneration === undefined) return false;
  // A pinned stream is never rolled out to a newer template.
  if (stream.pinTemplate) return true;
  const template = observation.templates.streaming;
  return (
    template?.found === true && template.problem === undefined && template.generation === workload.templateGeneration
  );
}

function workloadsAgree(phase: RestingPhase, spec: ValidSpec, stream: ObservedStream, observation: Observation) {
  const { job, cronJob } = observation;
  switch (phase) {
    case 'Running':
      return (
        cronJob === undefined &&
        job !== undefined &&
        job.state === 'active' &&
        !job.backfilling &&
        // Without the outcome finalizer the Job would be adopted (given it).
        job.held !== false &&
        upToDate(job, spec, stream, observation)
      );
    case 'Scheduled':
      return job === undefined && cronJob !== undefined && upToDate(cronJob, spec, stream, observation);
    case 'Suspended':
      return job === undefined && cronJob === undefined;
  }
}

/**
 * Whether the observation shows the stream at rest: its stored status is the settled one of Running (a Job backend),
 * Scheduled (a CronJob backend) or Suspended on the current spec, the workloads are exactly what that phase runs, built
 * from the current spec and template, and no BackfillRequest is open. The lifecycle would then decide no action.
 */
export function atRest(observation: Observation): boolean {
  const { stream } = observation;
  if (observation.detached || observation.kind === undefined || !stream || stream.deleting || !stream.spec.valid) {
    return false;
  }
  const spec = stream.spec;
  const phase = restingPhase(spec);
  if (phase === undefined || !showsSettled(stream, phase, spec)) return false;
  if (observation.backfillRequests.some((request) => !request.completed && request.refused !== true)) return false;
  return workloadsAgree(phase, spec, stream, observation);
}
