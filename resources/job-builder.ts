// Builds the Job and CronJob of a stream from its template exactly per the Job contract (SPEC 3).
// Computes the configuration hash (node:crypto), so it runs in activities, not in workflow code.
import type { V1CronJob, V1Job, V1OwnerReference } from '@kubernetes/client-node';
import type { BackfillRequest } from './backfill-request.ts';
import { configurationHash } from './configuration-hash.ts';
import type { JsonObject } from './go-json.ts';
import {
  BACKFILLING_LABEL,
  CONFIGURATION_HASH_ANNOTATION,
  STREAM_CLASS_ANNOTATION,
  STREAM_ID_LABEL,
  STREAM_KIND_LABEL,
  TEMPLATE_GENERATION_ANNOTATION,
} from './job-metadata.ts';
import { fail, ok, type Result } from './result.ts';
import {
  BACKFILL_ENV,
  BACKFILL_ID_ENV,
  OVERRIDE_ENV,
  overrideJson,
  SPEC_ENV,
  specJson,
  STREAM_ID_ENV,
  STREAM_KIND_ENV,
} from './stream-context.ts';
import type { StreamRef } from './stream-ref.ts';
import type { StreamingJobTemplate, TemplateContainer, TemplateEnvVar } from './streaming-job-template.ts';

export interface JobInput {
  stream: StreamRef;
  /** The stream's spec as stored. */
  spec: JsonObject;
  template: StreamingJobTemplate;
  /** Secrets named by the stream's secretRef fields, loaded into every container with envFrom. */
  secretNames: readonly string[];
}

export interface CronJobInput extends JobInput {
  schedule: string;
}

// Only Arcane may say which stream a container belongs to.
const RESERVED_ENV = new Set([STREAM_ID_ENV, STREAM_KIND_ENV]);
// Set in place when the template has them, so a container never carries two values for one name.
const REPLACED_ENV = new Set([SPEC_ENV, BACKFILL_ENV, BACKFILL_ID_ENV, OVERRIDE_ENV]);
// The CronJob controller labels each Job's pods with the Job name: each run is its own backfill.
const CRON_BACKFILL_ID: TemplateEnvVar = {
  name: BACKFILL_ID_ENV,
  valueFrom: { fieldRef: { fieldPath: "metadata.labels['job-name']" } },
};

function ownerReference(stream: StreamRef): V1OwnerReference {
  return { apiVersion: stream.apiVersion, kind: stream.kind, name: stream.name, uid: stream.uid, controller: true };
}

function streamLabels(stream: StreamRef, backfilling: boolean): Record<string, string> {
  return {
    [STREAM_ID_LABEL]: stream.name,
    [STREAM_KIND_LABEL]: stream.kind,
    [BACKFILLING_LABEL]: String(backfilling),
  };
}

function streamAnnotations(input: JobInput, hash: string): Record<string, string> {
  return {
    [CONFIGURATION_HASH_ANNOTATION]: hash,
    [STREAM_CLASS_ANNOTATION]: input.stream.streamClass,
    [TEMPLATE_GENERATION_ANNOTATION]: String(input.template.generation),
  };
}

function templateAnnotations(input: JobInput): { annotations?: Record<string, string> } {
  const annotations = input.template.job.metadata?.annotations;
  return annotations ? { annotations } : {};
}

function withStreamContext(
  container: TemplateContainer,
  index: number,
  context: readonly TemplateEnvVar[],
  input: JobInput,
): Result<TemplateContainer> {
  const env = [...(container.env ?? [])];
  const reserved = env.findIndex((variable) => RESERVED_ENV.has(variable.name));
  if (reserved >= 0) {
    const { name, namespace } = input.template;
    return fail(
      'InvalidTemplate',
      `spec.spec.template.spec.containers[${index}].env[${reserved}]`,
      `sets ${env[reserved]?.name}, which Arcane sets itself; remove it from StreamingJobTemplate ${namespace}/${name}`,
    );
  }
  for (const variable of context) {
    const existing = REPLACED_ENV.has(variable.name) ? env.findIndex((item) => item.name === variable.name) : -1;
    if (existing >= 0) env[existing] = variable;
    else env.push(variable);
  }
  if (input.secretNames.length === 0) return ok({ ...container, env });
  const secrets = input.secretNames.map((name) => ({ secretRef: { name } }));
  return ok({ ...container, env, envFrom: [...(container.envFrom ?? []), ...secrets] });
}

function buildJob(input: JobInput, backfilling: boolean, backfillEnv: readonly TemplateEnvVar[]): Result<V1Job> {
  // A deep copy: the template object is shared by every stream that uses it.
  const { metadata, spec } = structuredClone(input.template.job);
  const { stream } = input;
  const context: TemplateEnvVar[] = [
    { name: STREAM_ID_ENV, value: stream.name },
    { name: STREAM_KIND_ENV, value: stream.kind },
    { name: SPEC_ENV, value: specJson(input.spec) },
    { name: BACKFILL_ENV, value: String(backfilling) },
    ...backfillEnv,
  ];
  const containers: TemplateContainer[] = [];
  for (const [index, container] of spec.template.spec.containers.entries()) {
    const built = withStreamContext(container, index, context, input);
    if (!built.ok) return built;
    containers.push(built.value);
  }
  const labels = streamLabels(stream, backfilling);
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    // Of the template's own metadata only labels and annotations carry over; name and owner are the stream's.
    metadata: {
      name: stream.name,
      namespace: stream.namespace,
      labels: { ...metadata?.labels, ...labels },
      annotations: { ...metadata?.annotations, ...streamAnnotations(input, configurationHash(input.spec)) },
      ownerReferences: [ownerReference(stream)],
    },
    spec: {
      ...spec,
      template: {
        ...spec.template,
        metadata: { ...spec.template.metadata, labels: { ...spec.template.metadata?.labels, ...labels } },
        spec: { ...spec.template.spec, containers },
      },
    },
  };
  return ok(job as V1Job);
}

/** The stream's streaming Job: STREAMCONTEXT__BACKFILL="false". */
export function buildStreamingJob(input: JobInput): Result<V1Job> {
  return buildJob(input, false, []);
}

/** The Job that runs `request` for the stream (from the backfill template), named after the stream. */
export function buildBackfillJob(input: JobInput, request: BackfillRequest): Result<V1Job> {
  return buildJob(input, true, [
    { name: BACKFILL_ID_ENV, value: request.name },
    { name: OVERRIDE_ENV, value: overrideJson(request) },
  ]);
}

/** The stream's CronJob (batch backend): each scheduled run is a backfill identified by its Job name. */
export function buildCronJob(input: CronJobInput): Result<V1CronJob> {
  const job = buildJob(input, true, [
    CRON_BACKFILL_ID,
    { name: OVERRIDE_ENV, value: overrideJson({ streamClass: '', streamId: '', completed: false, payload: null }) },
  ]);
  if (!job.ok) return job;
  const { stream } = input;
  const { metadata, spec } = job.value;
  const cronJob = {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: {
      name: stream.name,
      namespace: stream.namespace,
      labels: streamLabels(stream, true),
      annotations: streamAnnotations(input, configurationHash(input.spec)),
      ownerReferences: [ownerReference(stream)],
    },
    spec: {
      schedule: input.schedule,
      concurrencyPolicy: 'Forbid',
      // Its Jobs get the template's labels and annotations plus our labels; the hash stays on the CronJob.
      jobTemplate: { metadata: { labels: metadata?.labels, ...templateAnnotations(input) }, spec },
    },
  };
  return ok(cronJob as V1CronJob);
}
