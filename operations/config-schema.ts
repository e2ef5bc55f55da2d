// Building blocks of the processes' configuration schemas: values may come from environment variables and flags
// as strings ("15s", "true", "8888"), or from code as numbers and booleans. Every problem names its setting and what
// it must be, never the value given: a secret set in the wrong variable must not end up in a log line.
import { z } from 'zod';

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds of `"15s"`, `"500ms"`, `"2m"`, `"1h"` or a bare number of milliseconds; undefined when unreadable. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const unit = (match[2] ?? 'ms') as keyof typeof UNIT_MS;
  return Math.round(Number(match[1]) * UNIT_MS[unit]);
}

/** A duration in milliseconds. */
export const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be a duration such as "15s", "500ms" or "2m"',
    });
    return z.NEVER;
  }
  return ms;
});

export const positiveDuration = duration.refine((ms) => ms > 0, 'must be longer than 0');

export const flag = z.union([z.boolean(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'boolean') return value;
  const text = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off', ''].includes(text)) return false;
  ctx.addIssue({ code: 'custom', message: 'must be true or false' });
  return z.NEVER;
});

export function integer(min: number, max: number) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const number = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(number) || number < min || number > max) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}` });
      return z.NEVER;
    }
    return number;
  });
}

export const port = integer(0, 65_535);
export const text = z.string().trim().min(1, 'must not be empty');
export const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Kubernetes namespace name (lower-case letters, digits, "-")')
  .max(63, 'must be at most 63 characters long');
export const dnsSubdomain = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Kubernetes object name (lower-case letters, digits, "-", ".")')
  .max(253, 'must be at most 253 characters long');

export const kubernetesSchema = z
  .strictObject({
    /** A kubeconfig file; when neither it nor inCluster is set: $KUBECONFIG, ~/.kube/config, then in-cluster. */
    kubeconfig: text.optional(),
    context: text.optional(),
    inCluster: flag.default(false),
  })
  .refine((k) => !(k.inCluster && k.kubeconfig), {
    message: 'set either kubeconfig or inCluster, not both',
    path: ['inCluster'],
  });

export const listenerSchema = (defaultPort: number) =>
  z.strictObject({ port: port.default(defaultPort), host: text.default('0.0.0.0') });

/**
 * The heap growth each process runs with (see heapSchema); 0 leaves it to V8. The watcher's heap is mostly its caches,
 * and what it allocates besides dies young, so a closer bound costs it few full collections; the worker allocates
 * faster and is bounded less closely.
 */
export const DEFAULT_HEAP_GROWTH_PERCENT = { worker: 50, watcher: 25 } as const;

export const logSchema = z
  .strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    pretty: flag.default(false),
  })
  .prefault({});

/**
 * How far, in percent, V8 lets a heap grow past what the last full garbage collection left live before it collects
 * again. V8's own factor goes up to 4x while a burst allocates fast, and the heap it grew stays long after the burst.
 */
export const heapSchema = (defaultPercent: number) =>
  z.strictObject({ growthPercent: integer(0, 400).default(defaultPercent) }).prefault({});

/** Bad configuration, with every problem on its own line, each naming the setting. */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(what: string, problems: string[]) {
    super(`invalid ${what} configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const where = path === '' ? '' : ` in ${path}`;
    return `unknown setting${issue.keys.length === 1 ? '' : 's'}${where}: ${issue.keys.join(', ')}`;
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${path}: is required`;
  const where = path === '' ? '(root)' : path;
  if (issue.code === 'invalid_value') return `${where}: must be one of ${issue.values.map(String).join(', ')}`;
  // zod's own messages name only types and limits; refinements here are phrased without the value.
  return `${where}: ${issue.message}`;
}

/** The validated configuration with defaults; throws a ConfigError naming each bad setting. */
export function parseConfig<S extends z.ZodType>(what: string, schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input ?? {}, { reportInput: true });
  if (parsed.success) return parsed.data;
  throw new ConfigError(what, parsed.error.issues.map(describeIssue));
}
