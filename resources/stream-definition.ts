// A plugin stream resource read into what the lifecycle needs; the spec itself is kept untouched for hash and Job.
import { z } from 'zod';
import type { JsonObject } from './go-json.ts';
import { MAX_CRON_JOB_NAME_LENGTH, MAX_JOB_NAME_LENGTH, PIN_TEMPLATE_ANNOTATION } from './job-metadata.ts';
import { fail, ok, parseWith, type Result } from './result.ts';
import type { StreamClass } from './stream-class.ts';
import { parseStreamExecution, type Backend, type Layout } from './stream-layout.ts';
import type { StreamRef } from './stream-ref.ts';

// z.custom keeps the very object (nulls and unknown fields included) instead of a parsed copy.
const specSchema = z.custom<JsonObject>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  'must be an object',
);

export const streamResourceSchema = z.looseObject({
  apiVersion: z.string().min(1),
  kind: z.string().min(1),
  metadata: z.looseObject({
    name: z.string().min(1),
    namespace: z.string().min(1),
    uid: z.string().min(1),
    generation: z.number().int().nullish(),
    annotations: z.record(z.string(), z.string()).nullish(),
  }),
  spec: specSchema,
  // Status is ours to write; a garbled one is read as empty rather than failing the stream.
  status: z.unknown().optional(),
});

export interface StreamDefinition {
  ref: StreamRef;
  generation: number;
  layout: Layout;
  /** The spec exactly as stored: what is hashed and passed to the Job. */
  spec: JsonObject;
  suspended: boolean;
  backend: Backend;
  /** Secret names from the spec fields listed in the StreamClass's secretRefs, in that order. */
  secretNames: string[];
  /** The stream opts out of template rollouts. */
  pinTemplate: boolean;
  /** As last written: empty strings when absent. */
  status: { phase: string; configurationHash: string };
}

function observedStatus(status: unknown): StreamDefinition['status'] {
  const fields = typeof status === 'object' && status !== null ? (status as Record<string, unknown>) : {};
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  return { phase: text(fields.phase), configurationHash: text(fields.configurationHash) };
}

function checkNameLength(name: string, backend: Backend): Result<void> {
  const limit =
    backend.kind === 'job'
      ? { max: MAX_JOB_NAME_LENGTH, why: 'the pod label job-name must fit' }
      : { max: MAX_CRON_JOB_NAME_LENGTH, why: 'the CronJob controller appends an 11-character suffix' };
  if (backend.kind === 'none' || name.length <= limit.max) return ok(undefined);
  return fail(
    'InvalidSpec',
    'metadata.name',
    `is ${name.length} characters long; a stream with a ${backend.kind === 'job' ? 'Job' : 'CronJob'} backend needs a name of at most ${limit.max} (${limit.why})`,
  );
}

const secretReference = z.looseObject({ name: z.string().min(1) });

/**
 * The schema of a spec holding a secret reference in each of `fields`, built once per list of fields: building a zod
 * schema costs far more than running it, and every stream of a class has the same list.
 */
const secretSchemas = new Map<string, ReturnType<typeof secretsSchema>>();

function secretsSchema(fields: readonly string[]) {
  return z.looseObject({
    spec: z.looseObject(Object.fromEntries(fields.map((field) => [field, secretReference]))),
  });
}

function secretSchemaFor(fields: readonly string[]) {
  const key = JSON.stringify(fields);
  let schema = secretSchemas.get(key);
  if (!schema) {
    // A handful of classes share a few lists; the bound only keeps a churn of class edits from growing it forever.
    if (secretSchemas.size >= 64) secretSchemas.clear();
    schema = secretsSchema(fields);
    secretSchemas.set(key, schema);
  }
  return schema;
}

function readSecretNames(spec: JsonObject, streamClass: StreamClass): Result<string[]> {
  const schema = secretSchemaFor(streamClass.secretRefs);
  const parsed = parseWith(schema, 'InvalidSpec', { spec });
  if (parsed.ok) return ok(streamClass.secretRefs.map((field) => parsed.value.spec[field]?.name ?? ''));
  const { error } = parsed;
  const hint = `StreamClass ${streamClass.name} lists it in secretRefs as a field holding {name: <secret>}`;
  return { ok: false, error: { ...error, message: `${error.message} (${hint})` } };
}

/** Reads a stream resource of `streamClass`'s kind; a broken spec is an InvalidSpec error naming the field. */
export function parseStreamDefinition(resource: unknown, streamClass: StreamClass): Result<StreamDefinition> {
  const parsed = parseWith(streamResourceSchema, 'InvalidSpec', resource);
  if (!parsed.ok) return parsed;
  const { apiVersion, kind, metadata, spec, status } = parsed.value;
  const execution = parseStreamExecution({ spec }, metadata.namespace);
  if (!execution.ok) return execution;
  const nameFits = checkNameLength(metadata.name, execution.value.backend);
  if (!nameFits.ok) return nameFits;
  const secretNames = readSecretNames(spec, streamClass);
  if (!secretNames.ok) return secretNames;
  return ok({
    ref: {
      streamClass: streamClass.name,
      apiVersion,
      kind,
      namespace: metadata.namespace,
      name: metadata.name,
      uid: metadata.uid,
    },
    generation: metadata.generation ?? 0,
    ...execution.value,
    spec,
    secretNames: secretNames.value,
    pinTemplate: metadata.annotations?.[PIN_TEMPLATE_ANNOTATION] === 'true',
    status: observedStatus(status),
  });
}
