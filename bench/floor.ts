// The floor: what a stream's first minute costs with no operator at all, the same Kubernetes writes issued directly
// (BackfillRequest, backfill Job, wait for it, complete the request, remove the Job, streaming Job, status), built by
// the project's own pure builders so the objects are the ones the operator would send. Every stream is driven as soon
// as it is created, all at once, over one pool of keep-alive connections: the fastest a direct writer can go.
import { BatchV1Api, CustomObjectsApi, type KubeConfig, type V1Job } from '@kubernetes/client-node';
import { mergePatch } from '../kubernetes/requests.ts';
import { ARCANE_GROUP, ARCANE_VERSION, BACKFILL_REQUESTS, STREAMING_JOB_TEMPLATES } from '../resources/api-group.ts';
import { initialBackfillRequestName, newBackfillRequest, parseBackfillRequest } from '../resources/backfill-request.ts';
import { configurationHash } from '../resources/configuration-hash.ts';
import { buildBackfillJob, buildStreamingJob } from '../resources/job-builder.ts';
import type { Result } from '../resources/result.ts';
import { parseStreamClass, type StreamClass } from '../resources/stream-class.ts';
import { parseStreamDefinition } from '../resources/stream-definition.ts';
import { parseStreamingJobTemplate, type StreamingJobTemplate } from '../resources/streaming-job-template.ts';
import { makeKeepAliveClient } from '../operations/keep-alive.ts';
import { Follower } from './measure.ts';

function value<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`${result.error.field}: ${result.error.message}`);
  return result.value;
}

type JobState = 'completed' | 'deleted';

function unlessGone(error: unknown): void {
  if ((error as { code?: unknown }).code !== 404) throw error;
}

/** Resolves when a Job (by uid) has completed, or is gone; a state reached before anyone asked counts too. */
class JobWaits {
  private readonly reached = { completed: new Set<string>(), deleted: new Set<string>() };
  private readonly waiting = { completed: new Map<string, () => void>(), deleted: new Map<string, () => void>() };
  private readonly follower: Follower<V1Job>;

  constructor(kubeConfig: KubeConfig, namespace: string) {
    const batch = makeKeepAliveClient(kubeConfig, BatchV1Api);
    this.follower = new Follower<V1Job>(kubeConfig, `/apis/batch/v1/namespaces/${namespace}/jobs`, () =>
      batch.listNamespacedJob({ namespace }),
    );
    const seen = (job: V1Job) => {
      if (job.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'))
        this.mark('completed', job);
    };
    this.follower.informer.on('add', seen);
    this.follower.informer.on('update', seen);
    this.follower.informer.on('delete', (job) => this.mark('deleted', job));
  }

  start = () => this.follower.start();
  stop = () => this.follower.stop();

  until(state: JobState, uid: string): Promise<void> {
    if (this.reached[state].has(uid)) return Promise.resolve();
    return new Promise((resolve) => this.waiting[state].set(uid, resolve));
  }

  private mark(state: JobState, job: V1Job): void {
    const uid = job.metadata?.uid ?? '';
    this.reached[state].add(uid);
    this.waiting[state].get(uid)?.();
  }
}

export interface FloorPlugin {
  streamClass: string;
  streamingTemplate: string;
  backfillTemplate: string;
}

export interface Floor {
  /** Takes one created stream of the namespace to Running by hand; any number may run at once. */
  drive(name: string): Promise<void>;
  /** API calls `drive` has sent (the informers that tell when a Job completed or went are not counted). */
  apiCalls(): number;
  stop(): Promise<void>;
}

export async function startFloor(kubeConfig: KubeConfig, namespace: string, plugin: FloorPlugin): Promise<Floor> {
  const custom = makeKeepAliveClient(kubeConfig, CustomObjectsApi);
  const batch = makeKeepAliveClient(kubeConfig, BatchV1Api);
  const streamClass: StreamClass = value(
    parseStreamClass(
      await custom.getClusterCustomObject({
        group: ARCANE_GROUP,
        version: ARCANE_VERSION,
        plural: 'streamclasses',
        name: plugin.streamClass,
      }),
    ),
  );
  const template = async (name: string): Promise<StreamingJobTemplate> =>
    value(
      parseStreamingJobTemplate(
        await custom.getNamespacedCustomObject({
          group: ARCANE_GROUP,
          version: ARCANE_VERSION,
          plural: STREAMING_JOB_TEMPLATES.plural,
          namespace,
          name,
        }),
      ),
    );
  const [streamingTemplate, backfillTemplate] = await Promise.all([
    template(plugin.streamingTemplate),
    template(plugin.backfillTemplate),
  ]);
  const kind = { group: streamClass.group, version: streamClass.version, plural: streamClass.plural };
  const requests = { group: ARCANE_GROUP, version: ARCANE_VERSION, plural: BACKFILL_REQUESTS.plural, namespace };
  const jobs = new JobWaits(kubeConfig, namespace);
  await jobs.start();

  let calls = 0;
  const call = <T>(sent: Promise<T>): Promise<T> => {
    calls++;
    return sent;
  };

  async function drive(name: string): Promise<void> {
    const stored: unknown = await call(custom.getNamespacedCustomObject({ ...kind, namespace, name }));
    const definition = value(parseStreamDefinition(stored, streamClass));
    const input = { stream: definition.ref, spec: definition.spec, secretNames: definition.secretNames };
    const requestName = initialBackfillRequestName(definition.ref);
    const created: unknown = await call(
      custom.createNamespacedCustomObject({ ...requests, body: newBackfillRequest(definition.ref, requestName) }),
    );
    const request = value(parseBackfillRequest(created));
    const backfillBody = value(buildBackfillJob({ ...input, template: backfillTemplate }, request));
    const backfill = await call(batch.createNamespacedJob({ namespace, body: backfillBody }));
    const uid = backfill.metadata?.uid ?? '';
    await jobs.until('completed', uid);
    const completed = { spec: { completed: true } };
    await call(custom.patchNamespacedCustomObject({ ...requests, name: requestName, body: completed }, mergePatch));
    // A plugin's ttlSecondsAfterFinished may have had Kubernetes delete the Job already.
    await call(batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Foreground' })).catch(unlessGone);
    await jobs.until('deleted', uid);
    const streamingBody = value(buildStreamingJob({ ...input, template: streamingTemplate }));
    await call(batch.createNamespacedJob({ namespace, body: streamingBody }));
    const status = {
      phase: 'Running',
      configurationHash: configurationHash(definition.spec),
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'StreamRunning',
          message: 'the streaming Job is running',
          lastTransitionTime: new Date().toISOString(),
          observedGeneration: definition.generation,
        },
      ],
    };
    await call(custom.patchNamespacedCustomObjectStatus({ ...kind, namespace, name, body: { status } }, mergePatch));
  }

  return { drive, apiCalls: () => calls, stop: () => jobs.stop() };
}
