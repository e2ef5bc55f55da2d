// Checks of command-line values before anything is contacted; each error names the argument, never echoes it.
import { parseDuration } from '../operations/config-schema.ts';
import type { StreamKey } from '../resources/stream-key.ts';
import { usageError } from './output.ts';

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export function checkNamespace(what: string, value: string): string {
  if (!NAMESPACE.test(value) || value.length > 63) {
    throw usageError(`${what} must be a Kubernetes namespace name (lower-case letters, digits, "-")`);
  }
  return value;
}

/** The `-n` option of commands that act on streams in one namespace or all of them. */
export const namespaceOption = [
  '-n, --namespace <NAMESPACE>',
  'only streams in this namespace (default: all)',
] as const;

export function optionalNamespace(value: string | undefined): string | undefined {
  return value === undefined ? undefined : checkNamespace('--namespace', value);
}

export function checkObjectName(what: string, value: string): string {
  if (!OBJECT_NAME.test(value) || value.length > 253) {
    throw usageError(`${what} must be a Kubernetes object name (lower-case letters, digits, "-", ".")`);
  }
  return value;
}

/** A downtime key is stored as a label value: at most 63 letters, digits, "-", "_", ".", alphanumeric at both ends. */
export function checkDowntimeKey(value: string): string {
  if (!LABEL_VALUE.test(value) || value.length > 63) {
    throw usageError(
      'KEY must be a label value: up to 63 letters, digits, "-", "_" or ".", starting and ending alphanumeric',
    );
  }
  return value;
}

/** A name prefix may be empty (every stream of the class) or the start of an object name. */
export function checkPrefix(value: string): string {
  if (value !== '' && !/^[a-z0-9][-a-z0-9.]*$/.test(value)) {
    throw usageError('--prefix must be the start of a Kubernetes object name (lower-case letters, digits, "-", ".")');
  }
  return value;
}

/** `<namespace>/<name>` of a stream of `streamClass`. */
export function parseStreamArgument(streamClass: string, stream: string): StreamKey {
  checkObjectName('STREAM_CLASS', streamClass);
  const [namespace, name, ...rest] = stream.split('/');
  if (name === undefined || rest.length > 0 || !NAMESPACE.test(namespace!) || !OBJECT_NAME.test(name)) {
    throw usageError('STREAM must be <namespace>/<name>, e.g. default/orders');
  }
  return { streamClass, namespace: namespace!, name };
}

/** A JSON object for `spec.payload` of a BackfillRequest. */
export function parsePayload(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    throw usageError('--payload must be a JSON object, and is not valid JSON');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw usageError('--payload must be a JSON object, not an array or a single value');
  }
  return payload as Record<string, unknown>;
}

/** A `--timeout` such as 90s, 15m or 2h, in milliseconds. */
export function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw usageError('--timeout must be a duration such as 90s, 15m or 2h');
  return ms;
}
