// How a failed activity tells the workflow what to do: retry (conflicts, throttling, outages, missing RBAC) or stop
// retrying with a reason the workflow can put in a condition (bad input).
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { decodeApiError } from '../kubernetes/errors.ts';
import type { ResourceError } from '../resources/result.ts';
import type { NonRetryableReason } from '../workflows/lifecycle.ts';

export { nonRetryableReasons, type NonRetryableReason } from '../workflows/lifecycle.ts';

/** One Kubernetes API call, named as an RBAC rule would name it. */
export interface ApiCall {
  verb: 'get' | 'list' | 'create' | 'patch' | 'delete';
  /** `jobs.batch`, `events`, `mockstreams.streaming.sneaksanddata.com`; `/status` for the status subresource. */
  resource: string;
  /** Absent for cluster-scoped resources. */
  namespace?: string;
  name?: string;
  /** What an invalid-object answer (400/422) means for this call; `InvalidObject` when not given. */
  invalid?: NonRetryableReason;
}

/** Why an action no longer applies; the workflow's next observation shows the same. */
export type SkipReason =
  | 'StreamClassNotFound'
  | 'KindNotServed'
  | 'StreamNotFound'
  | 'TemplateNotFound'
  | 'BackfillRequestNotFound'
  | 'BackfillRequestClosed'
  | 'StreamSuspended'
  | 'BackendChanged';

/** What an action activity returns instead of acting when what it acts on changed since the decision. */
export interface Skipped {
  skipped: { reason: SkipReason; message: string };
}

/** Thrown inside an activity to end it with a Skipped result (see the activity boundary in index.ts). */
export class ActionSkipped extends Error {
  readonly reason: SkipReason;

  constructor(reason: SkipReason, message: string) {
    super(message);
    this.name = 'ActionSkipped';
    this.reason = reason;
  }
}

function describeCall(call: ApiCall): string {
  const where = call.namespace === undefined ? '' : ` in namespace ${call.namespace}`;
  return `${call.verb} ${call.resource}${call.name === undefined ? '' : ` ${call.name}`}${where}`;
}

/** A Kubernetes API call that failed, with the call it was, the HTTP code and the API server's reason. */
export class KubernetesApiError extends Error {
  readonly call: ApiCall;
  /** Undefined when no response arrived (network error, API server down). */
  readonly code: number | undefined;
  /** The Status reason (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, ...) or `Unreachable`. */
  readonly reason: string;
  readonly retryAfterSeconds: number | undefined;

  constructor(call: ApiCall, cause: unknown) {
    const { code, reason, message, retryAfterSeconds } = decodeApiError(cause);
    super(`${describeCall(call)}: ${code === undefined ? 'no response: ' : `${code} `}${message}`, { cause });
    this.name = 'KubernetesApiError';
    this.call = call;
    this.code = code;
    this.reason = reason ?? (code === undefined ? 'Unreachable' : `Http${code}`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof KubernetesApiError && error.code === 404;
}

export function isAlreadyExists(error: unknown): boolean {
  return error instanceof KubernetesApiError && error.code === 409 && error.reason === 'AlreadyExists';
}

/** A 422: the request is invalid as sent; for a JSON patch, also a `test` operation that failed or a path not there. */
export function isInvalid(error: unknown): boolean {
  return error instanceof KubernetesApiError && error.code === 422;
}

/** A 409 that is not AlreadyExists: an outdated resourceVersion or a failed uid precondition. */
export function isConflict(error: unknown): boolean {
  return error instanceof KubernetesApiError && error.code === 409 && error.reason !== 'AlreadyExists';
}

/** The line a person reads to fix missing RBAC: verb, resource and where. */
export function forbiddenMessage(call: ApiCall): string {
  const where = call.namespace === undefined ? 'cluster-wide' : `in namespace ${call.namespace}`;
  // RBAC names resources without their group: `mockstreams/status`, `jobs`.
  const plural = call.resource.replace(/\.[^/]*/, '');
  return `forbidden: cannot ${call.verb} ${call.resource} ${where}: grant the operator's ServiceAccount "${call.verb}" on "${plural}"`;
}

/**
 * A spec or template the resource model rejected. Retrying cannot help until someone fixes it, so the failure is not
 * retried; its message names the field.
 */
export function rejected(error: ResourceError): ApplicationFailure {
  return ApplicationFailure.create({
    message: error.message,
    type: error.reason === 'InvalidTemplate' ? 'InvalidTemplate' : 'InvalidSpec',
    nonRetryable: true,
    details: [{ field: error.field }],
  });
}

/** Temporal retries it: after `nextRetryDelay` when given (Retry-After, a Job going away), else per the retry policy.
 * No cause is attached: the message says it all, and the client's error text lists every response header. */
export function retryable(type: string, message: string, nextRetryDelay?: string): ApplicationFailure {
  return ApplicationFailure.create({
    message,
    type,
    nonRetryable: false,
    ...(nextRetryDelay ? { nextRetryDelay } : {}),
  });
}

function fromApiError(error: KubernetesApiError, log: Logger): ApplicationFailure {
  const { code, call } = error;
  if (code === 429) return retryable('TooManyRequests', error.message, `${error.retryAfterSeconds ?? 1}s`);
  // A terminating namespace also answers 403, but no RBAC grant would help: the stream is going away with it.
  if (code === 403 && /being terminated/.test(error.message)) return retryable('NamespaceTerminating', error.message);
  if (code === 403) {
    // Retried: granting the missing verb recovers without a restart.
    log.error({ verb: call.verb, resource: call.resource, namespace: call.namespace }, forbiddenMessage(call));
  }
  if ((code === 400 || code === 422) && call.invalid !== undefined) {
    return ApplicationFailure.create({ message: error.message, type: call.invalid, nonRetryable: true });
  }
  // Conflicts, 5xx, 401 (credentials may be rotated), no response, and objects of our own making the API server
  // rejects (a bug: retried, so a fixed worker recovers the stream).
  return retryable(error.reason, error.message);
}

/** What an activity throws for `error`: Kubernetes failures classified, anything else unchanged. */
export function activityFailure(error: unknown, log: Logger): unknown {
  return error instanceof KubernetesApiError ? fromApiError(error, log) : error;
}
