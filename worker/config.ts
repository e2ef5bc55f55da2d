// The worker's configuration: the connections, probes, metrics and logs every process has.
import { z } from 'zod';
import { temporalSettingsSchema } from '../client/connection.ts';
import { kubernetesSchema, listenerSchema, logSchema, parseConfig } from '../operations/config-schema.ts';
import { processSettings } from '../operations/settings.ts';

export const workerConfigSchema = z.strictObject({
  kubernetes: kubernetesSchema.prefault({}),
  temporal: temporalSettingsSchema.prefault({}),
  health: listenerSchema(8888).prefault({}),
  metrics: listenerSchema(9090).prefault({}),
  log: logSchema.prefault({}),
});

export type WorkerConfig = z.output<typeof workerConfigSchema>;

export const WORKER_SETTINGS = processSettings;

export function parseWorkerConfig(input: unknown): WorkerConfig {
  return parseConfig('worker', workerConfigSchema, input);
}
