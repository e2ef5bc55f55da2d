// Parsing never throws on bad input: it returns an error value naming the field, ready for a condition.
import type { z } from 'zod';

export type ErrorReason = 'InvalidSpec' | 'InvalidTemplate' | 'InvalidStreamClass' | 'InvalidBackfillRequest';

export interface ResourceError {
  reason: ErrorReason;
  /** JSON path of the offending field, e.g. `spec.execution.layoutVersion`. */
  field: string;
  /** What is wrong and what the field must be, for a person; starts with the field, never quotes its value. */
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ResourceError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T>(reason: ErrorReason, field: string, problem: string): Result<T> {
  return { ok: false, error: { reason, field, message: `${field || 'the resource'} ${problem}` } };
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

// Only the kind of a value, never the value: a credential pasted into the wrong field must not reach a condition,
// an Event, a log line or workflow history.
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return article(typeof value);
}

// For checks on a value of the right type but the wrong content, where "not a string" would be wrong.
function foundKind(value: unknown): string {
  return typeof value === 'string' ? 'this string' : kindOf(value);
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function oneOf(kinds: readonly string[]): string {
  return kinds.length <= 1 ? (kinds[0] ?? 'something else') : `${kinds.slice(0, -1).join(', ')} or ${kinds.at(-1)}`;
}

// "be at least 3", "have at most 2 items", "be at most 63 characters long".
function limit(bound: string, size: number | bigint, origin: string): string {
  if (origin === 'string') return `be ${bound} ${String(size)} characters long`;
  if (origin === 'array' || origin === 'set') return `have ${bound} ${String(size)} item${size === 1 ? '' : 's'}`;
  return `be ${bound} ${String(size)}`;
}

// The types a union accepts, read from its branches' own invalid_type issues.
function unionKinds(issue: z.core.$ZodIssueInvalidUnion): string[] {
  const kinds = issue.errors.flatMap((branch) =>
    branch.flatMap((inner) =>
      inner.code === 'invalid_type' && inner.path.length === 0 ? [article(inner.expected)] : [],
    ),
  );
  return [...new Set(kinds)];
}

// Every message is built here from the schema's side of the issue (expected types, allowed values, limits, our own
// refinement text): zod's default messages and the issue's input are never passed on.
function problemOf(issue: z.core.$ZodIssue, input: unknown): string {
  if (input === undefined) return 'is required';
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${article(issue.expected)}, not ${kindOf(input)}`;
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) <= 1) return 'must not be empty';
      return `must ${limit('at least', issue.minimum, issue.origin)}`;
    case 'too_big':
      return `must ${limit('at most', issue.maximum, issue.origin)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, not ${foundKind(input)}`;
    case 'invalid_format':
      return `must match ${issue.pattern ?? issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'invalid_union':
      return `must be ${oneOf(unionKinds(issue))}, not ${foundKind(input)}`;
    case 'unrecognized_keys':
      // The unknown keys are not named: one of them may be a credential pasted in the wrong place.
      return `has ${issue.keys.length === 1 ? 'a field' : `${issue.keys.length} fields`} its schema does not define`;
    case 'invalid_key': {
      // Said of the map: its path ends in the bad key itself, which may be the pasted credential.
      const inner = issue.issues[0];
      return inner ? `has a key that ${problemOf(inner, '')}` : 'has a key of the wrong shape';
    }
    case 'invalid_element':
      return 'has an entry of the wrong shape';
    case 'custom':
      // Refinements here are phrased "must be ..." and never include the value.
      return `${issue.message}, not ${foundKind(input)}`;
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
  const path = issue.code === 'invalid_key' ? issue.path.slice(0, -1) : issue.path;
  return fail(reason, fieldPath(path), problemOf(issue, valueAt(input, path)));
}
