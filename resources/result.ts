// Parsing never throws on bad input: it returns an error value naming the field, ready for a condition.
import type { z } from 'zod';

export type ErrorReason = 'InvalidSpec' | 'InvalidTemplate' | 'InvalidStreamClass' | 'InvalidBackfillRequest';

export interface ResourceError {
  reason: ErrorReason;
  /** JSON path of the offending field, e.g. `spec.execution.layoutVersion`. */
  field: string;
  /** What is wrong, for a person; starts with the field. */
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ResourceError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T>(reason: ErrorReason, field: string, problem: string): Result<T> {
  return { ok: false, error: { reason, field, message: `${field} ${problem}` } };
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `["spec", "containers", 0, "env"]` -> `spec.containers[0].env`; odd keys are quoted: `labels["arcane/x"]`. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, index) => {
      if (typeof key === 'number') return `[${key}]`;
      const name = String(key);
      if (IDENTIFIER.test(name)) return index === 0 ? name : `.${name}`;
      return `[${JSON.stringify(name)}]`;
    })
    .join('');
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
  return typeof value;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function problemOf(issue: z.core.$ZodIssue, input: unknown): string {
  if (input === undefined) return 'is required';
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${article(issue.expected)}, not ${describeValue(input)}`;
    case 'too_small':
      return issue.origin === 'string'
        ? 'must not be empty'
        : `must have at least ${String(issue.minimum)} item${issue.minimum === 1 ? '' : 's'}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)} characters long`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, not ${describeValue(input)}`;
    case 'invalid_format':
      return `must match ${issue.pattern ?? issue.format}, not ${describeValue(input)}`;
    case 'custom':
      // Refinements here are phrased "must be ...".
      return `${issue.message}, not ${describeValue(input)}`;
    default:
      return issue.message;
  }
}

// zod issues carry no input value, so read it back from the input by path.
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Validate `input` with `schema`; the first problem becomes a ResourceError under `reason`. */
export function parseWith<S extends z.ZodType>(schema: S, reason: ErrorReason, input: unknown): Result<z.infer<S>> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return ok(parsed.data);
  const issue = parsed.error.issues[0];
  if (issue === undefined) return fail(reason, '', 'is invalid');
  return fail(reason, fieldPath(issue.path), problemOf(issue, valueAt(input, issue.path)));
}
