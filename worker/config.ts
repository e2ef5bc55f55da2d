// The worker's configuration: the connections, probes, metrics and logs every process has.
import { z } from 'zod';
import { temporalSettingsSchema } from '../client/connection.ts';
import * as schema from '../operations/config-schema.ts';
import { processSettings, type Setting } from '../operations/settings.ts';

export const workerConfigSchema = z.strictObject({
  kubernetes: schema.kubernetesSchema.prefault({}),
  temporal: temporalSettingsSchema.prefault({}),
  health: schema.listenerSchema(8888).prefault({}),
  metrics: schema.listenerSchema(9090).prefault({}),
  log: schema.logSchema.prefault({}),
  heap: schema.heapSchema(schema.DEFAULT_HEAP_GROWTH_PERCENT.worker),
  workflowCache: z
    .strictObject({
      // Cached workflows answer their next task without replaying their history; each costs memory while cached.
      memoryMib: schema.integer(0, 1_048_576).default(256),
    })
    .prefault({}),
  /** The namespace the watcher watches (its setting of the same name): the worker caches only what is in it. */
  watchNamespace: schema.dnsLabel.optional(),
  observationCache: z
    .strictObject({
      // Observations read a cache kept by watches instead of the API server.
      enabled: schema.flag.default(true),
      // How long an observation waits for the cache to show what the workflow has seen before it reads the API server.
      catchUp: schema.positiveDuration.default(2_000),
    })
    .prefault({}),
});

export type WorkerConfig = z.output<typeof workerConfigSchema>;

export const WORKER_SETTINGS: readonly Setting[] = [
  ...processSettings,
  {
    path: 'workflowCache.memoryMib',
    help: 'memory (MiB) the cached workflows may take; sets how many stay cached, 0 turns the cache off',
  },
  { path: 'watchNamespace', help: "only this namespace's streams (the watcher's setting); default: all namespaces" },
  {
    path: 'observationCache.enabled',
    help: 'observe streams through a cache kept by watches (false: every observation reads the API server)',
  },
  {
    path: 'observationCache.catchUp',
    help: 'how long an observation waits for the cache to catch up before it reads the API server, e.g. 2s',
  },
];

export function parseWorkerConfig(input: unknown): WorkerConfig {
  return schema.parseConfig('worker', workerConfigSchema, input);
}
