// observeStream: everything the lifecycle decides on, read fresh. No spec content and no secret values leave here:
// the spec is reduced to its validity, backend, suspension and hash.
import { initialBackfillRequestName, type BackfillRequest } from '../resources/backfill-request.ts';
import { configurationHash } from '../resources/configuration-hash.ts';
import { PIN_TEMPLATE_ANNOTATION } from '../resources/job-metadata.ts';
import type { ResourceError, Result } from '../resources/result.ts';
import type { StreamClass } from '../resources/stream-class.ts';
import { parseStreamDefinition, type StreamDefinition } from '../resources/stream-definition.ts';
import type { TemplateRef } from '../resources/stream-layout.ts';
import type { StreamingJobTemplate } from '../resources/streaming-job-template.ts';
import type {
  InvalidSpec,
  Observation,
  ObservedBackfillRequest,
  ObservedCondition,
  ObservedStream,
  ObservedTemplate,
  StreamKind,
  ValidSpec,
} from '../workflows/lifecycle.ts';
import type { StreamKey } from '../workflows/messages.ts';
import type { ActivityContext } from './context.ts';
import { ActionSkipped } from './errors.ts';
import type { KubernetesApi } from './kubernetes.ts';
import { compact, epochMs, observeCronJob, observeJob } from './observed-workloads.ts';
import {
  findTemplate,
  listBackfillRequests,
  readCronJob,
  readJob,
  readStream,
  readStreamClass,
  storedStatus,
  type StoredStatus,
  type StoredStream,
  type TemplateLookup,
} from './stream-resources.ts';
import { backfillJob, cronJob, streamingJob } from './stream-workloads.ts';

function observeRequest(request: BackfillRequest): ObservedBackfillRequest {
  return { name: request.name, createdAt: epochMs(request.createdAt) ?? 0, completed: request.completed };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Phase, hash and the (single) condition this operator writes; a garbled status reads as empty. */
function observeStatus(stored: StoredStatus): ObservedStream['status'] {
  const first = stored.conditions[0];
  const condition: ObservedCondition | undefined =
    first && typeof first.type === 'string'
      ? compact({
          type: first.type,
          reason: text(first.reason) ?? '',
          message: text(first.message) ?? '',
          observedGeneration: typeof first.observedGeneration === 'number' ? first.observedGeneration : undefined,
        })
      : undefined;
  return compact({
    phase: text(stored.phase) ?? '',
    configurationHash: text(stored.configurationHash) || undefined,
    condition,
  });
}

interface TemplateLookups {
  streaming?: TemplateLookup;
  backfill?: TemplateLookup;
}

async function lookUpTemplates(kube: KubernetesApi, definition: Result<StreamDefinition>): Promise<TemplateLookups> {
  if (!definition.ok || definition.value.backend.kind === 'none') return {};
  const { jobTemplateRef, backfillJobTemplateRef } = definition.value.backend;
  const lookUp = (ref: TemplateRef | null) => (ref ? findTemplate(kube, ref) : undefined);
  const [streaming, backfill] = await Promise.all([lookUp(jobTemplateRef), lookUp(backfillJobTemplateRef)]);
  return compact({ streaming, backfill });
}

function observeTemplate(lookup: TemplateLookup | undefined): ObservedTemplate | undefined {
  return lookup && compact({ ref: lookup.ref, found: lookup.template !== undefined, generation: lookup.generation });
}

function usable(lookup: TemplateLookup | undefined): StreamingJobTemplate | undefined {
  return lookup?.template?.ok ? lookup.template.value : undefined;
}

/** Why the found templates cannot build this stream's workloads (not a Job, or a reserved env var), if they cannot. */
function templateProblem(definition: StreamDefinition, lookups: TemplateLookups, request: BackfillRequest) {
  for (const lookup of [lookups.streaming, lookups.backfill]) {
    if (lookup?.template && !lookup.template.ok) return lookup.template.error;
  }
  const streaming = usable(lookups.streaming);
  const backfill = usable(lookups.backfill);
  const { backend } = definition;
  const builds: Result<unknown>[] = [];
  if (streaming && backend.kind === 'job') builds.push(streamingJob(definition, streaming));
  if (streaming && backend.kind === 'cronjob') builds.push(cronJob(definition, streaming, backend.schedule));
  if (backfill) builds.push(backfillJob(definition, backfill, request));
  return builds.find((build) => !build.ok)?.error;
}

function invalid(error: ResourceError): InvalidSpec {
  const reason = error.reason === 'InvalidTemplate' ? 'InvalidTemplate' : 'InvalidSpec';
  return { valid: false, reason, field: error.field, message: error.message };
}

function observeSpec(definition: Result<StreamDefinition>, lookups: TemplateLookups, initialBackfill: string) {
  if (!definition.ok) return invalid(definition.error);
  const value = definition.value;
  const { namespace, name, streamClass } = value.ref;
  // Any request shows whether the backfill template builds; the initial one is as good as any.
  const request: BackfillRequest = {
    name: initialBackfill,
    namespace,
    uid: '',
    createdAt: '',
    streamClass,
    streamId: name,
    completed: false,
    payload: null,
  };
  const problem = templateProblem(value, lookups, request);
  if (problem) return invalid(problem);
  const spec: ValidSpec = {
    valid: true,
    suspended: value.suspended,
    backend: value.backend.kind,
    configurationHash: configurationHash(value.spec),
  };
  return spec;
}

function observeStreamObject(stored: StoredStream, spec: ValidSpec | InvalidSpec): ObservedStream {
  const { metadata } = stored;
  return {
    uid: metadata.uid,
    generation: metadata.generation ?? 0,
    deleting: metadata.deletionTimestamp !== undefined,
    pinTemplate: metadata.annotations?.[PIN_TEMPLATE_ANNOTATION] === 'true',
    status: observeStatus(storedStatus(stored)),
    spec,
  };
}

/** The stream object, absent, or why the lifecycle cannot tell (its kind is not served). */
async function readServedStream(kube: KubernetesApi, streamClass: StreamClass, stream: StreamKey) {
  try {
    return { stored: await readStream(kube, streamClass, stream) };
  } catch (error) {
    if (error instanceof ActionSkipped && error.reason === 'KindNotServed') return { notServed: error.message };
    throw error;
  }
}

export async function observeStream({ kube }: ActivityContext, stream: StreamKey): Promise<Observation> {
  const absent = { templates: {}, backfillRequests: [], initialBackfillName: '' };
  const streamClass = await readStreamClass(kube, stream.streamClass);
  // Without its class the stream's kind is unknown: the lifecycle lets go of it and touches nothing.
  if (!streamClass) return { ...absent, detached: `StreamClass ${stream.streamClass} no longer exists` };
  const kind: StreamKind = { group: streamClass.group, kind: streamClass.kind, plural: streamClass.plural };
  const [read, job, cron] = await Promise.all([
    readServedStream(kube, streamClass, stream),
    readJob(kube, stream),
    readCronJob(kube, stream),
  ]);
  // Not "no stream": nothing may be deleted on an answer that says nothing about the stream.
  if (read.notServed !== undefined) return { ...absent, kind, detached: read.notServed };
  const { stored } = read;
  const workloads = compact({ job: job && observeJob(job), cronJob: cron && observeCronJob(cron) });
  if (!stored) return { ...absent, kind, ...workloads };
  const definition = parseStreamDefinition(stored, streamClass);
  const [lookups, requests] = await Promise.all([
    lookUpTemplates(kube, definition),
    listBackfillRequests(kube, stream),
  ]);
  const initialBackfillName = initialBackfillRequestName(stored.metadata);
  return {
    kind,
    stream: observeStreamObject(stored, observeSpec(definition, lookups, initialBackfillName)),
    templates: compact({ streaming: observeTemplate(lookups.streaming), backfill: observeTemplate(lookups.backfill) }),
    ...workloads,
    // Completed requests pile up over a stream's life; of those only the initial one matters (it was made).
    backfillRequests: requests
      .filter((request) => !request.completed || request.name === initialBackfillName)
      .map(observeRequest),
    initialBackfillName,
  };
}
