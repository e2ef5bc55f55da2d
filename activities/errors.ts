// How a failed activity tells the workflow what to do: retry (conflicts, throttling, outages, missing RBAC) or stop
// retrying with a reason the workflow can put in a condition (bad input).
import { ApiException } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
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

interface ApiStatus {
  reason?: string;
  message?: string;
}

function parseStatus(body: unknown): ApiStatus {
  if (typeof body === 'string') {
    try {
      return parseStatus(JSON.parse(body));
    } catch {
      return body === '' ? {} : { message: body };
    }
  }
  if (typeof body !== 'object' || body === null) return {};
  const { reason, message } = body as Record<string, unknown>;
  return {
    ...(typeof reason === 'string' ? { reason } : {}),
    ...(typeof message === 'string' ? { message } : {}),
  };
}

// Without a Status body: the client's short message (its full text repeats all headers), or the network error and
// its cause (`fetch failed: connect ECONNREFUSED ...`).
function describeCause(cause: unknown): string {
  if (cause instanceof ApiException) return /\nMessage: (.*)/.exec(cause.message)?.[1] ?? 'no details';
  if (!(cause instanceof Error)) return String(cause);
  return cause.cause instanceof Error ? `${cause.message}: ${cause.cause.message}` : cause.message;
}

function describeCall(call: ApiCall): string {
  const where = call.namespace === undefined ? '' : ` in namespace ${call.namespace}`;
  return `${call.verb} ${call.resource}${call.name === undefined ? '' : ` ${call.name}`}${where}`;
}

/** A Kubernetes API call that failed, with the call it was, the HTTP code and the API server's reason. */
const valueLabels = /(Invalid value|Unsupported value|Duplicate value|Not found): /g;

/** The end of the value that starts at `start`: a quoted string, a bracketed object or list, or a bare token. */
function valueEnd(text: string, start: number): number {
  const open = text[start];
  if (open === '"') {
    let i = start + 1;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    return Math.min(i + 1, text.length);
  }
  if (open === '{' || open === '[') {
    let depth = 0;
    for (let i = start; i < text.length; i++) {
      const char = text[i];
      if (char === '"') i = valueEnd(text, i) - 1;
      else if (char === '{' || char === '[') depth++;
      else if ((char === '}' || char === ']') && --depth === 0) return i + 1;
    }
    return text.length;
  }
  const colon = text.indexOf(':', start);
  return colon === -1 ? text.length : colon;
}

/**
 * The API server's message with the values it quotes withheld ("Invalid value: \"...\"" names the field and quotes
 * the value): a credential pasted into a stream spec reaches a Job's environment, and must not reach workflow history,
 * status, Events or logs through an error.
 */
export function withoutValues(message: string): string {
  let result = '';
  let from = 0;
  for (const match of message.matchAll(valueLabels)) {
    const start = match.index + match[0].length;
    if (start < from) continue;
    result += `${message.slice(from, start)}(value withheld)`;
    from = valueEnd(message, start);
  }
  return result + message.slice(from);
}

export class KubernetesApiError extends Error {
  readonly call: ApiCall;
  /** Undefined when no response arrived (network error, API server down). */
  readonly code: number | undefined;
  /** The Status reason (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, ...) or `Unreachable`. */
  readonly reason: string;
  readonly retryAfterSeconds: number | undefined;

  constructor(call: ApiCall, cause: unknown) {
    const status = cause instanceof ApiException ? parseStatus(cause.body) : {};
    const code = cause instanceof ApiException ? cause.code : undefined;
    const detail = withoutValues(status.message ?? describeCause(cause));
    super(`${describeCall(call)}: ${code === undefined ? 'no response: ' : `${code} `}${detail}`, { cause });
    this.name = 'KubernetesApiError';
    this.call = call;
    this.code = code;
    this.reason = status.reason ?? (code === undefined ? 'Unreachable' : `Http${code}`);
    const retryAfter = cause instanceof ApiException ? Number(cause.headers['retry-after']) : NaN;
    this.retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined;
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof KubernetesApiError && error.code === 404;
}

export function isAlreadyExists(error: unknown): boolean {
  return error instanceof KubernetesApiError && error.code === 409 && error.reason === 'AlreadyExists';
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

/** A spec or template the resource model rejected: not retried; the failure carries the field. */
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
