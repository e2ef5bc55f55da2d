// One scenario's namespace as a person with kubectl sees it: streams and their status, Jobs, CronJobs, pods,
// BackfillRequests, StreamingJobTemplates and Events. Writes are what kubectl would send (create, merge patch, delete).
import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type KubeConfig,
  type V1CronJob,
  type V1Job,
  type V1ObjectMeta,
} from '@kubernetes/client-node';
import { mergePatch } from '../../kubernetes/requests.ts';
import { ARCANE_GROUP, ARCANE_VERSION, BACKFILL_REQUESTS, STREAMING_JOB_TEMPLATES } from '../../resources/api-group.ts';
import type { JsonObject } from '../../resources/go-json.ts';
import type { StreamKey } from '../../resources/stream-key.ts';
import { waitFor } from '../../stack/wait.ts';
import { waitForValue } from './wait-for-value.ts';
import { exampleStream, MOCK_STREAMS, MOCK_STREAMS_V2 } from '../integration/watcher-harness.ts';
import type { StreamKind, StreamOptions, TestPlugin } from '../fixtures/plugins.ts';

export { MOCK_STREAMS, MOCK_STREAMS_V2 };
export type { StreamKind };

/** A stream of a test plugin: its workflow key plus the kind to reach it in Kubernetes. */
export interface Stream extends StreamKey {
  kind: StreamKind;
}

export interface StreamCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}

export interface StreamObject {
  metadata: V1ObjectMeta;
  spec: JsonObject;
  status?: { phase?: string; configurationHash?: string; conditions?: StreamCondition[] };
}

export interface BackfillRequestObject {
  metadata: V1ObjectMeta;
  spec: { streamClass: string; streamId: string; completed?: boolean };
  status?: { phase?: string; conditions?: StreamCondition[] };
}

const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const requests = { group: ARCANE_GROUP, version: ARCANE_VERSION, plural: BACKFILL_REQUESTS.plural };
const templates = { group: ARCANE_GROUP, version: ARCANE_VERSION, plural: STREAMING_JOB_TEMPLATES.plural };

function location(stream: Stream) {
  const { group, version, plural } = stream.kind;
  return { group, version, plural, namespace: stream.namespace, name: stream.name };
}

/** The value of an environment variable of the Job's first container. */
export function jobEnv(job: V1Job | undefined, name: string): string | undefined {
  return job?.spec?.template.spec?.containers[0]?.env?.find((variable) => variable.name === name)?.value;
}

/** The stream's condition as the scenarios compare it (its message aside). */
export function conditionOf(stream: StreamObject) {
  const [first] = stream.status?.conditions ?? [];
  return (
    first && { type: first.type, status: first.status, reason: first.reason, generation: first.observedGeneration }
  );
}

export class Cluster {
  readonly namespace: string;
  private readonly custom: CustomObjectsApi;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;

  constructor(kubeConfig: KubeConfig, namespace: string) {
    this.namespace = namespace;
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.batch = kubeConfig.makeApiClient(BatchV1Api);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  static async createNamespace(kubeConfig: KubeConfig, prefix: string): Promise<string> {
    const created = await kubeConfig
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { generateName: `${prefix}-` } } });
    return created.metadata?.name ?? '';
  }

  /**
   * `kubectl delete namespace`: its streams go, and with them their workflows and Jobs. Waits until it is gone, so
   * what the operator does for it is over before the next scenario measures anything; a namespace that stays names the
   * Jobs that hold it (a finalizer nobody removed).
   */
  static async deleteNamespace(kubeConfig: KubeConfig, name: string): Promise<void> {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    await core.deleteNamespace({ name });
    const listed = async () => (await core.listNamespace({ fieldSelector: `metadata.name=${name}` })).items.length;
    try {
      await waitFor(`namespace ${name} deleted`, async () => (await listed()) === 0, { timeoutMs: 60_000 });
    } catch (error) {
      const jobs = await kubeConfig.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: name });
      const held = jobs.items.map(
        (job) => `${job.metadata?.name} (finalizers ${job.metadata?.finalizers?.join(', ')})`,
      );
      throw new Error(`${(error as Error).message}; Jobs left: ${held.join('; ') || 'none'}`, { cause: error });
    }
  }

  stream(kind: StreamKind, name: string): Stream {
    return { kind, streamClass: kind.streamClass, namespace: this.namespace, name };
  }

  /** Creates a stream with the spec of a test plugin example (tests/fixtures/plugin/streams.yaml), changed by `spec`. */
  async createStream(
    kind: StreamKind,
    name: string,
    options: { example?: string; spec?: JsonObject; annotations?: Record<string, string> } = {},
  ): Promise<Stream> {
    const example = options.example ?? (kind === MOCK_STREAMS ? 'mock-v0' : 'mock-v2-job');
    const spec = { ...exampleStream(example).spec, ...options.spec } as JsonObject;
    return this.create(kind, name, spec, options.annotations);
  }

  /** Creates a stream of the plugin (its lifecycle kind unless `kind` says otherwise), as `kubectl create` would. */
  async createPluginStream(
    plugin: TestPlugin,
    name: string,
    options: StreamOptions & { annotations?: Record<string, string>; kind?: StreamKind } = {},
  ): Promise<Stream> {
    const kind = options.kind ?? plugin.kind;
    return this.create(kind, name, plugin.stream(name, options, kind).spec, options.annotations);
  }

  private async create(kind: StreamKind, name: string, spec: JsonObject, annotations?: Record<string, string>) {
    const body = {
      apiVersion: `${kind.group}/${kind.version}`,
      kind: kind.kind,
      metadata: { name, annotations },
      spec,
    };
    const stream = this.stream(kind, name);
    const { group, version, plural, namespace } = location(stream);
    await this.custom.createNamespacedCustomObject({ group, version, plural, namespace, body });
    return stream;
  }

  async readStream(stream: Stream): Promise<StreamObject> {
    return (await this.custom.getNamespacedCustomObject(location(stream))) as StreamObject;
  }

  /** Every stream of the kind in the namespace. */
  async streams(kind: StreamKind): Promise<StreamObject[]> {
    const { group, version, plural } = kind;
    const list = (await this.custom.listNamespacedCustomObject({
      group,
      version,
      plural,
      namespace: this.namespace,
    })) as {
      items: StreamObject[];
    };
    return list.items;
  }

  /** `kubectl patch --type merge -p '{"spec": ...}'`. */
  async patchSpec(stream: Stream, spec: JsonObject): Promise<StreamObject> {
    return (await this.custom.patchNamespacedCustomObject(
      { ...location(stream), body: { spec } },
      mergePatch,
    )) as StreamObject;
  }

  async writeStatus(stream: Stream, status: NonNullable<StreamObject['status']>): Promise<void> {
    await this.custom.patchNamespacedCustomObjectStatus({ ...location(stream), body: { status } }, mergePatch);
  }

  /** `kubectl delete`; `--cascade=orphan` leaves the stream's Job to whoever else deletes it. */
  async deleteStream(stream: Stream, options: { cascade?: 'orphan' } = {}): Promise<void> {
    const propagationPolicy = options.cascade === 'orphan' ? 'Orphan' : undefined;
    await this.custom.deleteNamespacedCustomObject({ ...location(stream), propagationPolicy });
  }

  /** Waits until the stream object satisfies `predicate`; the failure shows its last status. */
  waitForStream(
    stream: Stream,
    description: string,
    predicate: (object: StreamObject) => boolean,
    timeoutMs = 60_000,
  ): Promise<StreamObject> {
    return waitForValue(`${stream.name}: ${description}`, () => this.readStream(stream), predicate, {
      timeoutMs,
      show: (object) => object.status,
    });
  }

  waitForPhase(stream: Stream, phase: string, timeoutMs?: number): Promise<StreamObject> {
    return this.waitForStream(stream, `phase ${phase}`, (object) => object.status?.phase === phase, timeoutMs);
  }

  async job(name: string): Promise<V1Job | undefined> {
    return (await this.batch.listNamespacedJob({ namespace: this.namespace, fieldSelector: `metadata.name=${name}` }))
      .items[0];
  }

  async jobs(): Promise<V1Job[]> {
    return (await this.batch.listNamespacedJob({ namespace: this.namespace })).items;
  }

  async cronJob(name: string): Promise<V1CronJob | undefined> {
    const list = await this.batch.listNamespacedCronJob({
      namespace: this.namespace,
      fieldSelector: `metadata.name=${name}`,
    });
    return list.items[0];
  }

  /** `kubectl delete job <name>`: background propagation, like kubectl's default. */
  async deleteJob(name: string): Promise<void> {
    await this.batch.deleteNamespacedJob({ name, namespace: this.namespace, propagationPolicy: 'Background' });
  }

  async createJob(job: V1Job): Promise<V1Job> {
    return this.batch.createNamespacedJob({ namespace: this.namespace, body: job });
  }

  /** BackfillRequests of the namespace, of one stream when `streamId` is given. */
  async backfillRequests(streamId?: string): Promise<BackfillRequestObject[]> {
    const list = (await this.custom.listNamespacedCustomObject({ ...requests, namespace: this.namespace })) as {
      items: BackfillRequestObject[];
    };
    return list.items.filter((request) => streamId === undefined || request.spec.streamId === streamId);
  }

  /** As `kubectl apply` of a BackfillRequest would create it. */
  async createBackfillRequest(name: string, stream: Stream): Promise<void> {
    const body = {
      apiVersion: `${ARCANE_GROUP}/${ARCANE_VERSION}`,
      kind: BACKFILL_REQUESTS.kind,
      metadata: { name },
      spec: { streamClass: stream.streamClass, streamId: stream.name },
    };
    await this.custom.createNamespacedCustomObject({ ...requests, namespace: this.namespace, body });
  }

  async readBackfillRequest(name: string): Promise<BackfillRequestObject> {
    return (await this.custom.getNamespacedCustomObject({
      ...requests,
      namespace: this.namespace,
      name,
    })) as BackfillRequestObject;
  }

  /** Events about the stream, oldest first. */
  async events(stream: Stream): Promise<CoreV1Event[]> {
    const list = await this.core.listNamespacedEvent({
      namespace: this.namespace,
      fieldSelector: `involvedObject.name=${stream.name}`,
    });
    return list.items
      .filter((event) => event.involvedObject.kind === stream.kind.kind)
      .sort((a, b) => time(a) - time(b));
  }

  /** Waits for an Event on the stream with this reason whose message matches; returns it. */
  async waitForEvent(stream: Stream, reason: string, message: RegExp = /./, timeoutMs = 30_000): Promise<CoreV1Event> {
    return waitFor(
      `${stream.name}: Event ${reason} ${message}`,
      async () => (await this.events(stream)).find((e) => e.reason === reason && message.test(e.message ?? '')),
      { timeoutMs, intervalMs: 200 },
    );
  }

  /** A StreamingJobTemplate of this namespace: a copy of `from` whose Job is changed by `change`. */
  async copyTemplate(from: string, name: string, change: (job: JobTemplateSpec) => void): Promise<void> {
    const read = { ...templates, namespace: this.namespace, name: from };
    const source = (await this.custom.getNamespacedCustomObject(read)) as { apiVersion: string; spec: JobTemplateSpec };
    const spec = structuredClone(source.spec);
    change(spec);
    const body = { apiVersion: source.apiVersion, kind: STREAMING_JOB_TEMPLATES.kind, metadata: { name }, spec };
    await this.custom.createNamespacedCustomObject({ ...templates, namespace: this.namespace, body });
  }

  /** `kubectl patch sjt <name> --type json` setting the image of the template's first container. */
  async setTemplateImage(name: string, image: string): Promise<number> {
    const body = [{ op: 'replace', path: '/spec/spec/template/spec/containers/0/image', value: image }];
    const patched = (await this.custom.patchNamespacedCustomObject(
      { ...templates, namespace: this.namespace, name, body },
      jsonPatch,
    )) as { metadata: V1ObjectMeta };
    return patched.metadata.generation ?? 0;
  }

  /** Removes the scheduling gates of the Job's pods, so the held pods get scheduled (and kwok completes them). */
  async releasePods(jobName: string): Promise<number> {
    const pods = await waitFor(`pods of Job ${jobName}`, async () => {
      const list = await this.core.listNamespacedPod({
        namespace: this.namespace,
        labelSelector: `batch.kubernetes.io/job-name=${jobName}`,
      });
      const gated = list.items.filter((pod) => (pod.spec?.schedulingGates ?? []).length > 0);
      return gated.length > 0 ? gated : undefined;
    });
    for (const pod of pods) {
      const body = [{ op: 'remove', path: '/spec/schedulingGates' }];
      await this.core.patchNamespacedPod(
        { name: pod.metadata?.name ?? '', namespace: this.namespace, body },
        jsonPatch,
      );
    }
    return pods.length;
  }
}

/** The Job object inside a StreamingJobTemplate. */
export interface JobTemplateSpec {
  spec: {
    backoffLimit?: number;
    template: {
      metadata?: { labels?: Record<string, string> };
      spec: { schedulingGates?: { name: string }[]; containers: { image: string }[] };
    };
  };
}

function time(event: CoreV1Event): number {
  const at = event.firstTimestamp ?? event.eventTime ?? event.metadata.creationTimestamp;
  return at ? new Date(at).getTime() : 0;
}
