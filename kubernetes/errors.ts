// Reads a failed Kubernetes API call: the HTTP status code, the API server's Status reason and a message with the
// values it quotes withheld, from any error the client raises (a generated client's ApiException, a watch's error,
// a network failure). The watcher logs these; the activities classify them on top (activities/errors.ts).
import { ApiException } from './client-node.ts';

/** What a failed call tells: `code` is undefined when no answer arrived (network error, API server down). */
export interface ApiFailure {
  code: number | undefined;
  /** The Status reason (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, ...) when the API server sent one. */
  reason: string | undefined;
  /** The API server's message, or the client's short description when it sent none; quoted values withheld. */
  message: string;
  /** The Retry-After header of a throttled answer, in seconds. */
  retryAfterSeconds: number | undefined;
}

/** An HTTP status code: a DOMException's `code` is a number too (23 for an abandoned request's TimeoutError). */
function httpStatus(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599 ? value : undefined;
}

/**
 * The HTTP status of a failed call, or undefined when none arrived. A generated client's ApiException carries it as
 * `code`, a watch's error as `statusCode`; a network error's `code` is a string (`ECONNREFUSED`) and an abandoned
 * request's (a DOMException) a number of its own, and neither counts.
 */
export function statusCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || error instanceof DOMException) return undefined;
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
  return httpStatus(code) ?? httpStatus(statusCode);
}

interface ApiStatus {
  reason?: string;
  message?: string;
}

/** The reason and message of a Status body, which the client hands over as text or already parsed. */
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

/** Everything a failed call tells, from whatever the client raised. */
export function decodeApiError(error: unknown): ApiFailure {
  const status = error instanceof ApiException ? parseStatus(error.body) : {};
  const retryAfter = error instanceof ApiException ? Number(error.headers['retry-after']) : NaN;
  return {
    code: statusCode(error),
    reason: status.reason,
    message: withoutValues(status.message ?? describeCause(error)),
    retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
  };
}

/** One line for a log: the HTTP code (when an answer arrived) and the message. */
export function errorMessage(error: unknown): string {
  const { code, message } = decodeApiError(error);
  return code === undefined ? message : `${code} ${message}`;
}
