// `arcane watcher`: configuration from flags and ARCANE_* / ARCANE_OPERATOR__* variables, JSON logs, and a clean
// stop on SIGTERM. `arcane watcher --help` lists every setting.
import type { Command } from 'commander';
import { limitHeapGrowth } from '../operations/heap.ts';
import { processLogger } from '../operations/logger.ts';
import { processCommand } from '../operations/run-process.ts';
import { SETTINGS } from './config-sources.ts';
import { parseWatcherConfig } from './config.ts';

export function watcherCommand(env: NodeJS.ProcessEnv = process.env): Command {
  return processCommand({
    name: 'watcher',
    description: 'Turns Kubernetes events about Arcane streams into signals on their Temporal workflows.',
    settings: SETTINGS,
    parse: parseWatcherConfig,
    env,
    start: async (config) => {
      limitHeapGrowth(config.heap.growthPercent);
      const log = processLogger(config.log, 'watcher');
      // The watcher handles its own failures; anything that slips through is logged rather than ending the process.
      process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled rejection'));
      // Loaded once the configuration is read, as the worker is: neither process loads the other's runtime.
      const { startWatcher } = await import('./watcher.ts');
      return startWatcher(config, { logger: log });
    },
  });
}

if (import.meta.main) await watcherCommand().parseAsync();
