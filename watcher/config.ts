// The watcher's configuration: one schema that validates, fills defaults and types it. Values may come from
// environment variables and flags as strings ("15s", "true", "8888"), or from code as numbers and booleans.
import { z } from 'zod';
import { temporalSettingsSchema } from '../client/connection.ts';
import {
  dnsLabel,
  dnsSubdomain,
  duration,
  flag,
  DEFAULT_HEAP_GROWTH_PERCENT,
  heapSchema,
  integer,
  kubernetesSchema,
  listenerSchema,
  logSchema,
  parseConfig,
  positiveDuration,
  text,
} from '../operations/config-schema.ts';

export { ConfigError, parseDuration } from '../operations/config-schema.ts';

// Address, namespace, task queue, API key and TLS files: shared with the worker and the CLI. TLS is on when any TLS
// setting or the API key is given.
const temporalSchema = temporalSettingsSchema.extend({
  /** How often reachability is checked (readiness, and a resync when it comes back). */
  probeInterval: positiveDuration.default(5_000),
});

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
    /** A list with no answer for this long is abandoned and tried again (a hung request would stall the informer). */
    listTimeout: positiveDuration.default(60_000),
    restartBackoffInitial: positiveDuration.default(1_000),
    restartBackoffMax: positiveDuration.default(30_000),
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
    /** A stream's first notice waits this long for the events that follow it, so they wake its workflow once. */
    batchWindow: duration.default(100).refine((ms) => ms <= 10_000, 'must be at most 10s'),
  })
  .refine((s) => s.retryInitial <= s.retryMax, {
    message: 'retryInitial must not be longer than retryMax',
    path: ['retryInitial'],
  });

/** Lifecycle tunables handed to every stream workflow the watcher starts (SPEC 2.6); unset = the workflow's defaults. */
const lifecycleSchema = z.strictObject({
  restartBackoffInitial: positiveDuration.optional(),
  restartBackoffFactor: z
    .union([z.number(), z.string()])
    .transform(Number)
    .refine((factor) => Number.isFinite(factor) && factor >= 1, 'must be a number of at least 1')
    .optional(),
  restartBackoffCap: positiveDuration.optional(),
  /** 0 keeps upstream's behaviour: a failed stream stays Failed. */
  maxRestarts: integer(0, 1_000).optional(),
  stablePeriod: positiveDuration.optional(),
  recheck: positiveDuration.optional(),
  /** Continue-as-new past this many history events. */
  maxHistoryEvents: integer(50, 50_000).optional(),
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
  lifecycle: lifecycleSchema.prefault({}),
  log: logSchema.prefault({}),
  heap: heapSchema(DEFAULT_HEAP_GROWTH_PERCENT.watcher),
});

export type WatcherConfig = z.output<typeof watcherConfigSchema>;
export type WatcherConfigInput = z.input<typeof watcherConfigSchema>;

/** The validated configuration with defaults; throws a ConfigError naming each bad setting. */
export function parseWatcherConfig(input: unknown): WatcherConfig {
  return parseConfig('watcher', watcherConfigSchema, input);
}
