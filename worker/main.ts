// `arcane worker`: hosts the stream workflows and the Kubernetes activities; stateless, scaled by replicas.
import type { Command } from 'commander';
import { processCommand } from '../operations/run-process.ts';
import { parseWorkerConfig, WORKER_SETTINGS } from './config.ts';

export function workerCommand(env: NodeJS.ProcessEnv = process.env): Command {
  return processCommand({
    name: 'worker',
    description: 'Runs the stream workflows and their Kubernetes activities.',
    settings: WORKER_SETTINGS,
    parse: parseWorkerConfig,
    env,
    // Loaded once the configuration is read, so that only the worker process loads the Temporal SDK.
    start: async (config) => (await import('./run.ts')).runWorker(config),
  });
}

if (import.meta.main) await workerCommand().parseAsync();
