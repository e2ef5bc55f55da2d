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
 * A completed Job this operator made, released or going by its workflow's own doing. Its workflow heard of its
 * completion; once it has recorded the outcome it releases our outcome finalizer and deletes the Job (in the
 * Background: its pods are done, so it goes at once), and the answers to those writes show it gone. So none of these
 * is news to it, and hearing of them would cost it a wake for nothing:
 * - its deletion requested while the finalizer holds it (by its TTL, say: the finalizer keeps it until the outcome is
 *   read, so that changes nothing the workflow decides on);
 * - the finalizer released;
 * - the Job gone while held (with the release), or gone at once from a released Job that was not terminating.
 * A Job that lingers, terminating, after the release (a deletion in the foreground waits for its pods) is not held any
 * more, so its going is forwarded: a workflow may be waiting for it to be gone.
 */
function completedJobGoing(kind: keyof typeof WORKLOADS, event: InformerEvent): boolean {
  const { object, previous } = event;
  if (kind !== 'Job' || object.metadata?.annotations?.[STREAM_CLASS_ANNOTATION] === undefined || !previous) {
    return false;
  }
  const before = OBSERVE.Job(previous);
  if (before.state !== 'complete') return false;
  if (event.type === 'deleted') return before.held === true || (before.held === false && !before.terminating);
  const after = OBSERVE.Job(object);
  if (before.held !== true || after.state !== 'complete') return false;
  const deletionRequested = !before.terminating && after.terminating && after.held === true;
  const released = after.held === false && before.terminating === after.terminating;
  return deletionRequested || released;
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
