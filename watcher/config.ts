// The watcher's configuration: one schema that validates, fills defaults and types it. Values may come from
// environment variables and flags as strings ("15s", "true", "8888"), or from code as numbers and booleans.
import { z } from 'zod';
import { temporalSettingsSchema } from '../client/connection.ts';

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
const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a duration such as "15s", "500ms" or "2m", not ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

const positiveDuration = duration.refine((ms) => ms > 0, 'must be longer than 0');

const flag = z.union([z.boolean(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'boolean') return value;
  const text = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off', ''].includes(text)) return false;
  ctx.addIssue({ code: 'custom', message: `must be true or false, not ${JSON.stringify(value)}` });
  return z.NEVER;
});

function integer(min: number, max: number) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const number = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(number) || number < min || number > max) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return number;
  });
}

const port = integer(0, 65_535);
const text = z.string().trim().min(1, 'must not be empty');
const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Kubernetes namespace name (lower-case letters, digits, "-")')
  .max(63, 'must be at most 63 characters long');
const dnsSubdomain = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Kubernetes object name (lower-case letters, digits, "-", ".")')
  .max(253, 'must be at most 253 characters long');

const kubernetesSchema = z
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

// Address, namespace, task queue, API key and TLS files: shared with the worker and the CLI. TLS is on when any TLS
// setting or the API key is given.
const temporalSchema = temporalSettingsSchema.extend({
  /** How often reachability is checked (readiness, and a resync when it comes back). */
  probeInterval: positiveDuration.default(5_000),
});

const listenerSchema = (defaultPort: number) =>
  z.strictObject({ port: port.default(defaultPort), host: text.default('0.0.0.0') });

const leaderElectionSchema = z
  .strictObject({
    /** Off: this replica always forwards (one replica only). */
    enabled: flag.default(true),
    namespace: dnsLabel.default('default'),
    name: dnsSubdomain.default('arcane-watcher'),
    /** Holder identity prefix (pod name); a random suffix is added. Default: the host name. */
    identity: text.optional(),
    leaseDuration: positiveDuration.default(15_000),
    renewPeriod: positiveDuration.default(5_000),
  })
  .refine((lease) => lease.renewPeriod < lease.leaseDuration, {
    message: 'renewPeriod must be shorter than leaseDuration (the leader would lose its lease between renewals)',
    path: ['renewPeriod'],
  })
  .refine((lease) => lease.leaseDuration >= 1_000, {
    message: 'leaseDuration must be at least 1s (a Lease counts whole seconds)',
    path: ['leaseDuration'],
  });

const informersSchema = z
  .strictObject({
    /** A watch with no sign of life (event, reconnect, list) for this long is restarted. */
    watchdogTimeout: positiveDuration.default(300_000),
    restartBackoffInitial: positiveDuration.default(1_000),
    restartBackoffMax: positiveDuration.default(60_000),
  })
  .refine((i) => i.restartBackoffInitial <= i.restartBackoffMax, {
    message: 'restartBackoffInitial must not be longer than restartBackoffMax',
    path: ['restartBackoffInitial'],
  });

const signalsSchema = z
  .strictObject({
    /** Signals sent to Temporal at the same time. */
    maxInFlight: integer(1, 10_000).default(32),
    retryInitial: positiveDuration.default(500),
    retryMax: positiveDuration.default(30_000),
    /** One attempt gives up after this long (the client would otherwise retry an unreachable server for long). */
    timeout: positiveDuration.default(10_000),
  })
  .refine((s) => s.retryInitial <= s.retryMax, {
    message: 'retryInitial must not be longer than retryMax',
    path: ['retryInitial'],
  });

export const watcherConfigSchema = z.strictObject({
  kubernetes: kubernetesSchema.prefault({}),
  /** Watch streams, requests and Jobs of this namespace only (StreamClasses are cluster-wide). Default: all. */
  watchNamespace: dnsLabel.optional(),
  temporal: temporalSchema.prefault({}),
  health: listenerSchema(8888).prefault({}),
  metrics: listenerSchema(9090).prefault({}),
  leaderElection: leaderElectionSchema.prefault({}),
  informers: informersSchema.prefault({}),
  signals: signalsSchema.prefault({}),
  /** Events arriving within this delay share one resync. */
  resyncDelay: duration.default(500),
  /** A BackfillRequest whose stream is not (yet) seen is marked StreamNotFound only after this long. */
  backfillRequestGrace: duration.default(2_000),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      pretty: flag.default(false),
    })
    .prefault({}),
});

export type WatcherConfig = z.output<typeof watcherConfigSchema>;
export type WatcherConfigInput = z.input<typeof watcherConfigSchema>;

/** Bad configuration, with every problem on its own line, each naming the setting. */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid watcher configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
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
  return `${path === '' ? '(root)' : path}: ${issue.message}`;
}

/** The validated configuration with defaults; throws a ConfigError naming each bad setting. */
export function parseWatcherConfig(input: unknown): WatcherConfig {
  const parsed = watcherConfigSchema.safeParse(input ?? {}, { reportInput: true });
  if (parsed.success) return parsed.data;
  throw new ConfigError(parsed.error.issues.map(describeIssue));
}
