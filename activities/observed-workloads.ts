// The Job and CronJob named after a stream as the lifecycle sees them (ObservedJob, ObservedCronJob).
import type { KubernetesObject, V1CronJob, V1EnvVar, V1Job, V1JobCondition } from '@kubernetes/client-node';
import {
  BACKFILLING_LABEL,
  CONFIGURATION_HASH_ANNOTATION,
  OUTCOME_FINALIZER,
  STREAM_ID_LABEL,
  TEMPLATE_GENERATION_ANNOTATION,
} from '../resources/job-metadata.ts';
import { withoutManagedFields, type WatchedObject } from '../kubernetes/informer.ts';
import { BACKFILL_ENV, BACKFILL_ID_ENV } from '../resources/stream-context.ts';
import type { ObservedCronJob, ObservedJob } from '../workflows/lifecycle.ts';

/** The object without its undefined properties: observations compare and serialise without them. */
export function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}

export function epochMs(time: Date | string | undefined): number | undefined {
  if (time === undefined) return undefined;
  const ms = time instanceof Date ? time.getTime() : Date.parse(time);
  return Number.isNaN(ms) ? undefined : ms;
}

function generationOf(annotations: Record<string, string>): number | undefined {
  const value = Number(annotations[TEMPLATE_GENERATION_ANNOTATION]);
  return Number.isInteger(value) && annotations[TEMPLATE_GENERATION_ANNOTATION] !== '' ? value : undefined;
}

function envValue(env: readonly V1EnvVar[], name: string): string | undefined {
  return env.find((variable) => variable.name === name && variable.value !== undefined)?.value;
}

function trueCondition(job: V1Job, types: readonly string[]): V1JobCondition | undefined {
  return job.status?.conditions?.find((condition) => condition.status === 'True' && types.includes(condition.type));
}

function containerEnv(job: V1Job): V1EnvVar[] {
  return (job.spec?.template.spec?.containers ?? []).flatMap((container) => container.env ?? []);
}

/** Label `arcane/backfilling`; Jobs adopted from upstream may lack it, and their environment says the same. */
export function runsBackfill(job: V1Job): boolean {
  const label = job.metadata?.labels?.[BACKFILLING_LABEL];
  return label === undefined ? envValue(containerEnv(job), BACKFILL_ENV) === 'true' : label === 'true';
}

export function observeJob(job: V1Job): ObservedJob {
  const annotations = job.metadata?.annotations ?? {};
  const complete = trueCondition(job, ['Complete', 'SuccessCriteriaMet']);
  const failed = complete ? undefined : trueCondition(job, ['Failed', 'FailureTarget']);
  const finished = complete ?? failed;
  return compact({
    uid: job.metadata?.uid ?? '',
    backfilling: runsBackfill(job),
    backfillId: envValue(containerEnv(job), BACKFILL_ID_ENV),
    configurationHash: annotations[CONFIGURATION_HASH_ANNOTATION],
    templateGeneration: generationOf(annotations),
    state: complete ? 'complete' : failed ? 'failed' : 'active',
    failureMessage: failed && [failed.reason, failed.message].filter(Boolean).join(': '),
    terminating: job.metadata?.deletionTimestamp !== undefined,
    held: (job.metadata?.finalizers ?? []).includes(OUTCOME_FINALIZER),
    labelled: job.metadata?.labels?.[STREAM_ID_LABEL] !== undefined,
    startTime: epochMs(job.status?.startTime),
    finishTime: finished && epochMs(job.status?.completionTime ?? finished.lastTransitionTime),
  });
}

export function observeCronJob(cronJob: V1CronJob): ObservedCronJob {
  const annotations = cronJob.metadata?.annotations ?? {};
  return compact({
    uid: cronJob.metadata?.uid ?? '',
    configurationHash: annotations[CONFIGURATION_HASH_ANNOTATION],
    templateGeneration: generationOf(annotations),
    terminating: cronJob.metadata?.deletionTimestamp !== undefined,
    labelled: cronJob.metadata?.labels?.[STREAM_ID_LABEL] !== undefined,
  });
}

interface Container {
  name?: string;
  env?: unknown;
}

/**
 * The environment variables observing a Job reads (the backfill marks); the others, the spec among them, are the
 * plugin's.
 */
const OBSERVED_ENV: ReadonlySet<unknown> = new Set([BACKFILL_ENV, BACKFILL_ID_ENV]);

/** Written by `kubectl apply` (a copy of the whole object as applied); nothing the lifecycle decides on. */
const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

function observedEnv(env: unknown): unknown {
  return Array.isArray(env) ? env.filter((variable) => OBSERVED_ENV.has((variable as { name?: unknown }).name)) : env;
}

/**
 * The metadata without managed fields (as every cache keeps it) or kubectl's applied copy, left out rather than
 * deleted: a deletion turns an object into a hash table, twice its size.
 */
function keptMetadata(object: WatchedObject): KubernetesObject['metadata'] {
  const { metadata } = withoutManagedFields(object);
  if (metadata?.annotations?.[LAST_APPLIED_ANNOTATION] === undefined) return metadata;
  const { [LAST_APPLIED_ANNOTATION]: applied, ...annotations } = metadata.annotations;
  return { ...metadata, annotations };
}

/**
 * A Job or CronJob as observing it reads it: metadata (without managed fields or kubectl's copy of the applied object),
 * status and, of the pod template, only the environment variables that mark a backfill; what caches of workloads keep.
 */
export function workloadAsObserved<T extends KubernetesObject & { spec?: unknown; status?: unknown }>(object: T): T {
  const spec = object.spec as { template?: { spec?: { containers?: Container[] } } } | undefined;
  const containers = (spec?.template?.spec?.containers ?? []).map(({ name, env }) => ({ name, env: observedEnv(env) }));
  const kept = { apiVersion: object.apiVersion, kind: object.kind, metadata: keptMetadata(object) };
  return { ...kept, status: object.status, spec: { template: { spec: { containers } } } } as T;
}
