// observeStream: everything the lifecycle decides on, read fresh. No spec content and no secret values leave here:
// the spec is reduced to its validity, backend, suspension and hash.
import type { V1Job } from '@kubernetes/client-node';
import { initialBackfillRequestName, type BackfillRequest } from '../resources/backfill-request.ts';
import { configurationHash } from '../resources/configuration-hash.ts';
import { PIN_TEMPLATE_ANNOTATION } from '../resources/job-metadata.ts';
import type { ResourceError, Result } from '../resources/result.ts';
import type { StreamClass } from '../resources/stream-class.ts';
import { parseStreamDefinition, type StreamDefinition } from '../resources/stream-definition.ts';
import type { StreamKey } from '../resources/stream-key.ts';
import { readStoredStatus, type StoredStatus } from '../resources/stream-status.ts';
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
  type StoredStream,
  type TemplateLookup,
} from './stream-resources.ts';
import { backfillJob, cronJob, streamingJob } from './stream-workloads.ts';

function observeRequest(request: BackfillRequest): ObservedBackfillRequest {
  const observed = { name: request.name, createdAt: epochMs(request.createdAt) ?? 0, completed: request.completed };
  return request.refused ? { ...observed, refused: true } : observed;
}

/** Phase, hash and the (single) condition this operator writes, as stored: fields the plugin's schema pruned stay
 * absent, so they are not compared. A garbled status reads as empty. */
export function observeStatus(stored: StoredStatus): ObservedStream['status'] {
  const first = stored.conditions[0];
  const condition: ObservedCondition | undefined =
    first?.type === undefined
      ? undefined
      : compact({
          type: first.type,
          reason: first.reason,
          message: first.message ?? '',
          observedGeneration: first.observedGeneration,
        });
  return compact({
    phase: stored.phase ?? '',
    configurationHash: stored.configurationHash || undefined,
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

function observeTemplate(lookup: TemplateLookup | undefined, problem?: ResourceError): ObservedTemplate | undefined {
  if (!lookup) return undefined;
  const found = lookup.template !== undefined;
  return compact({ ref: lookup.ref, found, generation: lookup.generation, problem: problem?.message });
}

function usable(lookup: TemplateLookup | undefined): StreamingJobTemplate | undefined {
  return lookup?.template?.ok ? lookup.template.value : undefined;
}

/** Why a found template cannot build its workload for this stream (not a Job, a reserved env var), per template. */
function templateProblems(definition: StreamDefinition, lookups: TemplateLookups, request: BackfillRequest) {
  const problem = (lookup: TemplateLookup | undefined, build: (template: StreamingJobTemplate) => Result<unknown>) => {
    if (lookup?.template && !lookup.template.ok) return lookup.template.error;
    const template = usable(lookup);
    const built = template && build(template);
    return built && !built.ok ? built.error : undefined;
  };
  const { backend } = definition;
  return {
    streaming: problem(lookups.streaming, (template) =>
      backend.kind === 'cronjob' ? cronJob(definition, template, backend.schedule) : streamingJob(definition, template),
    ),
    backfill: problem(lookups.backfill, (template) => backfillJob(definition, template, request)),
  };
}

type TemplateProblems = ReturnType<typeof templateProblems>;

function invalid(error: ResourceError, suspended: boolean | undefined): InvalidSpec {
  const reason = error.reason === 'InvalidTemplate' ? 'InvalidTemplate' : 'InvalidSpec';
  const spec: InvalidSpec = { valid: false, reason, field: error.field, message: error.message };
  return suspended === undefined ? spec : { ...spec, suspended };
}

/** `suspended` of whichever layout the raw spec uses, when it says so plainly: suspension wins over a bad spec. */
function plainlySuspended(stored: StoredStream): boolean | undefined {
  const spec = stored.spec as { suspended?: unknown; execution?: { suspended?: unknown } } | undefined;
  const value = spec?.execution?.suspended ?? spec?.suspended;
  return typeof value === 'boolean' ? value : undefined;
}

function initialRequest(value: StreamDefinition, initialBackfill: string): BackfillRequest {
  const { namespace, name, streamClass } = value.ref;
  // Any request shows whether the backfill template builds; the initial one is as good as any.
  return {
    name: initialBackfill,
    namespace,
    uid: '',
    createdAt: '',
    streamClass,
    streamId: name,
    completed: false,
    payload: null,
    refused: false,
  };
}

/** The spec as the lifecycle sees it. A spec the streaming template cannot be built with is invalid (the stream cannot
 * run); a broken backfill template only fails a backfill, so it is reported on that template. */
function observeSpec(stored: StoredStream, definition: Result<StreamDefinition>, problems: TemplateProblems) {
  if (!definition.ok) return invalid(definition.error, plainlySuspended(stored));
  const value = definition.value;
  const spec: ValidSpec = {
    valid: true,
    suspended: value.suspended,
    backend: value.backend.kind,
    configurationHash: configurationHash(value.spec),
  };
  // A spec-side problem (a name too long for a Job, say) shows whichever template it was found with.
  const specProblem = [problems.streaming, problems.backfill].find((problem) => problem?.reason === 'InvalidSpec');
  return specProblem ? invalid(specProblem, value.suspended) : spec;
}

function observeStreamObject(stored: StoredStream, spec: ValidSpec | InvalidSpec): ObservedStream {
  const { metadata } = stored;
  return {
    uid: metadata.uid,
    generation: metadata.generation ?? 0,
    deleting: metadata.deletionTimestamp !== undefined,
    pinTemplate: metadata.annotations?.[PIN_TEMPLATE_ANNOTATION] === 'true',
    status: observeStatus(readStoredStatus(stored.status)),
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
  // A detached stream is observed with its Job alone (it is named after the stream): the lifecycle takes the operator's
  // finalizer off it before it lets go, since nothing would later.
  const detachedWith = (detached: string, job: V1Job | undefined) => ({
    ...absent,
    ...compact({ job: job && observeJob(job) }),
    detached,
  });
  const streamClass = await readStreamClass(kube, stream.streamClass);
  // Without its class the stream's kind is unknown: the lifecycle lets go of it.
  if (!streamClass)
    return detachedWith(`StreamClass ${stream.streamClass} no longer exists`, await readJob(kube, stream));
  const kind: StreamKind = { group: streamClass.group, kind: streamClass.kind, plural: streamClass.plural };
  const [read, job, cron] = await Promise.all([
    readServedStream(kube, streamClass, stream),
    readJob(kube, stream),
    readCronJob(kube, stream),
  ]);
  // Not "no stream": nothing may be deleted on an answer that says nothing about the stream.
  if (read.notServed !== undefined) return { ...detachedWith(read.notServed, job), kind };
  const { stored } = read;
  const workloads = compact({ job: job && observeJob(job), cronJob: cron && observeCronJob(cron) });
  if (!stored) return { ...absent, kind, ...workloads };
  const definition = parseStreamDefinition(stored, streamClass);
  const [lookups, requests] = await Promise.all([
    lookUpTemplates(kube, definition),
    listBackfillRequests(kube, stream),
  ]);
  const initialBackfillName = initialBackfillRequestName(stored.metadata);
  const problems = definition.ok
    ? templateProblems(definition.value, lookups, initialRequest(definition.value, initialBackfillName))
    : { streaming: undefined, backfill: undefined };
  const templateProblem = (problem: ResourceError | undefined) =>
    problem?.reason === 'InvalidSpec' ? undefined : problem;
  return {
    kind,
    stream: observeStreamObject(stored, observeSpec(stored, definition, problems)),
    templates: compact({
      streaming: observeTemplate(lookups.streaming, templateProblem(problems.streaming)),
      backfill: observeTemplate(lookups.backfill, templateProblem(problems.backfill)),
    }),
    ...workloads,
    // Completed requests pile up over a stream's life; of those only the initial one matters (it was made).
    backfillRequests: requests
      .filter((request) => (!request.completed && !request.refused) || request.name === initialBackfillName)
      .map(observeRequest),
    initialBackfillName,
  };
}
