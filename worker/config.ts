// The worker's configuration: the connections, probes, metrics and logs every process has.
import { z } from 'zod';
import { temporalSettingsSchema } from '../client/connection.ts';
import { integer, kubernetesSchema, listenerSchema, logSchema, parseConfig } from '../operations/config-schema.ts';
import { processSettings, type Setting } from '../operations/settings.ts';

export const workerConfigSchema = z.strictObject({
  kubernetes: kubernetesSchema.prefault({}),
  temporal: temporalSettingsSchema.prefault({}),
  health: listenerSchema(8888).prefault({}),
  metrics: listenerSchema(9090).prefault({}),
  log: logSchema.prefault({}),
  workflowCache: z
    .strictObject({
      // Cached workflows answer their next task without replaying their history; each costs memory while cached.
      memoryMib: integer(0, 1_048_576).default(256),
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
];

export function parseWorkerConfig(input: unknown): WorkerConfig {
  return parseConfig('worker', workerConfigSchema, input);
}
