// The stream's Job and CronJob: create, replace by uid, delete by uid, adopt. Each is idempotent under retry: a
// replacement names the uid it replaces, so a retry after it happened finds a newer workload and leaves it alone.
import type { V1CronJob, V1DeleteOptions, V1Job, V1ObjectMeta } from '@kubernetes/client-node';
import { BACKFILLING_LABEL, OUTCOME_FINALIZER, STREAM_ID_LABEL, STREAM_KIND_LABEL } from '../resources/job-metadata.ts';
import type { Result } from '../resources/result.ts';
import type { StreamDefinition } from '../resources/stream-definition.ts';
import type { StreamKey } from '../resources/stream-key.ts';
import type { ActionOf, ActivityContext } from './context.ts';
import { ActionSkipped, isAlreadyExists, isConflict, isInvalid, isNotFound, rejected, retryable } from './errors.ts';
import { mergePatch } from '../kubernetes/requests.ts';
import { retryOnConflict, unlessNotFound, type KubernetesApi } from './kubernetes.ts';
import { runsBackfill } from './observed-workloads.ts';
import {
  jobCall,
  readBackfillRequest,
  readCronJob,
  readJob,
  requireDefinition,
  requireStream,
  requireStreamClass,
  requireTemplate,
} from './stream-resources.ts';
import { backfillJob, cronJob, streamingJob } from './stream-workloads.ts';

export interface WorkloadApplied {
  uid: string;
  /** False when a workload that is not the one to replace already existed and was left alone. */
  created: boolean;
}

interface Workload<T extends { metadata?: V1ObjectMeta }> {
  kind: 'Job' | 'CronJob';
  plural: 'jobs' | 'cronjobs';
  read(kube: KubernetesApi, stream: StreamKey): Promise<T | undefined>;
  create(kube: KubernetesApi, stream: StreamKey, body: T): Promise<T>;
  delete(kube: KubernetesApi, stream: StreamKey, body: V1DeleteOptions): Promise<unknown>;
  patch(kube: KubernetesApi, stream: StreamKey, body: object): Promise<T>;
  /**
   * Remove the operator's outcome finalizer, if this kind of workload carries one. `read`: the workload as just read,
   * so that it is not read again (the release starts over from a fresh read if that one turns out outdated).
   */
  release?(kube: KubernetesApi, stream: StreamKey, uid: string, read?: { workload: T | undefined }): Promise<Released>;
  /** The finalizers an adopted workload must carry. */
  finalizers: readonly string[];
}

/** The Job as created: held by the outcome finalizer, so a TTL cannot delete it before its outcome is recorded. */
function held(job: V1Job): V1Job {
  const finalizers = job.metadata?.finalizers ?? [];
  if (finalizers.includes(OUTCOME_FINALIZER)) return job;
  return { ...job, metadata: { ...job.metadata, finalizers: [...finalizers, OUTCOME_FINALIZER] } };
}

const jobs: Workload<V1Job> = {
  kind: 'Job',
  plural: 'jobs',
  read: readJob,
  create: (kube, stream, body) =>
    kube.call(jobCall('create', stream, 'jobs'), () =>
      kube.batch.createNamespacedJob({ namespace: stream.namespace, body: held(body) }),
    ),
  delete: (kube, stream, body) =>
    kube.call(jobCall('delete', stream, 'jobs'), () =>
      kube.batch.deleteNamespacedJob({ name: stream.name, namespace: stream.namespace, body }),
    ),
  patch: (kube, stream, body) =>
    kube.call(jobCall('patch', stream, 'jobs'), () =>
      kube.batch.patchNamespacedJob({ name: stream.name, namespace: stream.namespace, body }, mergePatch),
    ),
  release: releaseOutcome,
  finalizers: [OUTCOME_FINALIZER],
};

const cronJobs: Workload<V1CronJob> = {
  kind: 'CronJob',
  plural: 'cronjobs',
  read: readCronJob,
  create: (kube, stream, body) =>
    kube.call(jobCall('create', stream, 'cronjobs'), () =>
      kube.batch.createNamespacedCronJob({ namespace: stream.namespace, body }),
    ),
  delete: (kube, stream, body) =>
    kube.call(jobCall('delete', stream, 'cronjobs'), () =>
      kube.batch.deleteNamespacedCronJob({ name: stream.name, namespace: stream.namespace, body }),
    ),
  patch: (kube, stream, body) =>
    kube.call(jobCall('patch', stream, 'cronjobs'), () =>
      kube.batch.patchNamespacedCronJob({ name: stream.name, namespace: stream.namespace, body }, mergePatch),
    ),
  finalizers: [],
};

function live(workload: { metadata?: V1ObjectMeta } | undefined): workload is { metadata: V1ObjectMeta } {
  return workload?.metadata !== undefined && workload.metadata.deletionTimestamp === undefined;
}

/**
 * Foreground: the workload stays (terminating) until its pods are gone, so an old and a new streaming pod, or a
 * streaming and a backfill pod, never run side by side. A completed Job's pods have all finished: it goes at once
 * (Background), and the Job that follows it can be created right away.
 */
function deleteOptions(uid: string, completed: boolean): V1DeleteOptions {
  return { propagationPolicy: completed ? 'Background' : 'Foreground', preconditions: { uid } };
}

function built<T>(result: Result<T>): T {
  if (!result.ok) throw rejected(result.error);
  return result.value;
}

/** The finalizer of a deletion in the foreground: the object stays until what it owns is gone. */
const FOREGROUND_DELETION = 'foregroundDeletion';

/** Creates of one replacement before its attempt fails: the first, and one more once the replaced workload is gone. */
const CREATE_ATTEMPTS = 2;

/**
 * Whether the workload that made a create fail is gone: already, or once the cache sees it go. The one a replacement
 * deleted goes only when its pods have stopped (a Job deleted in the foreground), which may take a while: waiting on
 * the cache's watch for it costs no API call, and the create is made again as soon as it is gone, not polled.
 */
async function goneSince<T extends { metadata?: V1ObjectMeta }>(
  context: ActivityContext,
  workload: Workload<T>,
  stream: StreamKey,
  current: T | undefined,
): Promise<boolean> {
  const uid = current?.metadata?.uid;
  if (uid === undefined) return true;
  if (live(current)) return false;
  const { resource } = jobCall('get', stream, workload.plural);
  return (await context.workloadGone?.(resource, stream, uid)) ?? false;
}

/** Create the workload when none is there; replace it only when it is `replaces`; else leave it. */
async function applyWorkload<T extends { metadata?: V1ObjectMeta }>(
  context: ActivityContext,
  workload: Workload<T>,
  stream: StreamKey,
  replaces: string | undefined,
  build: () => Promise<T>,
): Promise<WorkloadApplied> {
  const { kube, log } = context;
  const existing = await workload.read(kube, stream);
  if (live(existing) && existing.metadata.uid !== replaces) return { uid: existing.metadata.uid ?? '', created: false };
  // The Job to replace may have finished and been deleted (by its TTL, say), held only by our outcome finalizer.
  // Release it so it can go: the decision to replace it was made after its outcome was recorded.
  if (!live(existing) && replaces !== undefined && existing?.metadata?.uid === replaces && workload.release) {
    await workload.release(kube, stream, replaces);
  }
  // Build the new workload before deleting anything, so that a template that cannot be built leaves the running
  // workload alone instead of leaving the stream with none.
  const body = await build();
  if (live(existing)) {
    log.info({ uid: existing.metadata.uid }, `deleting the ${workload.kind} to replace`);
    await deleteWorkload(kube, workload, stream, existing.metadata.uid ?? '');
  }
  for (let attempt = 1; ; attempt++) {
    try {
      const created = await workload.create(kube, stream, body);
      const uid = created.metadata?.uid ?? '';
      log.info({ uid, replaced: existing?.metadata?.uid }, `created ${workload.kind}`);
      return { uid, created: true };
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    const current = await workload.read(kube, stream);
    // Someone created it in the meantime, for example an earlier attempt of this activity whose answer was lost: that
    // workload is the one asked for, so there is nothing left to do.
    if (live(current) && current.metadata.uid !== replaces) return { uid: current.metadata.uid ?? '', created: false };
    if (attempt < CREATE_ATTEMPTS && (await goneSince(context, workload, stream, current))) continue;
    const uid = current?.metadata?.uid;
    const message = `${workload.kind} ${stream.namespace}/${stream.name} (uid ${uid ?? 'gone'}) is still going away; the new one is created once it is gone`;
    throw retryable('WorkloadTerminating', message, '1s');
  }
}

interface Released {
  released: boolean;
  /** The finalizers the workload still had after its release, when the release's answer showed it still there. */
  left?: string[];
}

/** One operation of a JSON patch (RFC 6902), the generated clients' default kind of patch. */
interface JsonPatchOperation {
  op: 'test' | 'remove';
  path: string;
  value?: string;
}

/** Attempts at a release whose read turned out outdated before it gives up (and its activity is retried). */
const RELEASE_ATTEMPTS = 5;

/**
 * Take the outcome finalizer off the Job if it still has this uid; a newer Job of the same name is left alone. A JSON
 * patch removes that one entry, where the read found it, after testing that it is still there and that the Job is the
 * same one. Unlike a merge patch (which replaces the whole list, so it must be guarded by the resourceVersion), it does
 * not conflict with a change elsewhere in the Job: the TTL controller deleting the finished Job in the foreground adds
 * its own finalizer after ours. A failed test (422) means the read was outdated: the Job is read again (from the API
 * server then, see cachedReads) and the release made again.
 */
async function releaseOutcome(
  kube: KubernetesApi,
  stream: StreamKey,
  uid: string,
  read?: { workload: V1Job | undefined },
): Promise<Released> {
  for (let attempt = 1; ; attempt++) {
    const job = attempt === 1 && read ? read.workload : await readJob(kube, stream);
    const index = job?.metadata?.finalizers?.indexOf(OUTCOME_FINALIZER) ?? -1;
    if (job?.metadata?.uid !== uid || index < 0) return { released: false };
    const path = `/metadata/finalizers/${index}`;
    const body: JsonPatchOperation[] = [
      { op: 'test', path: '/metadata/uid', value: uid },
      { op: 'test', path, value: OUTCOME_FINALIZER },
      { op: 'remove', path },
    ];
    try {
      const { name, namespace } = stream;
      // Gone since it was read (a read from the worker's cache may be a moment behind): nothing holds it any more.
      const patched = await unlessNotFound(
        kube.call(jobCall('patch', stream, 'jobs'), () => kube.batch.patchNamespacedJob({ name, namespace, body })),
      );
      if (patched === undefined) return { released: false };
      return { released: true, left: patched.metadata?.finalizers ?? [] };
    } catch (error) {
      if (!isInvalid(error) || attempt >= RELEASE_ATTEMPTS) throw error;
    }
  }
}

/**
 * Delete the workload and release it, if it still has this uid (a newer one of the same name is left alone): the
 * decision to delete it has recorded whatever its outcome was. Deleted first, while our finalizer still holds it, so
 * that it is known to be terminating at the version the deletion answers with (a later read never mistakes it for a
 * live one), and the release of that last finalizer removes it: its answer says the Job is gone. A Job its TTL
 * deleted in the foreground (waiting for its pods) is switched to the Background by a `completed` deletion, so it goes
 * with the release too. The release removes our finalizer where the read before the deletion found it: the deletion
 * does not move it.
 */
async function deleteWorkload<T extends { metadata?: V1ObjectMeta }>(
  kube: KubernetesApi,
  workload: Workload<T>,
  stream: StreamKey,
  uid: string,
  completed = false,
): Promise<{ deleted: boolean }> {
  const { deleted } = await deleteAndRelease(kube, workload, stream, uid, completed);
  return { deleted };
}

async function deleteAndRelease<T extends { metadata?: V1ObjectMeta }>(
  kube: KubernetesApi,
  workload: Workload<T>,
  stream: StreamKey,
  uid: string,
  completed: boolean,
): Promise<Released & { deleted: boolean }> {
  if (!workload.release)
    return { released: false, deleted: await deleteIfSame(kube, workload, stream, uid, completed) };
  const read = { workload: await workload.read(kube, stream) };
  const deleted = await deleteIfSame(kube, workload, stream, uid, completed);
  const { released, left } = await workload.release(kube, stream, uid, read);
  // A finished Job's TTL may delete it in the foreground between our deletion and the release (the TTL controller
  // deletes what it finds expired, being deleted or not): then it waits for its pods again. A completed one is switched
  // back to the Background, so that it goes now and the Job after it need not wait for it.
  if (completed && released && left?.includes(FOREGROUND_DELETION)) {
    await deleteIfSame(kube, workload, stream, uid, completed);
  }
  return { released, deleted };
}

/** Delete the workload if it still has this uid; whether it did. */
async function deleteIfSame<T extends { metadata?: V1ObjectMeta }>(
  kube: KubernetesApi,
  workload: Workload<T>,
  stream: StreamKey,
  uid: string,
  completed: boolean,
): Promise<boolean> {
  try {
    await workload.delete(kube, stream, deleteOptions(uid, completed));
    return true;
  } catch (error) {
    // A 409 means the uid precondition failed: the name now belongs to a newer workload, which is left alone.
    if (!isNotFound(error) && !isConflict(error)) throw error;
    return false;
  }
}

/** Add the labels the workload lacks (metadata only; values it has are kept), if it still has this uid. */
function adoptWorkload<T extends { metadata?: V1ObjectMeta }>(
  { kube, log }: ActivityContext,
  workload: Workload<T>,
  stream: StreamKey,
  uid: string,
  labels: (existing: T) => Record<string, string>,
): Promise<{ adopted: boolean }> {
  return retryOnConflict(async () => {
    const existing = await workload.read(kube, stream);
    if (!live(existing) || existing.metadata.uid !== uid) return { adopted: false };
    const present = existing.metadata.labels ?? {};
    const missing = Object.entries(labels(existing)).filter(([key]) => present[key] === undefined);
    const finalizers = existing.metadata.finalizers ?? [];
    const unheld = workload.finalizers.filter((finalizer) => !finalizers.includes(finalizer));
    if (missing.length === 0 && unheld.length === 0) return { adopted: true };
    // The resourceVersion makes the patch conflict (and start over) if the workload changed since it was read; a merge
    // patch replaces the finalizer list, so it is the one read plus ours.
    const { resourceVersion } = existing.metadata;
    const metadata = {
      resourceVersion,
      ...(missing.length === 0 ? {} : { labels: Object.fromEntries(missing) }),
      ...(unheld.length === 0 ? {} : { finalizers: [...finalizers, ...unheld] }),
    };
    // Gone since it was read (a read from the worker's cache may be a moment behind): nothing is left to adopt.
    if ((await unlessNotFound(workload.patch(kube, stream, { metadata }))) === undefined) return { adopted: false };
    log.info({ uid, labels: Object.fromEntries(missing), finalizers: unheld }, `adopted ${workload.kind}`);
    return { adopted: true };
  });
}

/**
 * Nothing is built for a stream that is suspended now, whatever the decision saw: a decision acted on late (a retried
 * round, a workflow task run twice) must not start a workload the spec has since stopped.
 */
function requireRunnable(definition: StreamDefinition, stream: StreamKey): StreamDefinition {
  if (definition.suspended) {
    throw new ActionSkipped('StreamSuspended', `${stream.namespace}/${stream.name} is suspended; nothing is started`);
  }
  return definition;
}

function backendChanged(stream: StreamKey, wanted: string) {
  return new ActionSkipped('BackendChanged', `${stream.namespace}/${stream.name} no longer has a ${wanted} backend`);
}

export async function applyStreamingJob(
  context: ActivityContext,
  stream: StreamKey,
  action: ActionOf<'applyStreamingJob'>,
): Promise<WorkloadApplied> {
  return applyWorkload(context, jobs, stream, action.replaces, async () => {
    const definition = requireRunnable(requireDefinition(await requireStream(context.kube, stream)), stream);
    if (definition.backend.kind !== 'job') throw backendChanged(stream, 'Job');
    const template = await requireTemplate(context.kube, definition.backend.jobTemplateRef);
    return built(streamingJob(definition, template));
  });
}

export async function applyBackfillJob(
  context: ActivityContext,
  stream: StreamKey,
  action: ActionOf<'applyBackfillJob'>,
): Promise<WorkloadApplied> {
  return applyWorkload(context, jobs, stream, action.replaces, async () => {
    const definition = requireRunnable(requireDefinition(await requireStream(context.kube, stream)), stream);
    if (definition.backend.kind === 'none') throw backendChanged(stream, 'streaming');
    const ref = definition.backend.backfillJobTemplateRef;
    if (!ref) throw new ActionSkipped('TemplateNotFound', `the spec of ${stream.name} names no backfill template`);
    const request = await readBackfillRequest(context.kube, stream.namespace, action.request);
    if (!request || request.streamId !== stream.name || request.streamClass !== stream.streamClass) {
      throw new ActionSkipped(
        'BackfillRequestNotFound',
        `BackfillRequest ${stream.namespace}/${action.request} is gone`,
      );
    }
    // A completed request never runs again, however late the decision to run it arrives.
    if (request.completed || request.refused) {
      throw new ActionSkipped(
        'BackfillRequestClosed',
        `BackfillRequest ${stream.namespace}/${action.request} is closed`,
      );
    }
    return built(backfillJob(definition, await requireTemplate(context.kube, ref), request));
  });
}

export async function applyCronJob(
  context: ActivityContext,
  stream: StreamKey,
  action: ActionOf<'applyCronJob'>,
): Promise<WorkloadApplied> {
  return applyWorkload(context, cronJobs, stream, action.replaces, async () => {
    const definition = requireRunnable(requireDefinition(await requireStream(context.kube, stream)), stream);
    const { backend } = definition;
    if (backend.kind !== 'cronjob') throw backendChanged(stream, 'batch');
    const template = await requireTemplate(context.kube, backend.jobTemplateRef);
    return built(cronJob(definition, template, backend.schedule));
  });
}

export async function deleteJob(context: ActivityContext, stream: StreamKey, action: ActionOf<'deleteJob'>) {
  const result = await deleteWorkload(context.kube, jobs, stream, action.uid, action.completed === true);
  context.log.info({ uid: action.uid, completed: action.completed, ...result }, 'deleting Job');
  return result;
}

/**
 * Release a terminating Job. A completed one (its pods are done) is deleted again, in the Background, so that it goes at
 * once instead of after its pods when it was deleted in the foreground (by its TTL): the Job after it can start now.
 */
export async function releaseJob(context: ActivityContext, stream: StreamKey, action: ActionOf<'releaseJob'>) {
  if (action.completed) {
    const { released, deleted } = await deleteAndRelease(context.kube, jobs, stream, action.uid, true);
    context.log.info({ uid: action.uid, released, deleted }, 'released the completed Job, deleted in the Background');
    return { released };
  }
  const { released } = await releaseOutcome(context.kube, stream, action.uid);
  context.log.info({ uid: action.uid, released }, 'released the finished Job');
  return { released };
}

export async function deleteCronJob(context: ActivityContext, stream: StreamKey, action: ActionOf<'deleteCronJob'>) {
  const result = await deleteWorkload(context.kube, cronJobs, stream, action.uid);
  context.log.info({ uid: action.uid, ...result }, 'deleting CronJob');
  return result;
}

export async function adoptJob(context: ActivityContext, stream: StreamKey, action: ActionOf<'adoptJob'>) {
  const { kind } = await requireStreamClass(context.kube, stream);
  return adoptWorkload(context, jobs, stream, action.uid, (job) => ({
    [STREAM_ID_LABEL]: stream.name,
    [STREAM_KIND_LABEL]: kind,
    [BACKFILLING_LABEL]: String(runsBackfill(job)),
  }));
}

export async function adoptCronJob(context: ActivityContext, stream: StreamKey, action: ActionOf<'adoptCronJob'>) {
  const { kind } = await requireStreamClass(context.kube, stream);
  return adoptWorkload(context, cronJobs, stream, action.uid, () => ({
    [STREAM_ID_LABEL]: stream.name,
    [STREAM_KIND_LABEL]: kind,
    [BACKFILLING_LABEL]: 'true',
  }));
}
