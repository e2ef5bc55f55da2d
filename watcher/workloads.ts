// Jobs and CronJobs labelled arcane/stream-id. The workload named after its stream wakes that stream's workflow when
// it appears (unless this operator made it) or goes away, when our annotations, labels or finalizer on it change, and,
// for a Job, when it completes or fails.
import type { V1CronJob, V1Job } from '@kubernetes/client-node';
import { observeCronJob, observeJob, workloadAsObserved } from '../activities/observed-workloads.ts';
import { STREAM_CLASS_ANNOTATION, STREAM_ID_LABEL, STREAM_KIND_LABEL } from '../resources/job-metadata.ts';
import { versionKey } from '../workflows/lifecycle/versions.ts';
import { jobObservedSignal, type ObservedWorkload } from '../workflows/messages.ts';
import { deletion, workloadChange, type WatchedObject } from './forwarding.ts';
import { SupervisedInformer, type InformerEvent } from '../kubernetes/informer.ts';
import type { InformerSettings } from './metrics.ts';
import { versionOf, type SignalDispatcher } from './runtime/signals.ts';
import type { StreamDirectory } from './stream-class-controller.ts';
import type { StreamSource } from './stream-source.ts';

export const WORKLOADS = {
  Job: { group: 'batch', version: 'v1', plural: 'jobs' },
  CronJob: { group: 'batch', version: 'v1', plural: 'cronjobs' },
} as const;

export interface WorkloadWatchDeps {
  settings: InformerSettings;
  watchNamespace?: string;
  directory: StreamDirectory;
  dispatcher: SignalDispatcher;
  onListed(): void;
}

/**
 * The serving class of the stream this workload belongs to: named by our annotation, or, for a workload adopted from
 * upstream that has no such annotation, found by its kind label.
 */
function owningSource(workload: WatchedObject, directory: StreamDirectory): StreamSource | undefined {
  const { namespace = '', labels = {}, annotations = {} } = workload.metadata ?? {};
  const name = labels[STREAM_ID_LABEL] ?? '';
  const className = annotations[STREAM_CLASS_ANNOTATION];
  if (className !== undefined) {
    const source = directory.source(className);
    return source?.has(namespace, name) ? source : undefined;
  }
  return directory.sources().find((source) => source.kind === labels[STREAM_KIND_LABEL] && source.has(namespace, name));
}

const OBSERVE = {
  Job: (object: WatchedObject) => observeJob(object as V1Job),
  CronJob: (object: WatchedObject) => observeCronJob(object as V1CronJob),
};

/** The workload as the lifecycle's observation shows it (null: gone). */
function observedWorkload(kind: keyof typeof WORKLOADS, object: WatchedObject | undefined): ObservedWorkload {
  if (kind === 'Job') return { job: object ? OBSERVE.Job(object) : null };
  return { cronJob: object ? OBSERVE.CronJob(object) : null };
}

/**
 * A completed Job this operator made, going while our outcome finalizer still holds it: its deletion requested, or the
 * Job gone with the release of that finalizer. Its workflow heard of its completion; it deletes the Job itself once it
 * has recorded the outcome, and releases it, and its observation after that shows the Job gone. A deletion by someone
 * else (its TTL, say) changes nothing it decides on: the finalizer keeps the Job until the outcome is read. Hearing of
 * either would cost the workflow a wake for nothing. A Job that lingers after the release (its pods go first) is not
 * held any more, so its going is forwarded: a workflow may be waiting for it to be gone.
 */
function completedJobGoing(kind: keyof typeof WORKLOADS, event: InformerEvent): boolean {
  const { object, previous } = event;
  if (kind !== 'Job' || object.metadata?.annotations?.[STREAM_CLASS_ANNOTATION] === undefined || !previous) {
    return false;
  }
  const before = OBSERVE.Job(previous);
  if (before.state !== 'complete' || before.held !== true) return false;
  if (event.type === 'deleted') return true;
  const after = OBSERVE.Job(object);
  return !before.terminating && after.terminating && after.state === 'complete' && after.held === true;
}

export function watchWorkloads(kind: keyof typeof WORKLOADS, deps: WorkloadWatchDeps): SupervisedInformer {
  const { settings, directory, dispatcher } = deps;
  const onEvent = (event: InformerEvent) => {
    settings.metrics.events.inc({ kind, type: event.type });
    const { object, previous } = event;
    const name = object.metadata?.name ?? '';
    // Only the workload named after its stream counts: the Jobs that a stream's CronJob starts carry the label too.
    if (event.fromList || object.metadata?.labels?.[STREAM_ID_LABEL] !== name) return;
    const change = completedJobGoing(kind, event)
      ? { forward: false, reason: 'completed Job of this operator going' }
      : event.type === 'deleted'
        ? deletion
        : workloadChange(previous, object, OBSERVE[kind]);
    if (!change.forward) {
      settings.metrics.suppressed.inc({ kind });
      return;
    }
    const source = owningSource(object, directory);
    if (!source) {
      settings.log.debug({ kind, namespace: object.metadata?.namespace, name }, 'workload of no known stream');
      return;
    }
    const stream = source.keyOf({ metadata: { namespace: object.metadata?.namespace, name } });
    const reason = `${kind} ${name} ${change.reason}`;
    const observed = observedWorkload(kind, event.type === 'deleted' ? undefined : object);
    // A deleted workload's object is the last version before its deletion. The workflow's next observation must be at
    // least that new, so that it sees the workload gone rather than a stale copy.
    const versions = versionOf(kind === 'Job' ? versionKey.job : versionKey.cronJob, object);
    dispatcher.send({ stream, signal: jobObservedSignal, reason, observed, versions, start: { kind: source.kind } });
  };
  const location = { ...WORKLOADS[kind], namespace: deps.watchNamespace, labelSelector: STREAM_ID_LABEL };
  return new SupervisedInformer(
    { ...settings, resource: `${location.plural}.${location.group}`, location, keep: workloadAsObserved },
    { event: onEvent, listed: () => deps.onListed() },
  );
}
