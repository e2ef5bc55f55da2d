// Reads of the resources one stream is made of: its StreamClass, the stream object, its templates, the Job and
// CronJob named after it, and its BackfillRequests.
import type { V1CronJob, V1Job } from '@kubernetes/client-node';
import {
  ARCANE_GROUP,
  ARCANE_VERSION,
  BACKFILL_REQUESTS,
  STREAM_CLASSES,
  STREAMING_JOB_TEMPLATES,
} from '../resources/api-group.ts';
import { parseBackfillRequest, type BackfillRequest } from '../resources/backfill-request.ts';
import type { Result } from '../resources/result.ts';
import { parseStreamClass, type StreamClass } from '../resources/stream-class.ts';
import { parseStreamDefinition, type StreamDefinition } from '../resources/stream-definition.ts';
import type { StreamKey } from '../resources/stream-key.ts';
import { templateCandidates, type TemplateRef } from '../resources/stream-layout.ts';
import { parseStreamingJobTemplate, type StreamingJobTemplate } from '../resources/streaming-job-template.ts';
import { ActionSkipped, KubernetesApiError, rejected, type ApiCall } from './errors.ts';
import { customResource, unlessNotFound, type KubernetesApi } from './kubernetes.ts';

/** A stream object as the API server stores it; the spec is the plugin's and is read by the resource model. */
export interface StoredStream {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string;
    annotations?: Record<string, string>;
  };
  spec?: unknown;
  /** Anyone may have written it: read through readStoredStatus (resources/stream-status.ts). */
  status?: unknown;
}

/** The stream object together with the class that says what kind it is. */
export interface ClassifiedStream {
  streamClass: StreamClass;
  stored: StoredStream;
}

/** Where a stream of `streamClass` lives in the API, for CustomObjectsApi calls. */
export function streamLocation(streamClass: StreamClass, stream: StreamKey) {
  return {
    group: streamClass.group,
    version: streamClass.version,
    plural: streamClass.plural,
    namespace: stream.namespace,
    name: stream.name,
  };
}

/** The ApiCall describing `verb` on the stream (or its status subresource). */
export function streamCall(
  streamClass: StreamClass,
  stream: StreamKey,
  verb: ApiCall['verb'],
  status = false,
): ApiCall {
  const resource = customResource(streamClass.group, streamClass.plural);
  return {
    verb,
    resource: status ? `${resource}/status` : resource,
    namespace: stream.namespace,
    name: stream.name,
  };
}

export async function readStreamClass(kube: KubernetesApi, name: string): Promise<StreamClass | undefined> {
  const call: ApiCall = { verb: 'get', resource: customResource(ARCANE_GROUP, STREAM_CLASSES.plural), name };
  const resource: unknown = await unlessNotFound(
    kube.call(call, () =>
      kube.custom.getClusterCustomObject({
        group: ARCANE_GROUP,
        version: ARCANE_VERSION,
        plural: STREAM_CLASSES.plural,
        name,
      }),
    ),
  );
  if (resource === undefined) return undefined;
  const parsed = parseStreamClass(resource);
  // The CRD schema rejects such classes, so this is a bug elsewhere; retried, and visible in the activity failure.
  if (!parsed.ok) throw new Error(`StreamClass ${name} cannot be read: ${parsed.error.message}`);
  return parsed.value;
}

/** Whether the API server serves `streamClass`'s group, version and plural at all (discovery, readable by anyone). */
async function servesKind(kube: KubernetesApi, { group, version, plural }: StreamClass): Promise<boolean> {
  const call: ApiCall = { verb: 'get', resource: `/apis/${group}/${version}` };
  const list = await unlessNotFound(kube.call(call, () => kube.custom.getAPIResources({ group, version })));
  return list?.resources.some((resource) => resource.name === plural) ?? false;
}

/**
 * The stream object, or undefined when it does not exist. A kind the API server does not serve (its CRD, version or
 * plural gone or misnamed) also answers 404, but says nothing about the stream: that is KindNotServed, never absent.
 */
export async function readStream(
  kube: KubernetesApi,
  streamClass: StreamClass,
  stream: StreamKey,
): Promise<StoredStream | undefined> {
  const location = streamLocation(streamClass, stream);
  const call = streamCall(streamClass, stream, 'get');
  const stored: unknown = await unlessNotFound(kube.call(call, () => kube.custom.getNamespacedCustomObject(location)));
  if (stored !== undefined || (await servesKind(kube, streamClass))) return stored as StoredStream | undefined;
  const { group, version, plural, kind, name } = streamClass;
  throw new ActionSkipped(
    'KindNotServed',
    `the API server does not serve ${customResource(group, plural)}/${version} (kind ${kind}, named by StreamClass ${name}): its CRD or that version is gone`,
  );
}

/** The stream's class for an action; without it the action is skipped (the workflow then finds the stream detached). */
export async function requireStreamClass(kube: KubernetesApi, stream: StreamKey): Promise<StreamClass> {
  const streamClass = await readStreamClass(kube, stream.streamClass);
  if (!streamClass) throw new ActionSkipped('StreamClassNotFound', `StreamClass ${stream.streamClass} does not exist`);
  return streamClass;
}

/** The stream and its class for an action on it; either missing skips the action (the workflow re-observes). */
export async function requireStream(kube: KubernetesApi, stream: StreamKey): Promise<ClassifiedStream> {
  const streamClass = await requireStreamClass(kube, stream);
  const stored = await readStream(kube, streamClass, stream);
  if (!stored) {
    throw new ActionSkipped('StreamNotFound', `${streamClass.kind} ${stream.namespace}/${stream.name} does not exist`);
  }
  return { streamClass, stored };
}

/** The stream's definition, or a non-retryable InvalidSpec naming the field. */
export function requireDefinition({ stored, streamClass }: ClassifiedStream): StreamDefinition {
  const definition = parseStreamDefinition(stored, streamClass);
  if (!definition.ok) throw rejected(definition.error);
  return definition.value;
}

/** A StreamingJobTemplate looked up in its candidate namespaces. */
export interface TemplateLookup {
  /** `<namespace>/<name>` where it was found, else where it was looked for first. */
  ref: string;
  /** Absent when no candidate namespace has it; an InvalidTemplate error naming the template when it is no Job. */
  template?: Result<StreamingJobTemplate>;
  /** `metadata.generation` of the found template, even an invalid one. */
  generation?: number;
}

async function readTemplateAt(kube: KubernetesApi, namespace: string, name: string) {
  const call: ApiCall = {
    verb: 'get',
    resource: customResource(ARCANE_GROUP, STREAMING_JOB_TEMPLATES.plural),
    namespace,
    name,
  };
  const location = { group: ARCANE_GROUP, version: ARCANE_VERSION, plural: STREAMING_JOB_TEMPLATES.plural };
  const resource: unknown = await unlessNotFound(
    kube.call(call, () => kube.custom.getNamespacedCustomObject({ ...location, namespace, name })),
  );
  return resource as { metadata?: { generation?: number } } | undefined;
}

export async function findTemplate(kube: KubernetesApi, ref: TemplateRef): Promise<TemplateLookup> {
  const candidates = templateCandidates(ref);
  for (const { namespace, name } of candidates) {
    const resource = await readTemplateAt(kube, namespace, name);
    if (resource === undefined) continue;
    const found = `${namespace}/${name}`;
    const parsed = parseStreamingJobTemplate(resource);
    const template: Result<StreamingJobTemplate> = parsed.ok
      ? parsed
      : { ok: false, error: { ...parsed.error, message: `${parsed.error.message} (StreamingJobTemplate ${found})` } };
    const generation = resource.metadata?.generation;
    return { ref: found, template, ...(generation === undefined ? {} : { generation }) };
  }
  return { ref: `${ref.namespace}/${ref.name}` };
}

/** The template to build from, or a non-retryable TemplateNotFound / InvalidTemplate. */
export async function requireTemplate(kube: KubernetesApi, ref: TemplateRef): Promise<StreamingJobTemplate> {
  const lookup = await findTemplate(kube, ref);
  if (!lookup.template)
    throw new ActionSkipped('TemplateNotFound', `StreamingJobTemplate ${lookup.ref} does not exist`);
  if (!lookup.template.ok) throw rejected(lookup.template.error);
  return lookup.template.value;
}

export function jobCall(verb: ApiCall['verb'], stream: StreamKey, kind: 'jobs' | 'cronjobs'): ApiCall {
  return {
    verb,
    resource: `${kind}.batch`,
    namespace: stream.namespace,
    name: stream.name,
    invalid: 'InvalidTemplate',
  };
}

/** The Job named after the stream. */
export async function readJob(kube: KubernetesApi, stream: StreamKey): Promise<V1Job | undefined> {
  const { name, namespace } = stream;
  return unlessNotFound(
    kube.call(jobCall('get', stream, 'jobs'), () => kube.batch.readNamespacedJob({ name, namespace })),
  );
}

/** The CronJob named after the stream. */
export async function readCronJob(kube: KubernetesApi, stream: StreamKey): Promise<V1CronJob | undefined> {
  const { name, namespace } = stream;
  return unlessNotFound(
    kube.call(jobCall('get', stream, 'cronjobs'), () => kube.batch.readNamespacedCronJob({ name, namespace })),
  );
}

export const requestLocation = { group: ARCANE_GROUP, version: ARCANE_VERSION, plural: BACKFILL_REQUESTS.plural };
const requestResource = customResource(ARCANE_GROUP, BACKFILL_REQUESTS.plural);

export function backfillRequestCall(verb: ApiCall['verb'], namespace: string, name?: string): ApiCall {
  return { verb, resource: requestResource, namespace, ...(name === undefined ? {} : { name }) };
}

/**
 * Clusters (by client, one per cluster) whose BackfillRequest CRD has no selectable fields (arcane-crd charts before
 * them), with the time that was found. The API server answers a field selector on such a CRD with 400 Bad Request.
 */
const withoutSelectableFields = new WeakMap<KubernetesApi, number>();

/**
 * How long a cluster is taken to lack selectable fields before the selector is tried again: a CRD upgrade may add
 * them, and the operator may not read CRDs to find out. One refused call per interval is all it costs.
 */
export const SELECTOR_RETRY_MS = 10 * 60_000;

async function listRequestItems(kube: KubernetesApi, namespace: string, fieldSelector?: string): Promise<unknown[]> {
  const list = (await kube.call(backfillRequestCall('list', namespace), () =>
    kube.custom.listNamespacedCustomObject({
      ...requestLocation,
      namespace,
      ...(fieldSelector === undefined ? {} : { fieldSelector }),
    }),
  )) as { items?: unknown[] };
  return list.items ?? [];
}

/** The stream's requests selected by the API server where the CRD allows it, else the whole namespace's. */
async function listCandidateRequests(kube: KubernetesApi, stream: StreamKey, now: number): Promise<unknown[]> {
  const refusedAt = withoutSelectableFields.get(kube);
  if (refusedAt === undefined || now - refusedAt >= SELECTOR_RETRY_MS) {
    try {
      const items = await listRequestItems(kube, stream.namespace, `spec.streamId=${stream.name}`);
      withoutSelectableFields.delete(kube);
      return items;
    } catch (error) {
      // The selector is the only part of this list the API server could refuse with 400 Bad Request.
      if (!(error instanceof KubernetesApiError && error.code === 400)) throw error;
      withoutSelectableFields.set(kube, now);
    }
  }
  return listRequestItems(kube, stream.namespace);
}

/**
 * The stream's BackfillRequests, open and completed: same namespace, class and stream id (upstream ignores the class).
 * Filtered here too, as on a cluster without selectable fields the list holds every request of the namespace.
 * `now` is the clock the retry interval is measured on (tests step past it).
 */
export async function listBackfillRequests(
  kube: KubernetesApi,
  stream: StreamKey,
  now = Date.now(),
): Promise<BackfillRequest[]> {
  const items = await listCandidateRequests(kube, stream, now);
  return items.flatMap((item) => {
    const request = parseBackfillRequest(item);
    const ours =
      request.ok && request.value.streamId === stream.name && request.value.streamClass === stream.streamClass;
    return ours ? [request.value] : [];
  });
}

export async function readBackfillRequest(
  kube: KubernetesApi,
  namespace: string,
  name: string,
): Promise<BackfillRequest | undefined> {
  const resource: unknown = await unlessNotFound(
    kube.call(backfillRequestCall('get', namespace, name), () =>
      kube.custom.getNamespacedCustomObject({ ...requestLocation, namespace, name }),
    ),
  );
  if (resource === undefined) return undefined;
  const request = parseBackfillRequest(resource);
  return request.ok ? request.value : undefined;
}
